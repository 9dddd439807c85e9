"""Where each hierarchy should be in service: pure, deterministic, from one view.

A hierarchy is named by the equivalency of its root (every server's copy of the
root shares it). For each hierarchy the highest-priority eligible server serves
it; eligible means alive, not blocked by its administrator, not in standby and not
holding a failed (OSF) copy, not stopping its daemon, and (quorum etcd) holding a
lease. While a stopping server's copy has any resource in service or failed (it may
still run), not only its root, nobody else restores the hierarchy. A hierarchy in
maintenance (its own or the cluster's) is left as it is: no restore, no switchback, no
split resolved. A server in standby gives its copies up while another server is
eligible to take them.
This server only ever decides for itself: restore here, or give up a copy here.
Another server, seeing the same view, reaches the matching decision for itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from standfast.engine.snapshot import ClusterSnapshot
from standfast.model.config import ClusterConfig
from standfast.model.resources import Resource
from standfast.model.states import State, Switchback


class PlacementKind(StrEnum):
    RESTORE = "restore"  # nobody serves it and this server is first in line
    SWITCHBACK = "switchback"  # give it up so a returning higher-priority server takes it
    RESOLVE_SPLIT = "resolve_split"  # served twice: the lower-priority copy goes down
    STANDBY = "standby"  # this server is in standby: give it up to the next server


@dataclass(frozen=True)
class Placement:
    kind: PlacementKind
    equiv: str
    tag: str  # the local root tag
    target: str  # the server expected to serve it afterwards
    reason: str = ""


#: Placement reads the engine's one cluster snapshot.
ClusterView = ClusterSnapshot


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


def still_stopping(view: ClusterView, equiv: str) -> list[str]:
    """Live servers whose daemon is stopping while some resource of their copy of the
    hierarchy is in service or failed (it may still run): nobody else restores it until
    they have taken all of it down, or are gone (then the rules of a failure apply)."""
    out = []
    for r in copies(view, equiv):
        if r.server not in view.leaving or r.server not in view.alive:
            continue
        for t in view.config.graph(r.server).hierarchy(r.tag):
            state = _state(view, r.server, t)
            if state.in_service or state is State.OSF:
                out.append(r.server)
                break
    return out


def eligible(view: ClusterView, equiv: str) -> list[Resource]:
    return [
        r
        for r in copies(view, equiv)
        if r.server in view.alive
        and r.server not in view.blocked
        and not view.config.standby(r.server)
        and r.server not in view.without_quorum
        and r.server not in view.leaving
        and _state(view, r.server, r.tag) != State.OSF
    ]


def place(view: ClusterView) -> list[Placement]:
    out: list[Placement] = []
    for equiv, mine in sorted(hierarchy_roots(view.config, view.local).items()):
        if equiv in view.busy_equivs or view.config.in_maintenance(equiv):
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
            if not view.quorum or still_stopping(view, equiv):
                continue
            candidates = eligible(view, equiv)
            preferred = view.config.target(equiv).server
            # Where the operator last put it wins while it can take it (a switchover in
            # flight must not be undone by the higher-priority server it left).
            candidates.sort(key=lambda r: r.server != preferred)
            if candidates and candidates[0].server == view.local:
                out.append(Placement(PlacementKind.RESTORE, equiv, mine.tag, view.local))
            continue
        if serving[0] == mine and view.config.standby(view.local):
            others = eligible(view, equiv)
            others.sort(key=lambda r: r.server != view.config.target(equiv).server)
            # Only while another server can take it: standby never stops a hierarchy
            # (the action refuses the last server unless --force; docs/maintenance.md).
            if others:
                out.append(
                    Placement(
                        PlacementKind.STANDBY,
                        equiv,
                        mine.tag,
                        others[0].server,
                        "this server is in standby",
                    )
                )
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
