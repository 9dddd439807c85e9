"""Operator actions on this server: create, delete, set, in and out of service,
dependencies, configuration restore.

Contracts (every action):
- Runs under the hierarchy's locks, waiting at most SF_ACTION_TIMEOUT for them (190204).
- A refusal is a StandfastError carrying the catalogue notices logged before it, and
  changes nothing; a failure part-way (a restore that fails during create) is rolled
  back and reported (000024, 000022).
- Returns an ``ActionOutcome``: the notices, a result for the API and the transcript of
  BEGIN/END lines.
- Cluster effects go through the role (switchover, replication of the change, copies
  on other servers), so a lone server runs the same code.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from functools import update_wrapper
from typing import Any, Concatenate, ParamSpec, TypeVar

from standfast.engine.core import EngineCore
from standfast.engine.hierarchy import HierarchyOps
from standfast.engine.role import ClusterRole
from standfast.kits.base import ActionLog, CreateRequest
from standfast.kits.registry import get_kit
from standfast.kits.schema import validate_id
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
from standfast.model.resources import Dependency, PropValue
from standfast.model.states import State, Switchback
from standfast.model.tags import validate_priority

P = ParamSpec("P")
R = TypeVar("R")
S = TypeVar("S")
_action_log: ContextVar[ActionLog] = ContextVar("standfast_action_log")


def current_log() -> ActionLog:
    """The log of the operator action running in this task."""
    return _action_log.get()


def operator_action(
    fn: Callable[Concatenate[S, P], Coroutine[Any, Any, R]],
) -> Callable[Concatenate[S, P], Coroutine[Any, Any, R]]:
    """Gives the action a fresh log; a refusal carries what was logged before it."""

    async def wrapper(self: S, /, *args: P.args, **kwargs: P.kwargs) -> R:
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


class OperatorActions:
    def __init__(self, core: EngineCore, hierarchy: HierarchyOps, role: ClusterRole) -> None:
        self.core = core
        self.hierarchy = hierarchy
        self.role = role

    @property
    def _wait(self) -> float:
        return self.core.tunables.SF_ACTION_TIMEOUT

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
        core = self.core
        kit = get_kit(kit_name)
        alog = current_log()
        req = CreateRequest(kit_name, tag, rid, switchback, props)
        ctx = core.context(alog)
        plan = await core.call(
            lambda: kit.plan_create(ctx, req, core.config),
            deadline=self._wait,
            action="create",
            tag=tag or rid or kit_name,
        )
        for r in plan.resources:
            alog.line(f'create: BEGIN creation of "{r.tag}" on server "{core.server}"')
            alog.add("190704", tag=r.tag, id=r.id, server=core.server)
        for d in plan.dependencies:
            alog.add("190705", parent=d.parent, child=d.child, server=core.server)
        # Locked before they exist: the control loop must not bring the new hierarchy
        # in service on its own between the store and the restore below.
        new = {r.tag for r in plan.resources} | {d.child for d in plan.dependencies}
        async with core.hold(new, wait=self._wait):
            try:
                await core.apply(
                    [AddResource(r) for r in plan.resources]
                    + [AddDependency(d) for d in plan.dependencies]
                )
            except StandfastError:
                alog.add("000024", tag=plan.root, server=core.server)
                raise
            for r in plan.resources:
                core.states.setdefault(r.tag, State.OSU)
                core.set_state(r.tag, State.OSU)
            # The guide brings a new hierarchy in service as part of its creation.
            tags = core.graph().hierarchy(plan.root)
            try:
                async with core.hold(tags - new, wait=self._wait):
                    await self.hierarchy.restore(tags, alog)
            except StandfastError as exc:
                alog.add(exc.code, **exc.params)
                for r in reversed(plan.resources):
                    alog.add("000021", tag=r.tag, server=core.server)
                await core.apply(
                    [DeleteDependency(d) for d in plan.dependencies]
                    + [DeleteResource(core.server, r.tag) for r in reversed(plan.resources)]
                )
                for r in plan.resources:
                    core.states.pop(r.tag, None)
                raise StandfastError("000024", tag=plan.root, server=core.server) from None
        for r in plan.resources:
            await core.call(
                lambda r=r: get_kit(r.kit).after_create(ctx, r),  # type: ignore[misc]
                deadline=self._wait,
                action="create",
                tag=r.tag,
            )
            alog.line(f'create: END successful creation of "{r.tag}" on server "{core.server}"')
        core.event("create", plan.root, ", ".join(r.tag for r in plan.resources))
        return ActionOutcome(
            alog.notices, {"root": plan.root, "created": [r.tag for r in plan.resources]}
        )

    @operator_action
    async def delete(self, tag: str) -> ActionOutcome:
        """Delete the hierarchy under ``tag`` (``tag`` and everything it depends on that
        nothing else uses); it must be out of service."""
        core = self.core
        graph = core.graph()
        core.resource(tag)
        if graph.parents(tag):
            raise StandfastError(
                "190015", tag=tag, parents=", ".join(graph.parents(tag)), server=core.server
            )
        doomed = {tag} | {
            d
            for d in graph.descendants(tag)
            if graph.ancestors(d) <= graph.descendants(tag) | {tag}
        }
        for t in doomed:
            if core.state(t).in_service:
                raise StandfastError("190016", tag=t, server=core.server)
        alog = current_log()
        async with core.hold(graph.hierarchy(tag), wait=self._wait):
            elsewhere = await self.role.delete_copies_elsewhere(doomed, alog)
            order = graph.stop_order(doomed)
            for t in order:
                alog.line(f'delete: BEGIN deletion of "{t}" on server "{core.server}"')
                await core.kit_call("delete", core.resource(t), alog)
            await core.apply([DeleteResource(core.server, t) for t in order] + elsewhere)
            for t in order:
                core.states.pop(t, None)
                alog.line(f'delete: END successful deletion of "{t}" on server "{core.server}"')
        core.event("delete", tag, ", ".join(order))
        return ActionOutcome(alog.notices, {"deleted": order})

    @operator_action
    async def in_service(self, tag: str) -> ActionOutcome:
        core = self.core
        core.resource(tag)
        if core.config.standby(core.server):
            # Placement would give it straight back up (docs/maintenance.md).
            raise StandfastError("198003", server=core.server, tag=tag)
        alog = current_log()
        graph = core.graph()
        # In service of a resource brings up what it depends on, children first.
        tags = {tag} | graph.descendants(tag)
        async with core.hold(graph.hierarchy(tag), wait=self._wait):
            await self.role.before_in_service(tag, alog)
            await self.hierarchy.restore(tags, alog)
        core.event("in_service", tag, "")
        return ActionOutcome(alog.notices, {"in_service": graph.start_order(tags)})

    @operator_action
    async def out_of_service(self, tag: str) -> ActionOutcome:
        core = self.core
        core.resource(tag)
        alog = current_log()
        graph = core.graph()
        # Out of service takes down what depends on it first, parents first.
        tags = {tag} | graph.ancestors(tag)
        async with core.hold(graph.hierarchy(tag), wait=self._wait):
            await self.role.before_out_of_service(tag, alog)
            if not await self.hierarchy.remove(tags, alog, fail=set()):
                raise StandfastError(
                    "000026", action="remove", tag=tag, server=core.server, signal="failure"
                )
        core.event("out_of_service", tag, "")
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
        core = self.core
        res = core.resource(tag)
        kit, ctx = get_kit(res.kit), core.context()
        # Off the loop: a kit may read its schema from the host (an OCF agent's meta-data).
        checked = await core.call(
            lambda: kit.validate_edit(res, props, ctx),
            deadline=self._wait,
            action="update",
            tag=tag,
        )
        new = replace(res, props=checked)
        if switchback is not None:
            new = replace(new, switchback=switchback)
        if priority is not None:
            new = replace(new, priority=validate_priority(priority))
        await core.apply([UpdateResource(new)])
        core.event("update", tag, "")
        return ActionOutcome([], {"resource": core.resource(tag).to_dict()})

    @operator_action
    async def restore_config(self, data: Mapping[str, object]) -> ActionOutcome:
        """Replace the configuration with a backup, as one new version. Refused while
        anything is in service here, and checked like every change (tags, cycles,
        kit properties)."""
        core = self.core
        alog = current_log()
        in_service = sorted(t for t, s in core.states.items() if s.in_service)
        if in_service:
            raise StandfastError("190016", tag=in_service[0], server=core.server)
        try:
            backup = ClusterConfig.from_dict(data)
        except (KeyError, TypeError, ValueError) as exc:
            raise StandfastError("190206", detail=f"not a configuration backup: {exc}") from None
        for r in backup.resources.values():
            validate_id(r.kit, r.id)
            get_kit(r.kit).validate(r.props)
        ops: list[Operation] = [DeleteResource(s, t) for (s, t) in self._delete_order()]
        for srv in backup.servers():
            g = backup.graph(srv)
            ops += [AddResource(g.resources[t]) for t in g.start_order(set(g.resources))]
        ops += [AddDependency(d) for d in sorted(backup.dependencies)]
        ops += [SetTarget(e, t.in_service, t.server) for e, t in sorted(backup.targets.items())]
        ops += core.config.modes.ops_to(backup.modes)
        # A restore is the operator's word on the whole configuration, also on the
        # first server of a cluster rebuilt from its backups (alone, without quorum).
        await core.apply(ops, guarded=False)
        core.sync_states()
        core.event("config", core.server, f"restored a backup as version {core.config.version}")
        return ActionOutcome(
            alog.notices, {"version": core.config.version, "resources": len(core.config.resources)}
        )

    def _delete_order(self) -> list[tuple[str, str]]:
        """Every resource, parents before children on each server (safe to delete)."""
        config = self.core.config
        out: list[tuple[str, str]] = []
        for srv in config.servers():
            g = config.graph(srv)
            out += [(srv, t) for t in g.stop_order(set(g.resources))]
        return out

    @operator_action
    async def add_dependency(self, parent: str, child: str) -> ActionOutcome:
        """Make ``child`` a dependency of ``parent`` here and, as the guide's wizard
        does, on every other server holding copies of both (one change, replicated)."""
        core = self.core
        alog = current_log()
        core.resource(parent), core.resource(child)  # both must exist here (000019)
        pairs = self._dependency_copies(parent, child)
        for server, ptag, ctag in pairs:
            p, c = core.config.get(server, ptag), core.config.get(server, ctag)
            if p.switchback != c.switchback:
                alog.add("000029", parent=ptag, child=ctag, server=server)
            ps, cs = self.role.copy_state(server, ptag), self.role.copy_state(server, ctag)
            if ps.in_service and not cs.in_service:
                raise StandfastError(
                    "190018", parent=ptag, child=ctag, parent_state=ps, child_state=cs
                )
        ops: list[Operation] = [
            AddDependency(Dependency(server, ptag, ctag))
            for server, ptag, ctag in pairs
            if server == core.server
            or Dependency(server, ptag, ctag) not in core.config.dependencies
        ]
        await core.apply(ops)
        for server, ptag, ctag in pairs:
            alog.add("190705", parent=ptag, child=ctag, server=server)
        core.event("dependency", parent, f"depends on {child}")
        return ActionOutcome(
            alog.notices, {"parent": parent, "child": child, "servers": [s for s, _, _ in pairs]}
        )

    @operator_action
    async def delete_dependency(self, parent: str, child: str) -> ActionOutcome:
        """Remove the dependency here and between the same resources' copies elsewhere."""
        core = self.core
        pairs = self._dependency_copies(parent, child)
        ops: list[Operation] = [
            DeleteDependency(Dependency(server, ptag, ctag))
            for server, ptag, ctag in pairs
            if server == core.server or Dependency(server, ptag, ctag) in core.config.dependencies
        ]
        await core.apply(ops)
        core.event("dependency", parent, f"no longer depends on {child}")
        return ActionOutcome(
            [], {"parent": parent, "child": child, "servers": [s for s, _, _ in pairs]}
        )

    def _dependency_copies(self, parent: str, child: str) -> list[tuple[str, str, str]]:
        """(server, parent copy, child copy): this server's pair first, then every other
        server that holds a copy of both."""
        core = self.core
        p, c = core.config.find(core.server, parent), core.config.find(core.server, child)
        out = [(core.server, parent, child)]
        if p is None or c is None or not p.equiv or not c.equiv:
            return out  # the change itself names what is missing
        children = {r.server: r.tag for r in core.config.equivalents(c.equiv)}
        for r in core.config.equivalents(p.equiv):
            if r.server != core.server and r.server in children:
                out.append((r.server, r.tag, children[r.server]))
        return out
