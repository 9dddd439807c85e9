"""One decision per cycle from one snapshot: pure, so tests assert on it directly."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from standfast.config.tunables import Tunables
from standfast.kits.base import CheckResult
from standfast.model.config import ClusterConfig
from standfast.model.states import State


class DecisionKind(StrEnum):
    CHECK = "check"  # run a resource's quick check
    DEEP_CHECK = "deep_check"
    RECOVER = "recover"  # local recovery in place
    HALT = "halt"  # LKNASERROR=halt: halt this server now
    FAIL_HIERARCHY = "fail_hierarchy"  # take the hierarchy down, the failed part OSF


@dataclass(frozen=True)
class Decision:
    kind: DecisionKind
    tag: str
    reason: str = ""


@dataclass(frozen=True)
class Snapshot:
    now: float
    server: str
    config: ClusterConfig
    states: Mapping[str, State]
    next_quick: Mapping[str, float]
    next_deep: Mapping[str, float]
    busy: frozenset[str]
    # Check failures reported since the last cycle, by tag.
    failures: Mapping[str, CheckResult] = field(default_factory=dict)
    # Tags whose local recovery was already tried for the current failure.
    recovery_tried: frozenset[str] = frozenset()
    recover_capable: frozenset[str] = frozenset()


def decide(snap: Snapshot, tunables: Tunables) -> list[Decision]:
    """Checks due and failures to handle. A resource of a hierarchy in maintenance
    (``ClusterConfig.maintained_tags``) gets neither: no check runs, and a failure
    seen before maintenance began waits, unhandled, until it ends."""
    out: list[Decision] = []
    graph = snap.config.graph(snap.server)
    maintained = snap.config.maintained_tags(snap.server)
    handled: set[str] = set()
    for tag in sorted(snap.failures):
        if tag in snap.busy or tag not in graph.resources or tag in maintained:
            continue
        result = snap.failures[tag]
        hierarchy = graph.hierarchy(tag)
        if hierarchy & handled:
            continue
        if (
            tag in snap.recover_capable
            and tag not in snap.recovery_tried
            and not result.blocks_failover
        ):
            out.append(Decision(DecisionKind.RECOVER, tag, result.code))
        elif result.nas_access and tunables.LKNASERROR == "halt":
            out.append(Decision(DecisionKind.HALT, tag, result.code))
            return out  # nothing else matters once this server halts
        else:
            out.append(Decision(DecisionKind.FAIL_HIERARCHY, tag, result.code))
        handled |= hierarchy
    for tag in sorted(graph.resources):
        if tag in snap.busy or tag in snap.failures or snap.states.get(tag) != State.ISP:
            continue
        if tag in maintained:
            continue
        if snap.next_deep.get(tag, 0.0) <= snap.now:
            out.append(Decision(DecisionKind.DEEP_CHECK, tag))
        elif snap.next_quick.get(tag, 0.0) <= snap.now:
            out.append(Decision(DecisionKind.CHECK, tag))
    return out
