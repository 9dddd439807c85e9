"""One typed, immutable view of the cluster, taken once per use: placement, the
failover gate, ``status``, the GUI's view and ``simulate`` all read the same kind of
value, so none of them can disagree with another about who is alive or what runs where.

A lone server's snapshot is a cluster of one (``of_lone_server``); a cluster member
builds its own from its membership (``engine.cluster.ClusterMember.snapshot``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from standfast.model.config import ClusterConfig
from standfast.model.states import State


@dataclass(frozen=True)
class QuorumStatus:
    has_quorum: bool = True
    votes: int = 1
    needed: int = 0
    mode: str = "none"


@dataclass(frozen=True)
class ClusterSnapshot:
    local: str
    config: ClusterConfig
    alive: frozenset[str]  # includes the local server
    # server -> tag -> state, for every alive server (the local one included)
    states: Mapping[str, Mapping[str, State]]
    blocked: frozenset[str] = frozenset()
    quorum: bool = True
    # Servers that came back recently (automatic switchback triggers).
    rejoined: frozenset[str] = frozenset()
    busy_equivs: frozenset[str] = frozenset()
    # server -> tag -> wall-clock time its copy came into service
    since: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    # What status and the GUI show besides what placement needs.
    name: str = ""
    servers: tuple[str, ...] = ()  # every defined server, sorted
    reasons: Mapping[str, str] = field(default_factory=dict)  # the local server's
    paths: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # peer -> net -> state
    quorum_status: QuorumStatus = QuorumStatus()
    busy: frozenset[str] = frozenset()  # local tags held by an action
    started: float = 0.0
    pending_confirmations: tuple[Mapping[str, object], ...] = ()
    clustered: bool = False
    # peer -> (configuration version, digest) from its last heartbeat report, for the
    # alive peers (readiness: is this server's configuration current?)
    peer_configs: Mapping[str, tuple[int, str]] = field(default_factory=dict)
    heartbeats: Mapping[str, int] = field(default_factory=dict)  # datagram counters
    # peer -> network -> the last heartbeat round trip measured (seconds)
    round_trips: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    # quorum etcd: the endpoint, this server's lease, who holds each hierarchy (by tag)
    arbiter: Mapping[str, object] = field(default_factory=dict)
    # quorum etcd: live peers whose heartbeats say they hold no lease. Quorum is each
    # server's own there (not a shared majority), so a live peer may lack it; it can
    # take nothing, and placement passes over it.
    without_quorum: frozenset[str] = frozenset()
    # Servers whose daemon is stopping (this one included): they hand their hierarchies
    # over and take none (engine/leave.py).
    leaving: frozenset[str] = frozenset()

    @classmethod
    def of_lone_server(cls, core: _CoreLike) -> ClusterSnapshot:
        return cls(
            local=core.server,
            config=core.config,
            alive=frozenset({core.server}),
            states={core.server: dict(core.states)},
            since={core.server: core.since_roots()},
            servers=(core.server,),
            reasons=dict(core.reasons),
            busy=frozenset(core.busy),
            started=core.started,
        )

    def state(self, server: str, tag: str) -> State:
        """``server``'s instance as known here; UNKNOWN for a server not alive."""
        if server not in self.alive:
            return State.UNKNOWN
        return self.states.get(server, {}).get(tag, State.UNKNOWN)


class _CoreLike(Protocol):  # what a lone snapshot reads of EngineCore (no import cycle)
    server: str
    config: ClusterConfig
    states: dict[str, State]
    reasons: dict[str, str]
    busy: set[str]
    started: float

    def since_roots(self) -> dict[str, float]: ...


__all__ = ["ClusterSnapshot", "QuorumStatus"]
