"""The engine: one server's control loop and the operator actions it serves.

The loop reads one snapshot per cycle and acts on the decisions ``decide``
returns. Operator requests (from the API) and the loop share per-resource locks,
so two actions never run on one hierarchy at once; checks skip a busy hierarchy
instead of waiting.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping, Sequence
from contextlib import asynccontextmanager, suppress
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from functools import update_wrapper
from typing import Any, Concatenate, ParamSpec, TypeVar

from standfast.config.paths import Paths
from standfast.config.tunables import Tunables
from standfast.engine.decide import Decision, DecisionKind, Snapshot, decide
from standfast.engine.runner import ActionRunner
from standfast.host import system
from standfast.kits.base import ActionLog, CheckResult, CreateRequest, KitContext
from standfast.kits.registry import get_kit
from standfast.messages import Notice, StandfastError
from standfast.model.config import (
    AddDependency,
    AddResource,
    ClusterConfig,
    DeleteDependency,
    DeleteResource,
    Operation,
    SetTarget,
    UpdateResource,
)
from standfast.model.graph import ServerGraph
from standfast.model.resources import Dependency, PropValue, Resource
from standfast.model.states import State, Switchback
from standfast.model.tags import validate_priority
from standfast.store.database import Store

log = logging.getLogger("standfast.engine")

TICK = 0.2  # seconds between cycles; checks have their own intervals

P = ParamSpec("P")
R = TypeVar("R")
E = TypeVar("E", bound="Engine")
_action_log: ContextVar[ActionLog] = ContextVar("standfast_action_log")


def operator_action(
    fn: Callable[Concatenate[E, P], Coroutine[Any, Any, R]],
) -> Callable[Concatenate[E, P], Coroutine[Any, Any, R]]:
    """Gives the action a fresh log; a refusal carries what was logged before it."""

    async def wrapper(self: E, /, *args: P.args, **kwargs: P.kwargs) -> R:
        alog = ActionLog()
        token = _action_log.set(alog)
        try:
            result = await fn(self, *args, **kwargs)
            if isinstance(result, ActionOutcome):
                result.transcript = alog.transcript
            return result
        except StandfastError as exc:
            exc.notices = [*alog.notices, *exc.notices]
            raise
        finally:
            _action_log.reset(token)

    update_wrapper(wrapper, fn)
    return wrapper


@dataclass
class ActionOutcome:
    """What an operator action did, for the API's reply."""

    notices: list[Notice] = field(default_factory=list)
    result: dict[str, object] = field(default_factory=dict)
    transcript: list[str] = field(default_factory=list)


@dataclass
class EventRecord:
    ts: float
    kind: str
    tag: str
    detail: str
    data: dict[str, object] = field(default_factory=dict)


