"""Which events to show: the filter of ``standfast events`` and ``/v1/events/history``,
and the retention rule of the lasting history. Pure: no I/O, ``now`` is passed in.

Contracts:
- ``parse_time`` takes ISO 8601 (a time without an offset is local time) or a time ago
  (``30s``, ``15m``, ``2h``, ``7d``, ``4w``, or ``now``); anything else is 196001.
- ``EventQuery.checked`` refuses a bad query with its numbered message (196002 since
  after until, 196003 limit, 196004 kind or tag) and changes nothing.
- ``EventQuery.select`` keeps the newest ``limit`` matching records, oldest first.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from standfast.messages import StandfastError

#: Most events one query returns (and one backup carries): the highest retention count.
LIMIT_MAX = 1_000_000
DEFAULT_LIMIT = 100
#: Event kinds are the engine's own words (``failover``, ``state``, ``server_failed``).
_KIND = re.compile(r"[a-z][a-z0-9_]{0,63}")
_AGO = re.compile(r"([0-9]{1,9})\s*([smhdw])")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 7 * 86_400}
_TAG_MAX = 256
#: Earliest and latest times a query may name (years 1970 to 9999, in seconds).
_TS_MAX = 253_402_300_799.0


class EventLike(Protocol):
    @property
    def ts(self) -> float: ...
    @property
    def kind(self) -> str: ...
    @property
    def tag(self) -> str: ...


def parse_time(text: str, option: str, now: float) -> float:
    """``text`` as a wall-clock time (seconds since the epoch); 196001 when it is neither
    ISO 8601 nor a time ago."""
    value = text.strip()
    if value.lower() == "now":
        return now
    ago = _AGO.fullmatch(value.lower())
    if ago is not None:
        return now - int(ago.group(1)) * _UNIT[ago.group(2)]
    if len(value) > 64 or not value[:1].isdigit():
        raise StandfastError("196001", value=text, option=option, reason=_REASON)
    try:
        moment = datetime.fromisoformat(value)
        ts = moment.timestamp()  # naive: local time, as the operator reads the log
    except (ValueError, OverflowError, OSError):
        raise StandfastError("196001", value=text, option=option, reason=_REASON) from None
    if not 0.0 <= ts <= _TS_MAX:
        raise StandfastError("196001", value=text, option=option, reason="out of range")
    return ts


_REASON = "not an ISO 8601 time nor a time ago"


def check_kind(kind: str) -> str:
    if not _KIND.fullmatch(kind):
        raise StandfastError(
            "196004", field="kind", value=kind[:80], reason="use lower-case letters, digits, _"
        )
    return kind


def check_tag(tag: str) -> str:
    if not tag or len(tag) > _TAG_MAX or "\x00" in tag:
        raise StandfastError(
            "196004", field="tag", value=tag[:80], reason="1 to 256 characters, no NUL"
        )
    return tag


@dataclass(frozen=True)
class EventQuery:
    since: float | None = None
    until: float | None = None
    kinds: tuple[str, ...] = ()
    tag: str | None = None
    limit: int = DEFAULT_LIMIT

    def checked(self) -> EventQuery:
        """This query, or the numbered refusal of its first bad part."""
        for name, value in (("--since", self.since), ("--until", self.until)):
            if value is not None and not (math.isfinite(value) and 0.0 <= value <= _TS_MAX):
                raise StandfastError("196001", value=value, option=name, reason="out of range")
        if self.since is not None and self.until is not None and self.since > self.until:
            raise StandfastError("196002", since=_shown(self.since), until=_shown(self.until))
        if isinstance(self.limit, bool) or not 1 <= self.limit <= LIMIT_MAX:
            raise StandfastError("196003", limit=self.limit, maximum=LIMIT_MAX)
        for k in self.kinds:
            check_kind(k)
        if self.tag is not None:
            check_tag(self.tag)
        return self

    def matches(self, e: EventLike) -> bool:
        return (
            (self.since is None or e.ts >= self.since)
            and (self.until is None or e.ts <= self.until)
            and (not self.kinds or e.kind in self.kinds)
            and (self.tag is None or e.tag == self.tag)
        )

    def select(self, records: Iterable[EventLike]) -> list[EventLike]:
        """The newest ``limit`` matching records, oldest first."""
        hits = sorted((e for e in records if self.matches(e)), key=lambda e: e.ts)
        return hits[-self.limit :]

    def to_params(self) -> dict[str, object]:
        """The query string of ``/v1/events/history`` (see ``from_params``)."""
        out: dict[str, object] = {"limit": self.limit}
        if self.since is not None:
            out["since"] = repr(self.since)
        if self.until is not None:
            out["until"] = repr(self.until)
        if self.kinds:
            out["kind"] = list(self.kinds)
        if self.tag is not None:
            out["tag"] = self.tag
        return out

    @classmethod
    def from_params(
        cls,
        since: float | None,
        until: float | None,
        kinds: Sequence[str],
        tag: str | None,
        limit: int,
    ) -> EventQuery:
        return cls(since, until, tuple(kinds), tag, limit).checked()


def _shown(ts: float) -> str:
    return datetime.fromtimestamp(ts).isoformat(sep=" ", timespec="seconds")


@dataclass(frozen=True)
class Retention:
    """Keep at most ``keep`` events and none older than ``days`` days."""

    keep: int
    days: int

    def cutoff(self, now: float) -> float:
        """Events older than this (wall clock) are dropped."""
        return now - self.days * 86_400.0

    def kept(self, timestamps: Sequence[float], now: float) -> list[float]:
        """What the rule keeps of ``timestamps``, oldest first (the reference the
        database's pruning is tested against)."""
        young = sorted(t for t in timestamps if t >= self.cutoff(now))
        return young[-self.keep :] if self.keep else []


def event_from_backup(item: object, index: int) -> tuple[float, str, str, str, str]:
    """One event of a backup's ``events`` list as a database row (ts, kind, tag, detail,
    data as JSON text); 196005 naming the entry when it is not one."""
    import json

    def bad(why: str) -> StandfastError:
        return StandfastError("196005", detail=f"events[{index}]: {why}")

    if not isinstance(item, Mapping):
        raise bad("not an object")
    ts, kind, tag = item.get("ts"), item.get("kind"), item.get("tag")
    detail, data = item.get("detail", ""), item.get("data", {})
    if isinstance(ts, bool) or not isinstance(ts, int | float) or not math.isfinite(ts):
        raise bad("ts must be a number")
    if not 0.0 <= float(ts) <= _TS_MAX:
        raise bad("ts out of range")
    if not isinstance(kind, str) or not _KIND.fullmatch(kind):
        raise bad("kind must be lower-case letters, digits and _")
    if not isinstance(tag, str) or len(tag) > _TAG_MAX:
        raise bad("tag must be a string of at most 256 characters")
    if not isinstance(detail, str) or len(detail) > 4096:
        raise bad("detail must be a string of at most 4096 characters")
    if not isinstance(data, Mapping):
        raise bad("data must be an object")
    return float(ts), kind, tag, detail, json.dumps(data, sort_keys=True, default=str)
