"""The failover gate: may this server carry out a placement now? Pure and
deterministic, beside ``place``: placement says where a hierarchy should be, the gate
says whether this server may act on it yet, and why not.

Rules, in the order they apply (each verdict names its rule; tests are table-driven):

- ``settling``: after start this server has not yet heard every live peer; it does
  nothing (it must not take what another server still runs).
- Only restores are gated further; giving a copy up (switchback, a split resolved) is
  always safe.
- ``quorum``: no restore without quorum (placement already holds this; the gate says so
  again so that no other path can bypass it).
- ``arbiter``: with quorum etcd, the hierarchy's holder key names another server: its
  lease still lives, whatever the heartbeats say (it is released, or expires with that
  server's lease; the watch sees either at once).
- ``quiet``: a peer just joined or quorum just came back: the peers' published states
  may predate the change, so restores wait out the quiet period.
- ``hold_off``: this server released the hierarchy to a peer that is bringing it up;
  it must not take it back before the peer's heartbeats say so, unless the peer died.
- ``left``: the previous holder's daemon stopped after taking the hierarchy wholly out
  of service (its last heartbeats said so, ``engine/leave.py``): it runs none of it, so
  no confirmation, partition wait, watchdog wait or fence applies; restore now.
- The previous holder (the last server seen holding it, or, when none was seen, the
  best-priority copy on a server declared failed since) being a failed peer, then:
  - ``confirm``: failover confirmation configured: ask the operator (``CONFIRM``), wait
    for the answer until the timeout, then apply the default; ``block`` waits for good.
  - ``partition``: without fencing, while another live server still counts the
    previous holder in its partition (a non-transitive cut), the holder may still have
    quorum: wait until none does, and ``counted_margin`` seconds more (under majority
    quorum the holder may keep its quorum from an older report for one fresh window,
    then needs one cycle to give the hierarchy up: ``partition.takeover_margin``).
  - ``watchdog``: without fencing, a previous holder with a watchdog may be hung,
    not dead: wait its watchdog timeout (plus a margin) from when it was declared
    failed; by then it has reset.
  - ``fence``: fencing configured: the previous holder is fenced first (``FENCE``);
    after a failed fence, wait ``FENCE_RETRY`` seconds before the next try.
- ``go``: restore now.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from standfast.engine.placement import Placement, PlacementKind
from standfast.model.config import ClusterConfig

FENCE_RETRY = 10.0  # seconds after a failed fence before the next attempt


class Verdict(StrEnum):
    GO = "go"
    WAIT = "wait"
    FENCE = "fence"  # fence the previous holder, then restore
    CONFIRM = "confirm"  # ask the operator first


@dataclass(frozen=True)
class Confirmation:
    """A failover waiting for the operator's answer."""

    tag: str
    previous: str
    deadline: float  # monotonic
    answer: str = ""  # "", "proceed" or "block"


@dataclass(frozen=True)
class GateFacts:
    now: float  # monotonic
    local: str
    settled: bool = True
    quorum: bool = True
    alive: frozenset[str] = frozenset()
    quiet_until: float = 0.0
    # equiv -> (the peer it was released to, until when it is held off)
    hold_off: Mapping[str, tuple[str, float]] = field(default_factory=dict)
    last_holder: Mapping[str, str] = field(default_factory=dict)
    failed: frozenset[str] = frozenset()  # peers declared failed (and when not since back)
    fencing: bool = False
    fenced: frozenset[str] = frozenset()
    fence_retry_at: Mapping[str, float] = field(default_factory=dict)
    confirm_timeout: float | None = None  # None: no failover confirmation configured
    confirm_default: str = "proceed"
    confirmations: Mapping[str, Confirmation] = field(default_factory=dict)
    # Servers a live peer counts in its partition now, and since when (monotonic) no
    # live peer has counted each server that was counted before.
    counted: frozenset[str] = frozenset()
    uncounted_since: Mapping[str, float] = field(default_factory=dict)
    counted_margin: float = 0.3
    # server -> (when it was declared failed, its watchdog timeout + margin)
    watchdog_wait: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    # equiv -> server holding its key in etcd (None: no arbiter configured).
    arbiter_holders: Mapping[str, str] | None = None
    # equiv -> the server that took it wholly down as its daemon stopped (until that
    # server is heard again without stopping).
    left_clean: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class GateDecision:
    verdict: Verdict
    rule: str
    reason: str = ""
    previous: str = ""  # the previous holder considered ("" when none)
    # The operator's answer was used: the pending confirmation is done with.
    confirmed: bool = False


