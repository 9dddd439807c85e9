"""Carrying out placements in a cluster: what the failover gate allows, with the
bookkeeping the gate reads (last holders, releases in flight, confirmations, fences).

Contracts:
- ``execute`` never raises: a refusal or an error is logged; the next cycle tries again.
- Fencing runs in the action runner (``host.power.fence``) within its plan's deadline,
  which covers every configured attempt and its confirmation;
  a failed fence is retried after ``gate.FENCE_RETRY`` seconds.
- A failover records one ``failover`` event with its timeline (detection, decision,
  each restore step); a restore that was not a failover records ``restore``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from standfast.cluster.definition import ClusterDef, fence_config
from standfast.cluster.fencing import fence, fence_plan
from standfast.engine.core import EngineCore
from standfast.engine.gate import FENCE_RETRY, Confirmation, GateDecision
from standfast.engine.hierarchy import HierarchyOps
from standfast.engine.membership import Membership
from standfast.engine.placement import Placement, PlacementKind
from standfast.host import power
from standfast.kits.base import ActionLog
from standfast.messages import Notice, StandfastError

log = logging.getLogger("standfast.engine")


@dataclass
class TakeoverBook:
    """What this server remembers between cycles for the gate."""

    last_holder: dict[str, str] = field(default_factory=dict)  # equiv -> server
    hold_off: dict[str, tuple[str, float]] = field(default_factory=dict)
    confirmations: dict[str, Confirmation] = field(default_factory=dict)
    fenced: set[str] = field(default_factory=set)
    fence_retry_at: dict[str, float] = field(default_factory=dict)
    quiet_until: float = 0.0
    rejoined: dict[str, float] = field(default_factory=dict)  # server -> when (monotonic)
    placing: set[str] = field(default_factory=set)  # equivs with an execution in flight
    counted: set[str] = field(default_factory=set)  # counted in a live peer's partition
    # server -> since when no live peer counts it (set when it stops being counted)
    uncounted_since: dict[str, float] = field(default_factory=dict)
    peer_watchdog: dict[str, float] = field(default_factory=dict)  # server -> its timeout
    ever_alive: set[str] = field(default_factory=set)  # heard since this daemon started
    # equiv -> the peer that took it wholly down as its daemon stopped (engine/leave.py)
    left_clean: dict[str, str] = field(default_factory=dict)


class FailoverExecutor:
    def __init__(
        self,
        core: EngineCore,
        hierarchy: HierarchyOps,
        members: Membership,
        definition: ClusterDef,
        book: TakeoverBook,
    ) -> None:
        self.core = core
        self.hierarchy = hierarchy
        self.members = members
        self.definition = definition
        self.book = book

    def ask_confirmation(self, p: Placement, decision: GateDecision) -> None:
        """Register a pending failover confirmation (the gate said CONFIRM)."""
        conf = self.definition.confirm_failover
        timeout = float(conf.get("timeout", 30))
        self.book.confirmations[p.equiv] = Confirmation(
            tag=p.tag, previous=decision.previous, deadline=time.monotonic() + timeout
        )
        self.core.event(
            "confirm_pending",
            p.tag,
            f"failover from {decision.previous} awaits an answer",
            {"timeout": timeout},
        )

    async def execute(self, p: Placement, decision: GateDecision) -> None:
        try:
            if decision.confirmed:
                self.book.confirmations.pop(p.equiv, None)
            hierarchy = self.core.graph().hierarchy(p.tag)
            if p.kind is PlacementKind.RESTORE:
                if decision.verdict == "fence" and not await self.fence(decision.previous):
                    return
                await self._failover_restore(
                    p, hierarchy, decision.previous, handover=decision.rule == "left"
                )
            else:
                if p.kind is PlacementKind.SWITCHBACK:
                    log.info(Notice.of("193015", tag=p.tag, target=p.target).text("en"))
                    self.book.rejoined.pop(p.target, None)
                await self.hierarchy.release(hierarchy, p.reason or str(p.kind))
        except StandfastError as exc:
            if exc.code != "190204":
                log.error(exc.text("en"))
        except Exception:
            log.exception("placement %s of %s failed", p.kind, p.tag)
        finally:
            self.book.placing.discard(p.equiv)

    async def fence(self, previous: str) -> bool:
        """STONITH before taking over a failed server's hierarchies."""
        config = fence_config(self.definition)
        if config is None or previous in self.book.fenced:
            return True
        core = self.core
        core.event("fence", previous, "fencing")
        started = time.monotonic()
        plan = fence_plan(previous, config)
        if plan is None:
            result = fence(previous, config)  # logs 192047, returns at once: nothing to run
        else:
            result = await core.call(
                lambda: power.fence(plan), deadline=plan.deadline, action="fence", tag=previous
            )
        if result.ok:
            self.book.fenced.add(previous)
            # Not a switchback target until it has come back for real (a restart).
            self.book.rejoined.pop(previous, None)
            data: dict[str, object] = {"seconds": round(result.elapsed, 3)}
            data["confirmed"] = result.confirmed
            core.event("fenced", previous, result.detail or "fenced", data)
            return True
        self.book.fence_retry_at[previous] = started + FENCE_RETRY
        log.error("%s: fencing of %s failed: %s", result.code or "192043", previous, result.detail)
        core.event("fence_failed", previous, result.detail or result.code)
        return False

    async def _failover_restore(
        self, p: Placement, hierarchy: set[str], previous: str, *, handover: bool = False
    ) -> None:
        """``handover``: the previous holder took it down as its daemon stopped; this is
        a switchover, not a failover (no 193014, no failover_begun)."""
        core = self.core
        from_peer = bool(previous) and previous != core.server
        failing_over = from_peer and not handover
        detected = self.members.failed_at.get(previous) if failing_over else None
        heard = self.members.last_heard_at.get(previous) if previous else None
        decided = time.monotonic()
        if failing_over and detected is not None:
            log.warning(
                Notice.of("193014", peer=previous, tag=p.tag, target=core.server).text("en")
            )
        if failing_over:
            # Announced before the restore: an administrator hears of it while it runs.
            core.event(
                "failover_begun",
                p.tag,
                f"{previous} -> {core.server}",
                {"from": previous, "to": core.server},
            )
        alog = ActionLog()
        steps: list[dict[str, object]] = []
        async with core.hold(hierarchy, wait=0.05):
            await self.hierarchy.restore(hierarchy, alog, steps=steps)
        done = time.monotonic()
        data: dict[str, object] = {
            "from": previous,
            "to": core.server,
            "steps": steps,
            "decision_at": time.time() - (done - decided),
            "restore_seconds": round(done - decided, 3),
        }
        if detected is not None:
            data["detected_at"] = time.time() - (done - detected)
            data["detect_to_in_service_seconds"] = round(done - detected, 3)
            if heard is not None and heard <= detected:
                data["last_heard_at"] = time.time() - (done - heard)
                data["outage_seconds"] = round(done - heard, 3)
        kind = "switchover" if handover else "failover" if from_peer else "restore"
        if handover:
            data["reason"] = f"{previous} stopped its daemon"
        core.event(kind, p.tag, f"{previous or '-'} -> {core.server}", data)
