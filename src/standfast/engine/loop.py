"""The control loop: one decision list per cycle from one snapshot (``decide``), each
decision carried out off the loop; then the role's per-cycle work (in a cluster:
heartbeats, replication, placement), and the standby copies' preparation for a
takeover (``engine.standby``).

Contracts:
- A cycle never waits on an action: actions are spawned, and a check skips a busy
  hierarchy (its lock is tried for 0.01 s) instead of waiting.
- ``last_cycle_at`` moves after every completed cycle; a watchdog pets only while it
  moves (a hung or starved loop stops it).
- An action that fails unexpectedly is logged and the loop goes on.
- A check's next one is due on the tag's slot (``engine.schedule.next_due``): at most
  one interval after it ended, so checks of resources that came into service together
  spread over the interval instead of firing in the same cycle for ever.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable
from contextlib import suppress

from standfast.engine.core import EngineCore
from standfast.engine.decide import Decision, DecisionKind, Snapshot, decide
from standfast.engine.hierarchy import HierarchyOps
from standfast.engine.role import TICK, ClusterRole
from standfast.engine.schedule import next_due
from standfast.engine.standby import StandbyPreparer
from standfast.host import power
from standfast.host.starved import HostStarved, starved
from standfast.kits.base import ActionLog, CheckResult
from standfast.kits.registry import get_kit
from standfast.messages import Notice, StandfastError
from standfast.model.config import ClusterConfig, Operation, SetTarget
from standfast.model.states import State

log = logging.getLogger("standfast.engine")

STARVED_LOG_EVERY = 60.0  # seconds between two 190420 lines for one resource


class _Every:
    """Allows one thing per key every ``seconds`` (repeated log lines)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._last: dict[str, float] = {}

    def allow(self, key: str) -> bool:
        now = time.monotonic()
        if now - self._last.get(key, -self.seconds) < self.seconds:
            return False
        self._last[key] = now
        return True


