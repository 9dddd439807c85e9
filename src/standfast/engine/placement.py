"""Where each hierarchy should be in service: pure, deterministic, from one view.

A hierarchy is named by the equivalency of its root (every server's copy of the
root shares it). For each hierarchy the highest-priority eligible server serves
it; eligible means alive, not blocked by its administrator, and not holding a
failed (OSF) copy. This server only ever decides for itself: restore here, or
give up a copy here. Another server, seeing the same view, reaches the matching
decision for itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from standfast.model.config import ClusterConfig
from standfast.model.resources import Resource
from standfast.model.states import State, Switchback


class PlacementKind(StrEnum):
    RESTORE = "restore"  # nobody serves it and this server is first in line
    SWITCHBACK = "switchback"  # give it up so a returning higher-priority server takes it
    RESOLVE_SPLIT = "resolve_split"  # served twice: the lower-priority copy goes down


@dataclass(frozen=True)
class Placement:
    kind: PlacementKind
    equiv: str
    tag: str  # the local root tag
    target: str  # the server expected to serve it afterwards
    reason: str = ""


@dataclass(frozen=True)
class ClusterView:
    local: str
    config: ClusterConfig
    alive: frozenset[str]  # includes the local server
    # server -> tag -> state, for every alive server (the local one included)
    states: Mapping[str, Mapping[str, State]]
    blocked: frozenset[str] = frozenset()
    quorum: bool = True
    # Servers that came back since the last cycle (automatic switchback triggers).
    rejoined: frozenset[str] = frozenset()
    busy_equivs: frozenset[str] = frozenset()
    # server -> tag -> wall-clock time its copy came into service
    since: Mapping[str, Mapping[str, float]] = field(default_factory=dict)


def hierarchy_roots(config: ClusterConfig, server: str) -> dict[str, Resource]:
    """The root resources on ``server``, by equivalency."""
    graph = config.graph(server)
    return {graph.resources[t].equiv: graph.resources[t] for t in graph.roots()}


def _state(view: ClusterView, server: str, tag: str) -> State:
    return view.states.get(server, {}).get(tag, State.UNKNOWN)


def copies(view: ClusterView, equiv: str) -> list[Resource]:
    """Every server's copy of a hierarchy's root, best priority first."""
    return view.config.equivalents(equiv)


def holders(view: ClusterView, equiv: str) -> list[Resource]:
    return [
        r
        for r in copies(view, equiv)
        if r.server in view.alive and _state(view, r.server, r.tag).in_service
    ]


def eligible(view: ClusterView, equiv: str) -> list[Resource]:
    return [
        r
        for r in copies(view, equiv)
        if r.server in view.alive
        and r.server not in view.blocked
        and _state(view, r.server, r.tag) != State.OSF
    ]


def place(view: ClusterView) -> list[Placement]:
    out: list[Placement] = []
    for equiv, mine in sorted(hierarchy_roots(view.config, view.local).items()):
        if equiv in view.busy_equivs:
            continue
        serving = holders(view, equiv)
        if len(serving) > 1:
            # The copy that came into service last acted on the newest view (it took
            # over from a server that was cut off or hung); the stale one goes down.
            keeper = max(
                serving,
                key=lambda r: (view.since.get(r.server, {}).get(r.tag, 0.0), -r.priority),
            )
            if mine in serving and mine != keeper:
                out.append(
                    Placement(
                        PlacementKind.RESOLVE_SPLIT,
                        equiv,
                        mine.tag,
                        keeper.server,
                        "in service on several servers",
                    )
                )
            continue
        if not view.config.wanted(equiv):
            continue
        if not serving:
            if not view.quorum:
                continue
            candidates = eligible(view, equiv)
            preferred = view.config.target(equiv).server
            # Where the operator last put it wins while it can take it (a switchover in
            # flight must not be undone by the higher-priority server it left).
            candidates.sort(key=lambda r: r.server != preferred)
            if candidates and candidates[0].server == view.local:
                out.append(Placement(PlacementKind.RESTORE, equiv, mine.tag, view.local))
            continue
        if serving[0] == mine and mine.switchback == Switchback.AUTOMATIC:
            better = [
                r
                for r in eligible(view, equiv)
                if r.priority < mine.priority and r.server in view.rejoined
            ]
            if better:
                out.append(
                    Placement(
                        PlacementKind.SWITCHBACK,
                        equiv,
                        mine.tag,
                        better[0].server,
                        "higher-priority server is back",
                    )
                )
    return out
