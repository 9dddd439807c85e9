"""What a server tells its peers in every heartbeat: one typed report, encoded and
decoded here and nowhere else.

The wire keys are short because the report rides in every datagram (every 0.3 s on
every comm path): ``v`` configuration version, ``dg`` its digest, ``q`` whether the
sender holds quorum, ``st`` the state of each of its resource instances except OSU
(the usual state of a backup, left unsaid to keep large configurations within one
datagram), ``sn`` when each of its in-service roots came into service (wall clock),
``se`` the servers it hears (fresh, itself included), ``pt`` the partition it counts
itself in (its agreed membership: see ``engine/partition.py``), ``wd`` its watchdog
timeout in seconds (0: none), ``lv`` 1 while its daemon is stopping (it hands its
hierarchies over and takes none: ``engine/leave.py``; left out otherwise).

Decoding never raises: a peer running another release, or a damaged field, yields
the best report that can be read (unknown states read as UNKNOWN, bad numbers as
absent), because one odd peer must not stop this server's cycle.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from standfast.model.states import State


def says_leaving(payload: Mapping[str, Any]) -> bool:
    """Whether a heartbeat payload says its sender's daemon is stopping (``lv``)."""
    return payload.get("lv") == 1


@dataclass(frozen=True)
class HeartbeatReport:
    """One server's published view of itself."""

    version: int = 0
    digest: str = ""
    quorum: bool = False
    # tag -> state, OSU left out (read back as OSU for the sender's known copies)
    states: Mapping[str, State] = field(default_factory=dict)
    # root tag -> wall-clock time it came into service on the sender
    since: Mapping[str, float] = field(default_factory=dict)
    sees: frozenset[str] = frozenset()  # servers the sender hears now, itself included
    partition: frozenset[str] = frozenset()  # the membership the sender counts itself in
    watchdog: float = 0.0  # the sender's watchdog timeout (0: none)
    leaving: bool = False  # the sender's daemon is stopping (engine/leave.py)

    def encode(self) -> dict[str, Any]:
        """The JSON object carried in the heartbeat payload."""
        out: dict[str, Any] = {
            "v": self.version,
            "dg": self.digest,
            "q": int(self.quorum),
            "st": {t: str(s) for t, s in sorted(self.states.items()) if s is not State.OSU},
            "sn": {t: round(v, 3) for t, v in sorted(self.since.items())},
            "se": sorted(self.sees),
            "pt": sorted(self.partition),
            "wd": self.watchdog,
        }
        if self.leaving:
            out["lv"] = 1
        return out

    @classmethod
    def decode(cls, payload: Mapping[str, Any] | None) -> HeartbeatReport | None:
        """The report in a peer's payload; None when nothing was heard yet."""
        if not payload:
            return None
        return cls(
            version=_int(payload.get("v")),
            digest=str(payload.get("dg", "") or ""),
            quorum=bool(payload.get("q", 0)),
            states=_states(payload.get("st")),
            since=_since(payload.get("sn")),
            sees=_names(payload.get("se")),
            partition=_names(payload.get("pt")),
            watchdog=_seconds(payload.get("wd")),
            leaving=says_leaving(payload),
        )

    def states_of(self, tags: Iterable[str]) -> dict[str, State]:
        """The state of each of ``tags`` (the sender's copies): OSU for those it left
        unsaid, plus whatever else it reported."""
        return {**{t: State.OSU for t in tags}, **self.states}


def _int(value: object) -> int:
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return value
    try:
        return int(str(value or 0))
    except ValueError:
        return 0


def _names(raw: object) -> frozenset[str]:
    return frozenset(str(n) for n in raw) if isinstance(raw, list) else frozenset()


def _seconds(raw: object) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        return 0.0
    value = float(raw)
    return value if 0.0 <= value <= 3600.0 else 0.0


def _states(raw: object) -> dict[str, State]:
    out: dict[str, State] = {}
    if isinstance(raw, dict):
        for tag, s in raw.items():
            try:
                out[str(tag)] = State(str(s))
            except ValueError:
                out[str(tag)] = State.UNKNOWN
    return out


def _since(raw: object) -> dict[str, float]:
    out: dict[str, float] = {}
    if isinstance(raw, dict):
        for tag, v in raw.items():
            try:
                out[str(tag)] = float(v)
            except (TypeError, ValueError):
                continue
    return out


__all__ = ["HeartbeatReport"]