def previous_holder(equiv: str, config: ClusterConfig, facts: GateFacts) -> str:
    """Who held the hierarchy last: as seen, or else the best-priority copy on a server
    declared failed (it failed right after a change, before it was seen holding it)."""
    seen = facts.last_holder.get(equiv, "")
    if seen:
        return seen
    for copy in config.equivalents(equiv):
        if copy.server != facts.local and copy.server in facts.failed - facts.alive:
            return copy.server
    return ""


def gate(p: Placement, config: ClusterConfig, facts: GateFacts) -> GateDecision:
    if not facts.settled:
        return GateDecision(Verdict.WAIT, "settling", "not every live peer heard yet")
    if p.kind is not PlacementKind.RESTORE:
        return GateDecision(Verdict.GO, "go", "giving a copy up is always safe")
    if not facts.quorum:
        return GateDecision(Verdict.WAIT, "quorum", "no quorum")
    if facts.arbiter_holders is not None:
        holder = facts.arbiter_holders.get(p.equiv, "")
        if holder and holder != facts.local:
            return GateDecision(
                Verdict.WAIT, "arbiter", f"held by {holder} in etcd until its lease ends", holder
            )
    if facts.now < facts.quiet_until:
        return GateDecision(
            Verdict.WAIT, "quiet", f"quiet period ({facts.quiet_until - facts.now:.1f} s left)"
        )
    held = facts.hold_off.get(p.equiv)
    if held is not None and facts.now < held[1] and held[0] in facts.alive:
        return GateDecision(Verdict.WAIT, "hold_off", f"released to {held[0]}, coming up there")
    previous = previous_holder(p.equiv, config, facts)
    if previous and previous != facts.local and facts.left_clean.get(p.equiv) == previous:
        return GateDecision(
            Verdict.GO, "left", f"{previous} took it down as its daemon stopped", previous
        )
    failed_peer = bool(previous) and previous != facts.local and previous not in facts.alive
    if not failed_peer:
        return GateDecision(Verdict.GO, "go", "", previous)
    confirmed = False
    if facts.confirm_timeout is not None:
        pending = facts.confirmations.get(p.equiv)
        if pending is None:
            return GateDecision(
                Verdict.CONFIRM, "confirm", f"failover from {previous} needs an answer", previous
            )
        answer = pending.answer or (facts.confirm_default if facts.now >= pending.deadline else "")
        if not answer:
            return GateDecision(
                Verdict.WAIT, "confirm", f"awaiting the operator's answer ({previous})", previous
            )
        if answer == "block":
            return GateDecision(Verdict.WAIT, "confirm", "blocked by the operator", previous)
        confirmed = True
    if not facts.fencing:
        since = facts.uncounted_since.get(previous)
        if previous in facts.counted or (
            since is not None and facts.now < since + facts.counted_margin
        ):
            return GateDecision(
                Verdict.WAIT,
                "partition",
                f"a live peer still counts {previous} in its partition",
                previous,
                confirmed,
            )
        wd = facts.watchdog_wait.get(previous)
        if wd is not None and facts.now < wd[0] + wd[1]:
            left = wd[0] + wd[1] - facts.now
            return GateDecision(
                Verdict.WAIT,
                "watchdog",
                f"{previous} resets by its watchdog within {left:.1f} s",
                previous,
                confirmed,
            )
    if facts.fencing and previous not in facts.fenced:
        retry = facts.fence_retry_at.get(previous, 0.0)
        if facts.now < retry:
            return GateDecision(
                Verdict.WAIT,
                "fence",
                f"fencing of {previous} failed; next try in {retry - facts.now:.1f} s",
                previous,
                confirmed,
            )
        return GateDecision(Verdict.FENCE, "fence", f"fence {previous} first", previous, confirmed)
    return GateDecision(Verdict.GO, "go", f"{previous} failed", previous, confirmed)