class ControlLoop:
    def __init__(self, core: EngineCore, hierarchy: HierarchyOps, role: ClusterRole) -> None:
        self.core = core
        self.hierarchy = hierarchy
        self.role = role
        self.last_decisions: list[Decision] = []
        self.last_cycle_at = time.monotonic()
        #: Called after every completed cycle (the daemon pets its watchdog here); each
        #: must return at once.
        self.after_cycle: list[Callable[[], None]] = []
        #: Called with (tag, deep, ok, seconds) after every check that ran (the metrics
        #: count them); each must return at once, an exception is logged.
        self.check_observers: list[Callable[[str, bool, bool, float], None]] = []
        self._stop = asyncio.Event()
        self._starved_log = _Every(STARVED_LOG_EVERY)
        # Local tags in maintenance at the last cycle: leaving it resumes their checks.
        self._maintained: frozenset[str] = frozenset()
        self._capable_of: ClusterConfig | None = None
        self._capable: frozenset[str] = frozenset()
        #: Readies this server's copies for a takeover (engine/standby.py).
        self.standby = StandbyPreparer(core)

    def snapshot(self) -> Snapshot:
        core = self.core
        return Snapshot(
            now=time.monotonic(),
            server=core.server,
            config=core.config,
            states=dict(core.states),
            next_quick=dict(core.next_quick),
            next_deep=dict(core.next_deep),
            busy=frozenset(core.busy),
            failures=dict(core.failures),
            recovery_tried=frozenset(core.recovery_tried),
            recover_capable=self._recover_capable(),
        )

    def _recover_capable(self) -> frozenset[str]:
        """This server's tags whose kit can recover in place: computed once per
        configuration (a kit's ``supports_recover`` is a class constant), not every
        cycle (issue 12: no per-cycle work proportional to the resources)."""
        config = self.core.config
        if self._capable_of is not config:
            graph = config.graph(self.core.server)
            self._capable = frozenset(
                t for t, r in graph.resources.items() if get_kit(r.kit).supports_recover
            )
            self._capable_of = config
        return self._capable

    async def run(self) -> None:
        await self.role.on_start()
        while not self._stop.is_set():
            self._note_maintenance()
            decisions = decide(self.snapshot(), self.core.tunables)
            if decisions:
                self.last_decisions = decisions
            for d in decisions:
                self.core.spawn(self._act(d))
            await self.role.cycle()
            self.standby.cycle()
            self.last_cycle_at = time.monotonic()
            for hook in self.after_cycle:
                hook()
            with suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=TICK)

    def _note_maintenance(self) -> None:
        """Checks of the tags that just left maintenance start from a fresh schedule
        (on this server, whichever server turned maintenance off)."""
        core = self.core
        now = core.config.maintained_tags(core.server)
        for tag in sorted(self._maintained - now):
            if (core.server, tag) in core.config.resources:
                core.resume_checks(tag)
        self._maintained = now

    def stop(self) -> None:
        self._stop.set()
        self.core.cancel_tasks()

    async def _act(self, d: Decision) -> None:
        try:
            if d.kind in (DecisionKind.CHECK, DecisionKind.DEEP_CHECK):
                await self._check(d.tag, deep=d.kind == DecisionKind.DEEP_CHECK)
            elif d.kind == DecisionKind.RECOVER:
                await self._recover(d.tag)
            elif d.kind == DecisionKind.HALT:
                await self._halt(d.tag)
            else:
                await self._fail_hierarchy(d.tag)
        except StandfastError as exc:
            if exc.code != "190204":
                log.error(exc.text("en"))
        except Exception:  # the loop must survive a bug in one action
            log.exception("action %s on %s failed", d.kind, d.tag)

    async def _check(self, tag: str, *, deep: bool) -> None:
        core = self.core
        res = core.resource(tag)
        kit = get_kit(res.kit)
        ctx = core.context()
        fn = kit.deep_check if deep else kit.quick_check
        # The outer bound covers the guide's three stat tries within LKNFSTIMEOUT.
        deadline = float(core.tunables.LKNFSTIMEOUT) + 5.0
        async with core.hold(core.graph().hierarchy(tag), wait=0.01):
            if core.states.get(tag) != State.ISP:
                return
            started = time.monotonic()
            result: CheckResult | None
            try:
                result = await core.call(
                    lambda: fn(ctx, res), deadline=deadline, action="check", tag=tag
                )
            except Exception as exc:
                result = self._check_error(tag, exc)
            now = time.monotonic()
            if result is not None:  # a check that could not run is not counted
                self._observe_check(tag, deep, result.ok, now - started)
            # On the tag's slot (engine/schedule.py): at most one interval from now.
            if deep:
                core.next_deep[tag] = next_due(tag, core.tunables.SF_DEEPCHECK_INTERVAL, now)
            core.next_quick[tag] = next_due(tag, core.tunables.SF_QUICKCHECK_INTERVAL, now)
            if result is not None and not result.ok:
                notice = result.notice()
                if notice is not None:
                    log.error(notice.text("en"))
                core.set_state(tag, State.ISU, result.code)
                core.failures[tag] = result
                data = {k: str(v) for k, v in result.params.items()}
                core.event(
                    "check_failed", tag, result.code, {**data, "nas_access": result.nas_access}
                )

    def _check_error(self, tag: str, exc: Exception) -> CheckResult | None:
        """A check that raised: a numbered refusal is its failure; the daemon's own
        shortage (host/starved.py) is no verdict (None: the state stays, the check runs
        again at its interval; 190420, at most once a minute per resource)."""
        if starved(exc):
            if isinstance(exc, HostStarved):
                reason = exc.reason
            else:
                reason = os.strerror(exc.errno) if isinstance(exc, OSError) and exc.errno else ""
            if self._starved_log.allow(tag):
                notice = Notice.of("190420", tag=tag, server=self.core.server, reason=reason)
                log.warning(notice.text("en"))
            return None
        if isinstance(exc, StandfastError):
            return CheckResult(False, exc.code, exc.params)
        raise exc

    def _observe_check(self, tag: str, deep: bool, ok: bool, seconds: float) -> None:
        for observer in self.check_observers:
            try:
                observer(tag, deep, ok, seconds)
            except Exception:  # an observer's bug must not fail the check
                log.exception("check observer %r failed", observer)

    async def _recover(self, tag: str) -> None:
        core = self.core
        res = core.resource(tag)
        kit = get_kit(res.kit)
        alog = ActionLog()
        ctx = core.context(alog)
        async with core.hold(core.graph().hierarchy(tag), wait=0.01):
            core.recovery_tried.add(tag)
            alog.line(f'recover: BEGIN recovery of "{tag}" on server "{core.server}"')
            try:
                ok = await core.call(
                    lambda: kit.recover(ctx, res),
                    deadline=core.tunables.SF_ACTION_TIMEOUT,
                    action="recover",
                    tag=tag,
                )
            except Exception as exc:
                if not starved(exc):
                    raise
                core.recovery_tried.discard(tag)  # not tried: it could not run
                self._check_error(tag, exc)
                return
            if ok:
                alog.line(f'recover: END successful recovery of "{tag}" on server "{core.server}"')
                core.set_state(tag, State.ISP)
                core.schedule_checks(tag)
                core.event("recovered", tag, "")
            else:
                alog.line(f'recover: END failed recovery of "{tag}" on server "{core.server}"')

    async def _halt(self, tag: str) -> None:
        core = self.core
        log.critical(Notice.of("190410", tag=tag, server=core.server).text("en"))
        core.event("halt", tag, " ".join(core.tunables.SF_HALT_COMMAND))
        core.failures.pop(tag, None)
        await halt_host(core, tag)

    async def _fail_hierarchy(self, tag: str) -> None:
        """No backup server to move to (single server): take the hierarchy down, leaving
        the failed resource and everything that depends on it OSF."""
        core = self.core
        graph = core.graph()
        hierarchy = graph.hierarchy(tag)
        failed = {tag} | graph.ancestors(tag)
        root = graph.hierarchy_roots(tag)[0]
        alog = ActionLog()
        async with core.hold(hierarchy, wait=0.01):
            result = core.failures.pop(tag, None)
            alog.add("190411", tag=tag, root=root)
            if result is not None and result.blocks_failover:
                # Before the remove: a peer must not see it down and still wanted.
                await self._unwant(tag)
            await self.hierarchy.remove(hierarchy, alog, fail=failed)
        core.event("failed", root, f"{tag}: {core.reasons.get(tag, '')}")

    async def _unwant(self, tag: str) -> None:
        """A configuration error no server can mend: the hierarchies above ``tag`` are
        no longer wanted in service (one replicated change), so no other server tries
        them; the operator corrects the properties and brings them in service."""
        core = self.core
        graph = core.graph()
        ops: list[Operation] = []
        for root in graph.hierarchy_roots(tag):
            equiv = core.resource(root).equiv
            if core.config.wanted(equiv):
                ops.append(SetTarget(equiv, False, core.config.target(equiv).server))
        if ops:
            await core.apply(ops, guarded=False)
            core.event("unwanted", tag, "configuration error: no failover until corrected")


HALT_TIMEOUT = 30.0  # seconds the halt command may take


async def halt_host(core: EngineCore, tag: str) -> None:
    """Halt this server through the action runner (SF_HALT_COMMAND, bounded by
    ``power.halt_deadline``); a halt that fails is logged (190501), never raised."""
    try:
        await core.call(
            lambda: power.halt(core.tunables.SF_HALT_COMMAND, timeout=HALT_TIMEOUT),
            deadline=power.halt_deadline(HALT_TIMEOUT),
            action="halt",
            tag=tag,
        )
    except StandfastError as exc:
        log.critical(exc.text("en"))