class Engine:
    def __init__(self, server: str, store: Store, tunables: Tunables, paths: Paths) -> None:
        self.server = server
        self.store = store
        self.tunables = tunables
        self.paths = paths
        self.runner = ActionRunner()
        self.config = store.config()
        stored = store.states(server)
        self.states: dict[str, State] = {
            tag: stored[tag].state if tag in stored else State.OSU
            for (srv, tag) in self.config.resources
            if srv == server
        }
        self.reasons: dict[str, str] = {t: s.reason for t, s in stored.items()}
        # When each resource came into service (wall clock), for timelines and split-brain.
        self.stored_since: dict[str, float] = {
            t: s.updated for t, s in stored.items() if s.state.in_service
        }
        self._locks: dict[str, asyncio.Lock] = {}
        self._busy: set[str] = set()
        self._next_quick: dict[str, float] = {}
        self._next_deep: dict[str, float] = {}
        self._failures: dict[str, CheckResult] = {}
        self._recovery_tried: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.events: list[EventRecord] = []
        self.started = time.time()
        self.last_decisions: list[Decision] = []
        self._stop = asyncio.Event()

    # -- helpers ---------------------------------------------------------------

    def context(self, alog: ActionLog | None = None) -> KitContext:
        return KitContext(self.server, self.tunables, self.paths, alog or ActionLog())

    def graph(self) -> ServerGraph:
        return self.config.graph(self.server)

    def resource(self, tag: str) -> Resource:
        return self.config.get(self.server, tag)

    def _set_state(self, tag: str, state: State, reason: str = "") -> None:
        if self.states.get(tag) == state and self.reasons.get(tag, "") == reason:
            return
        self.states[tag] = state
        self.reasons[tag] = reason
        if state.in_service and tag not in self.stored_since:
            self.stored_since[tag] = time.time()
        elif not state.in_service:
            self.stored_since.pop(tag, None)
        self.store.set_state(self.server, tag, state, reason)
        self._event("state", tag, f"{state}" + (f" ({reason})" if reason else ""))

    def _event(
        self, kind: str, tag: str, detail: str, data: dict[str, object] | None = None
    ) -> None:
        self.events.append(EventRecord(time.time(), kind, tag, detail, data or {}))
        del self.events[:-500]

    async def _store(self, ops: Sequence[Operation]) -> ClusterConfig:
        """Apply one versioned change here, then let the cluster know."""
        self.config = self.store.apply(ops, origin=self.server)
        await self.config_changed()
        return self.config

    async def config_changed(self) -> None:
        """Hook: a cluster engine pushes the new configuration to its peers."""

    async def before_in_service(self, tag: str, alog: ActionLog) -> None:
        """Hook: a cluster engine records the target and takes the hierarchy from
        another server first (a switchover)."""

    async def before_out_of_service(self, tag: str, alog: ActionLog) -> None:
        """Hook: a cluster engine records that the hierarchy should stay down."""

    async def delete_copies_elsewhere(self, doomed: set[str], alog: ActionLog) -> list[Operation]:
        """Hook: a cluster engine deletes the other servers' copies too (after checking
        none is in service); returns the operations that remove them."""
        return []

    async def aclose(self) -> None:
        """Hook: release what start-up acquired (sockets of a cluster engine)."""

    @asynccontextmanager
    async def _hold(self, tags: set[str], *, wait: float) -> AsyncIterator[None]:
        """Lock every tag of a hierarchy, in sorted order so two holders never deadlock."""
        held: list[asyncio.Lock] = []
        try:
            for tag in sorted(tags):
                lock = self._locks.setdefault(tag, asyncio.Lock())
                try:
                    await asyncio.wait_for(lock.acquire(), timeout=wait)
                except TimeoutError:
                    raise StandfastError("190204", tag=min(tags)) from None
                held.append(lock)
            self._busy |= tags
            yield
        finally:
            self._busy -= tags
            for lock in held:
                lock.release()

    async def _kit_call(
        self, action: str, res: Resource, alog: ActionLog, deadline: float | None = None
    ) -> None:
        kit = get_kit(res.kit)
        ctx = self.context(alog)
        fn = getattr(kit, action)
        await self.runner.call(
            lambda: fn(ctx, res),
            deadline=deadline or self.tunables.SF_ACTION_TIMEOUT,
            action=action,
            tag=res.tag,
        )

    # -- restore / remove of hierarchies --------------------------------------------

    async def _restore_tags(
        self, tags: set[str], alog: ActionLog, *, steps: list[dict[str, object]] | None = None
    ) -> None:
        """Children first; on failure roll back only what this call brought up.
        ``steps`` receives each restore's start and end (wall clock) for timelines."""
        graph = self.graph()
        started: list[str] = []
        for tag in graph.start_order(tags):
            if self.states.get(tag, State.OSU).in_service:
                continue
            res = self.resource(tag)
            alog.line(f'restore: BEGIN restore of "{tag}" on server "{self.server}"')
            began = time.time()
            try:
                await self._kit_call("restore", res, alog)
            except StandfastError as exc:
                alog.add(exc.code, **exc.params)
                alog.add("000023", tag=tag, server=self.server)
                self._set_state(tag, State.OSF, exc.code)
                for done in reversed(started):
                    try:
                        await self._kit_call("remove", self.resource(done), alog)
                        self._set_state(done, State.OSU)
                    except StandfastError as exc2:
                        alog.add(exc2.code, **exc2.params)
                        self._set_state(done, State.OSF, exc2.code)
                root = graph.hierarchy_roots(tag)[0]
                raise StandfastError("000022", tag=root, server=self.server) from None
            started.append(tag)
            if steps is not None:
                steps.append({"tag": tag, "kit": res.kit, "began": began, "ended": time.time()})
            self._set_state(tag, State.ISP)
            self._schedule_checks(tag)
            alog.line(f'restore: END successful restore of "{tag}" on server "{self.server}"')

    async def _remove_tags(self, tags: set[str], alog: ActionLog, *, fail: set[str]) -> bool:
        """Parents first. ``fail`` are the resources to leave OSF rather than OSU."""
        graph = self.graph()
        ok = True
        for tag in graph.stop_order(tags):
            state = self.states.get(tag, State.OSU)
            if not state.in_service and tag not in fail:
                continue
            res = self.resource(tag)
            alog.line(f'remove: BEGIN remove of "{tag}" on server "{self.server}"')
            try:
                await self._kit_call("remove", res, alog)
            except StandfastError as exc:
                ok = False
                alog.add(exc.code, **exc.params)
                alog.line(f'remove: END failed remove of "{tag}" on server "{self.server}"')
                self._set_state(tag, State.OSF, exc.code)
                continue
            self._set_state(tag, State.OSF if tag in fail else State.OSU)
            alog.line(f'remove: END successful remove of "{tag}" on server "{self.server}"')
        return ok

    def _schedule_checks(self, tag: str) -> None:
        now = time.monotonic()
        self._next_quick[tag] = now + self.tunables.SF_QUICKCHECK_INTERVAL
        self._next_deep[tag] = now + self.tunables.SF_DEEPCHECK_INTERVAL
        self._failures.pop(tag, None)
        self._recovery_tried.discard(tag)

    # -- operator actions ----------------------------------------------------------------

    @operator_action
    async def create(
        self,
        kit_name: str,
        *,
        tag: str | None,
        rid: str | None,
        switchback: Switchback,
        props: Mapping[str, PropValue],
    ) -> ActionOutcome:
        kit = get_kit(kit_name)
        alog = _action_log.get()
        req = CreateRequest(kit_name, tag, rid, switchback, props)
        ctx = self.context(alog)
        plan = await self.runner.call(
            lambda: kit.plan_create(ctx, req, self.config),
            deadline=self.tunables.SF_ACTION_TIMEOUT,
            action="create",
            tag=tag or rid or kit_name,
        )
        for r in plan.resources:
            alog.line(f'create: BEGIN creation of "{r.tag}" on server "{self.server}"')
            alog.add("190704", tag=r.tag, id=r.id, server=self.server)
        for d in plan.dependencies:
            alog.add("190705", parent=d.parent, child=d.child, server=self.server)
        # Locked before they exist: the control loop must not bring the new hierarchy
        # in service on its own between the store and the restore below.
        new = {r.tag for r in plan.resources} | {d.child for d in plan.dependencies}
        async with self._hold(new, wait=self.tunables.SF_ACTION_TIMEOUT):
            try:
                await self._store(
                    [AddResource(r) for r in plan.resources]
                    + [AddDependency(d) for d in plan.dependencies]
                )
            except StandfastError:
                alog.add("000024", tag=plan.root, server=self.server)
                raise
            for r in plan.resources:
                self.states.setdefault(r.tag, State.OSU)
                self._set_state(r.tag, State.OSU)
            # The guide brings a new hierarchy in service as part of its creation.
            tags = self.graph().hierarchy(plan.root)
            try:
                async with self._hold(tags - new, wait=self.tunables.SF_ACTION_TIMEOUT):
                    await self._restore_tags(tags, alog)
            except StandfastError as exc:
                alog.add(exc.code, **exc.params)
                for r in reversed(plan.resources):
                    alog.add("000021", tag=r.tag, server=self.server)
                await self._store(
                    [DeleteDependency(d) for d in plan.dependencies]
                    + [DeleteResource(self.server, r.tag) for r in reversed(plan.resources)]
                )
                for r in plan.resources:
                    self.states.pop(r.tag, None)
                raise StandfastError("000024", tag=plan.root, server=self.server) from None
        for r in plan.resources:
            await self.runner.call(
                lambda r=r: get_kit(r.kit).after_create(ctx, r),  # type: ignore[misc]
                deadline=self.tunables.SF_ACTION_TIMEOUT,
                action="create",
                tag=r.tag,
            )
            alog.line(f'create: END successful creation of "{r.tag}" on server "{self.server}"')
        self._event("create", plan.root, ", ".join(r.tag for r in plan.resources))
        return ActionOutcome(
            alog.notices, {"root": plan.root, "created": [r.tag for r in plan.resources]}
        )

    @operator_action
    async def delete(self, tag: str) -> ActionOutcome:
        """Delete the hierarchy under ``tag`` (``tag`` and everything it depends on that
        nothing else uses); it must be out of service."""
        graph = self.graph()
        self.resource(tag)
        if graph.parents(tag):
            raise StandfastError(
                "190015", tag=tag, parents=", ".join(graph.parents(tag)), server=self.server
            )
        doomed = {tag} | {
            d
            for d in graph.descendants(tag)
            if graph.ancestors(d) <= graph.descendants(tag) | {tag}
        }
        for t in doomed:
            if self.states.get(t, State.OSU).in_service:
                raise StandfastError("190016", tag=t, server=self.server)
        alog = _action_log.get()
        async with self._hold(graph.hierarchy(tag), wait=self.tunables.SF_ACTION_TIMEOUT):
            elsewhere = await self.delete_copies_elsewhere(doomed, alog)
            order = graph.stop_order(doomed)
            for t in order:
                res = self.resource(t)
                alog.line(f'delete: BEGIN deletion of "{t}" on server "{self.server}"')
                await self.runner.call(
                    lambda res=res: get_kit(res.kit).delete(self.context(alog), res),  # type: ignore[misc]
                    deadline=self.tunables.SF_ACTION_TIMEOUT,
                    action="delete",
                    tag=t,
                )
            await self._store([DeleteResource(self.server, t) for t in order] + elsewhere)
            for t in order:
                self.states.pop(t, None)
                alog.line(f'delete: END successful deletion of "{t}" on server "{self.server}"')
        self._event("delete", tag, ", ".join(order))
        return ActionOutcome(alog.notices, {"deleted": order})

    @operator_action
    async def in_service(self, tag: str) -> ActionOutcome:
        self.resource(tag)
        alog = _action_log.get()
        graph = self.graph()
        # In service of a resource brings up what it depends on, children first.
        tags = {tag} | graph.descendants(tag)
        async with self._hold(graph.hierarchy(tag), wait=self.tunables.SF_ACTION_TIMEOUT):
            await self.before_in_service(tag, alog)
            await self._restore_tags(tags, alog)
        self._event("in_service", tag, "")
        return ActionOutcome(alog.notices, {"in_service": graph.start_order(tags)})

    @operator_action
    async def out_of_service(self, tag: str) -> ActionOutcome:
        self.resource(tag)
        alog = _action_log.get()
        graph = self.graph()
        # Out of service takes down what depends on it first, parents first.
        tags = {tag} | graph.ancestors(tag)
        async with self._hold(graph.hierarchy(tag), wait=self.tunables.SF_ACTION_TIMEOUT):
            await self.before_out_of_service(tag, alog)
            if not await self._remove_tags(tags, alog, fail=set()):
                raise StandfastError(
                    "000026", action="remove", tag=tag, server=self.server, signal="failure"
                )
        self._event("out_of_service", tag, "")
        return ActionOutcome(alog.notices, {"out_of_service": graph.stop_order(tags)})

    @operator_action
    async def update(
        self,
        tag: str,
        *,
        props: Mapping[str, PropValue],
        switchback: Switchback | None,
        priority: int | None,
    ) -> ActionOutcome:
        res = self.resource(tag)
        kit = get_kit(res.kit)
        new_props = kit.validate_edit(res, props)
        new = replace(res, props=new_props)
        if switchback is not None:
            new = replace(new, switchback=switchback)
        if priority is not None:
            new = replace(new, priority=validate_priority(priority))
        await self._store([UpdateResource(new)])
        self._event("update", tag, "")
        return ActionOutcome([], {"resource": self.resource(tag).to_dict()})

    @operator_action
    async def restore_config(self, data: Mapping[str, object]) -> ActionOutcome:
        """Replace the configuration with a backup, as one new version. Refused while
        anything is in service here, and checked like every change (tags, cycles,
        kit properties)."""
        alog = _action_log.get()
        in_service = sorted(t for t, s in self.states.items() if s.in_service)
        if in_service:
            raise StandfastError("190016", tag=in_service[0], server=self.server)
        try:
            backup = ClusterConfig.from_dict(data)
        except (KeyError, TypeError, ValueError) as exc:
            raise StandfastError("190206", detail=f"not a configuration backup: {exc}") from None
        for r in backup.resources.values():
            get_kit(r.kit).validate(r.props)
        ops: list[Operation] = [DeleteResource(s, t) for (s, t) in self._delete_order()]
        for srv in backup.servers():
            g = backup.graph(srv)
            ops += [AddResource(g.resources[t]) for t in g.start_order(set(g.resources))]
        ops += [AddDependency(d) for d in sorted(backup.dependencies)]
        ops += [SetTarget(e, t.in_service, t.server) for e, t in sorted(backup.targets.items())]
        await self._store(ops)
        for srv, tag in self.config.resources:
            if srv == self.server:
                self.states.setdefault(tag, State.OSU)
        for tag in [t for t in self.states if (self.server, t) not in self.config.resources]:
            del self.states[tag]
        self._event("config", self.server, f"restored a backup as version {self.config.version}")
        return ActionOutcome(
            alog.notices, {"version": self.config.version, "resources": len(self.config.resources)}
        )

    def _delete_order(self) -> list[tuple[str, str]]:
        """Every resource, parents before children on each server (safe to delete)."""
        out: list[tuple[str, str]] = []
        for srv in self.config.servers():
            g = self.config.graph(srv)
            out += [(srv, t) for t in g.stop_order(set(g.resources))]
        return out

    @operator_action
    async def add_dependency(self, parent: str, child: str) -> ActionOutcome:
        """Make ``child`` a dependency of ``parent`` here and, as the guide's wizard
        does, on every other server holding copies of both (one change, replicated)."""
        alog = _action_log.get()
        self.resource(parent), self.resource(child)  # both must exist here (000019)
        pairs = self._dependency_copies(parent, child)
        for server, ptag, ctag in pairs:
            p, c = self.config.get(server, ptag), self.config.get(server, ctag)
            if p.switchback != c.switchback:
                alog.add("000029", parent=ptag, child=ctag, server=server)
            ps, cs = self._copy_state(server, ptag), self._copy_state(server, ctag)
            if ps.in_service and not cs.in_service:
                raise StandfastError(
                    "190018", parent=ptag, child=ctag, parent_state=ps, child_state=cs
                )
        ops: list[Operation] = [
            AddDependency(Dependency(server, ptag, ctag))
            for server, ptag, ctag in pairs
            if server == self.server
            or Dependency(server, ptag, ctag) not in self.config.dependencies
        ]
        await self._store(ops)
        for server, ptag, ctag in pairs:
            alog.add("190705", parent=ptag, child=ctag, server=server)
        self._event("dependency", parent, f"depends on {child}")
        return ActionOutcome(
            alog.notices, {"parent": parent, "child": child, "servers": [s for s, _, _ in pairs]}
        )

    @operator_action
    async def delete_dependency(self, parent: str, child: str) -> ActionOutcome:
        """Remove the dependency here and between the same resources' copies elsewhere."""
        pairs = self._dependency_copies(parent, child)
        ops: list[Operation] = [
            DeleteDependency(Dependency(server, ptag, ctag))
            for server, ptag, ctag in pairs
            if server == self.server or Dependency(server, ptag, ctag) in self.config.dependencies
        ]
        await self._store(ops)
        self._event("dependency", parent, f"no longer depends on {child}")
        return ActionOutcome(
            [], {"parent": parent, "child": child, "servers": [s for s, _, _ in pairs]}
        )

    def _dependency_copies(self, parent: str, child: str) -> list[tuple[str, str, str]]:
        """(server, parent copy, child copy): this server's pair first, then every other
        server that holds a copy of both."""
        p, c = self.config.find(self.server, parent), self.config.find(self.server, child)
        out = [(self.server, parent, child)]
        if p is None or c is None or not p.equiv or not c.equiv:
            return out  # the change itself names what is missing
        children = {r.server: r.tag for r in self.config.equivalents(c.equiv)}
        for r in self.config.equivalents(p.equiv):
            if r.server != self.server and r.server in children:
                out.append((r.server, r.tag, children[r.server]))
        return out

    def _copy_state(self, server: str, tag: str) -> State:
        """The state of a resource instance as this server knows it (here: its own)."""
        return self.states.get(tag, State.OSU) if server == self.server else State.OSU

    # -- the control loop -------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        recover_capable = frozenset(
            t for t in self.graph().resources if get_kit(self.resource(t).kit).supports_recover
        )
        return Snapshot(
            now=time.monotonic(),
            server=self.server,
            config=self.config,
            states=dict(self.states),
            next_quick=dict(self._next_quick),
            next_deep=dict(self._next_deep),
            busy=frozenset(self._busy),
            failures=dict(self._failures),
            recovery_tried=frozenset(self._recovery_tried),
            recover_capable=recover_capable,
        )

    async def run(self) -> None:
        await self.on_start()
        while not self._stop.is_set():
            decisions = decide(self.snapshot(), self.tunables)
            if decisions:
                self.last_decisions = decisions
            for d in decisions:
                self._spawn(self._act(d))
            await self.cycle()
            with suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=TICK)

    async def on_start(self) -> None:
        """A lone server restores what was in service when it stopped."""
        await self._resume_after_restart()

    async def cycle(self) -> None:
        """Hook: per-cycle cluster work (placement, replication)."""

    def stop(self) -> None:
        self._stop.set()
        for t in self._tasks:
            t.cancel()
        self.runner.shutdown()

    def _spawn(self, coro: Coroutine[object, object, None]) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _resume_after_restart(self) -> None:
        """Hierarchies that were in service when the daemon stopped are restored."""
        graph = self.graph()
        wanted = {t for t, s in self.states.items() if s.in_service and t in graph.resources}
        for t in wanted:
            self.states[t] = State.OSU
        for h in graph.hierarchies():
            tags = h & wanted
            if tags:
                self._spawn(self._restore_quietly(tags))

    async def _restore_quietly(self, tags: set[str]) -> None:
        alog = ActionLog()
        try:
            async with self._hold(self.graph().hierarchy(min(tags)), wait=TICK):
                await self._restore_tags(tags, alog)
        except StandfastError as exc:
            log.error(exc.text("en"))

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
        res = self.resource(tag)
        graph = self.graph()
        kit = get_kit(res.kit)
        ctx = self.context()
        fn = kit.deep_check if deep else kit.quick_check
        # The outer bound covers the guide's three stat tries within LKNFSTIMEOUT.
        deadline = float(self.tunables.LKNFSTIMEOUT) + 5.0
        async with self._hold(graph.hierarchy(tag), wait=0.01):
            if self.states.get(tag) != State.ISP:
                return
            try:
                result = await self.runner.call(
                    lambda: fn(ctx, res), deadline=deadline, action="check", tag=tag
                )
            except StandfastError as exc:
                result = CheckResult(False, exc.code, exc.params)
            now = time.monotonic()
            if deep:
                self._next_deep[tag] = now + self.tunables.SF_DEEPCHECK_INTERVAL
            self._next_quick[tag] = now + self.tunables.SF_QUICKCHECK_INTERVAL
            if not result.ok:
                notice = result.notice()
                if notice is not None:
                    log.error(notice.text("en"))
                self._set_state(tag, State.ISU, result.code)
                self._failures[tag] = result
                self._event("check_failed", tag, result.code)

    async def _recover(self, tag: str) -> None:
        res = self.resource(tag)
        kit = get_kit(res.kit)
        alog = ActionLog()
        ctx = self.context(alog)
        async with self._hold(self.graph().hierarchy(tag), wait=0.01):
            self._recovery_tried.add(tag)
            alog.line(f'recover: BEGIN recovery of "{tag}" on server "{self.server}"')
            ok = await self.runner.call(
                lambda: kit.recover(ctx, res),
                deadline=self.tunables.SF_ACTION_TIMEOUT,
                action="recover",
                tag=tag,
            )
            if ok:
                alog.line(f'recover: END successful recovery of "{tag}" on server "{self.server}"')
                self._set_state(tag, State.ISP)
                self._schedule_checks(tag)
                self._event("recovered", tag, "")
            else:
                alog.line(f'recover: END failed recovery of "{tag}" on server "{self.server}"')

    async def _halt(self, tag: str) -> None:
        log.critical(Notice.of("190410", tag=tag, server=self.server).text("en"))
        self._event("halt", tag, " ".join(self.tunables.SF_HALT_COMMAND))
        self._failures.pop(tag, None)
        await self.runner.call(
            lambda: system.halt(self.tunables.SF_HALT_COMMAND, timeout=30.0),
            deadline=35.0,
            action="halt",
            tag=tag,
        )

    async def _fail_hierarchy(self, tag: str) -> None:
        """No backup server to move to (single server): take the hierarchy down, leaving
        the failed resource and everything that depends on it OSF."""
        graph = self.graph()
        hierarchy = graph.hierarchy(tag)
        failed = {tag} | graph.ancestors(tag)
        root = graph.hierarchy_roots(tag)[0]
        alog = ActionLog()
        async with self._hold(hierarchy, wait=0.01):
            self._failures.pop(tag, None)
            alog.add("190411", tag=tag, root=root)
            await self._remove_tags(hierarchy, alog, fail=failed)
        self._event("failed", root, f"{tag}: {self.reasons.get(tag, '')}")

    # -- views --------------------------------------------------------------------------

    def status(self) -> dict[str, object]:
        graph = self.graph()

        def node(tag: str) -> dict[str, object]:
            r = self.resource(tag)
            return {
                "tag": tag,
                "kit": r.kit,
                "id": r.id,
                "state": str(self.states.get(tag, State.UNKNOWN)),
                "reason": self.reasons.get(tag, ""),
                "switchback": str(r.switchback),
                "priority": r.priority,
                "children": [node(c) for c in graph.children(tag)],
            }

        return {
            "server": self.server,
            "config_version": self.config.version,
            "started": self.started,
            "hierarchies": [node(r) for r in graph.roots()],
            "busy": sorted(self._busy),
        }
