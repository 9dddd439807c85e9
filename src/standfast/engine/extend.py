"""Extend, unextend and delete across servers: copying a hierarchy to another server,
removing one server's copy, and removing every copy.

Contracts:
- ``extend`` runs the target's pre-extend checks (its kits' can_extend, asked over the
  peer channel) before anything is stored; a refusal is the target's own message
  followed by 000008, and nothing changes. With ``check_only`` it stops after them.
- ``unextend`` refuses a copy in service (193011) or the last copy (193019); the
  target's host clean-up (its kit's delete) runs before the change is stored.
- ``delete_copies_elsewhere`` refuses while any live copy is in service (190016); a
  server that is down gets its host clean-up when it rejoins (``Replication.adopt``).
- Every peer request is bounded by SF_ACTION_TIMEOUT (``ClusterMember.ask``).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from standfast.engine.actions import ActionOutcome, current_log, operator_action
from standfast.engine.core import EngineCore
from standfast.engine.membership import Membership
from standfast.engine.replication import Replication
from standfast.engine.switchover import Ask
from standfast.kits.base import ActionLog
from standfast.kits.registry import get_kit
from standfast.messages import StandfastError
from standfast.model.config import (
    AddDependency,
    AddResource,
    DeleteResource,
    Operation,
    UpdateResource,
)
from standfast.model.resources import Dependency, Resource
from standfast.model.states import State, Switchback
from standfast.model.tags import validate_priority, validate_tag


class Extender:
    def __init__(
        self, core: EngineCore, members: Membership, replication: Replication, ask: Ask
    ) -> None:
        self.core = core
        self.members = members
        self.replication = replication
        self.ask = ask

    @operator_action
    async def extend(
        self,
        tag: str,
        *,
        target: str,
        target_tag: str | None = None,
        target_priority: int | None = None,
        template_priority: int | None = None,
        switchback: str | None = None,
        check_only: bool = False,
    ) -> ActionOutcome:
        """Extend the hierarchy of ``tag`` to ``target``. With ``check_only``, run the
        pre-extend checks and report them without extending (the wizard's check step)."""
        core = self.core
        alog = current_log()
        hierarchy, root, copies = self._template(tag, target)
        root_tag = root.tag
        graph = core.graph()
        ops, target_priority = self._priorities(
            hierarchy, root_tag, copies, template_priority, target_priority
        )
        sb = Switchback(switchback) if switchback else root.switchback
        alog.line("Executing the pre-extend script...")
        alog.line("Checking existence of extend and canextend scripts")
        alog.line("Building independent resource list")
        order = graph.start_order(hierarchy)
        new = [
            replace(
                core.resource(t),
                server=target,
                tag=validate_tag(target_tag) if (t == root_tag and target_tag) else t,
                priority=target_priority,
                switchback=sb,
                props=get_kit(core.resource(t).kit).props_for_copy(core.resource(t).props),
            )
            for t in order
        ]
        for r in new:
            alog.line(f"Checking extendability for {r.tag}")
        try:
            await self.ask(target, "can_extend", {"resources": [r.to_dict() for r in new]})
        except StandfastError as exc:
            # The target's own reason first, then the guide's 000008.
            alog.add(exc.code, **exc.params)
            raise StandfastError("000008", tag=root_tag, server=target) from None
        alog.line("Pre Extend checks were successful")
        summary: dict[str, object] = {
            "template": core.server,
            "target": target,
            "target_priority": target_priority,
            "resources": [r.tag for r in new],
        }
        if check_only:
            return ActionOutcome(alog.notices, {**summary, "extended": False})
        rename = {t: r.tag for t, r in zip(order, new, strict=True)}
        ops += [AddResource(r) for r in new]
        ops += [
            AddDependency(Dependency(target, rename[d.parent], rename[d.child]))
            for d in sorted(graph.dependencies)
            if d.parent in hierarchy
        ]
        for r in new:
            alog.line(f'extend: BEGIN extension of "{r.tag}" on server "{target}"')
        await core.apply(ops)
        for r in new:
            alog.line(f'extend: END successful extension of "{r.tag}" on server "{target}"')
        core.event("extend", root_tag, f"to {target} priority {target_priority}")
        return ActionOutcome(
            alog.notices,
            {
                "template": core.server,
                "target": target,
                "tag": rename[root_tag],
                "target_priority": target_priority,
                "resources": [r.tag for r in new],
            },
        )

    @operator_action
    async def unextend(self, tag: str, *, server: str) -> ActionOutcome:
        core = self.core
        alog = current_log()
        target_copy = self._copy_on(tag, server)
        if server == core.server:
            states = dict(core.states)
        elif server in self.members.alive():
            # Ask, not the heartbeat's view: that may be one interval old.
            reply = await self.ask(server, "states", {})
            states = {t: State(v) for t, v in reply["states"].items()}
        else:
            states = {}
        graph = core.config.graph(server)
        hierarchy = graph.hierarchy(target_copy.tag)
        if any(states.get(t, State.OSU).in_service for t in hierarchy):
            raise StandfastError("193011", tag=target_copy.tag, server=server)
        if len(core.config.equivalents(target_copy.equiv)) <= 1:
            raise StandfastError("193019", tag=tag, server="another server")
        alog.line("You have specified the following resource hierarchy for unextend.")
        alog.line(f"Target Server = {server}")
        alog.line(f"Target Tag = {target_copy.tag}")
        if server in self.members.alive() and server != core.server:
            await self.ask(server, "kit_delete", {"tags": sorted(hierarchy)})
        elif server == core.server:
            await self.replication.delete_here(sorted(hierarchy))
        await core.apply([DeleteResource(server, t) for t in graph.stop_order(hierarchy)])
        if server == core.server:
            self.replication.cleaned -= hierarchy  # removed here, not by a peer's change
        core.event("unextend", target_copy.tag, f"from {server}")
        return ActionOutcome(alog.notices, {"server": server, "removed": sorted(hierarchy)})

    def _template(self, tag: str, target: str) -> tuple[set[str], Resource, list[Resource]]:
        """The hierarchy to copy (in service here), its root and its copies; refusals
        for a missing tag or target (000009, 000003, 193010), a hierarchy not in
        service here (193009) or one already on the target (000004)."""
        core = self.core
        if not tag or not target:
            raise StandfastError("000009")
        if (core.server, tag) not in core.config.resources:
            raise StandfastError("000003", tag=tag, server=core.server)
        self.members.definition.server(target)
        if target not in self.members.alive() or target == core.server:
            raise StandfastError("193010", server=target, operation="extend")
        graph = core.graph()
        hierarchy = graph.hierarchy(tag)
        for t in hierarchy:
            if not core.state(t).in_service:
                raise StandfastError("193009", tag=tag, server=core.server)
        root = core.resource(graph.hierarchy_roots(tag)[0])
        copies = core.config.equivalents(root.equiv)
        if any(c.server == target for c in copies):
            raise StandfastError("000004", tag=root.tag, server=target)
        return hierarchy, root, copies

    def _priorities(
        self,
        hierarchy: set[str],
        root_tag: str,
        copies: list[Resource],
        template_priority: int | None,
        target_priority: int | None,
    ) -> tuple[list[Operation], int]:
        """The template's new priority (first extension only) as operations, and the
        target's priority: the one asked for, or the first free of 10, 20, 30 ..."""
        core = self.core
        first = len(copies) == 1
        ops: list[Operation] = []
        if first and template_priority is not None and template_priority != copies[0].priority:
            validate_priority(template_priority)
            for t in hierarchy:
                ops.append(UpdateResource(replace(core.resource(t), priority=template_priority)))
        used = {c.priority for c in copies} | (
            {template_priority} if first and template_priority else set()
        )
        if target_priority is None:
            target_priority = next(p for p in range(10, 1000, 10) if p not in used)
        validate_priority(target_priority)
        if target_priority in used:
            raise StandfastError(
                "190006", priority=target_priority, server=core.server, tag=root_tag
            )
        return ops, target_priority

    def _copy_on(self, tag: str, server: str) -> Resource:
        """The copy on ``server`` of the hierarchy ``tag`` names (here or there)."""
        core = self.core
        root_equivs = set()
        if (core.server, tag) in core.config.resources:
            graph = core.graph()
            root_equivs = {core.resource(r).equiv for r in graph.hierarchy_roots(tag)}
        # The tag may name the copy on the target server directly.
        found = core.config.find(server, tag)
        if found is not None:
            return found
        matches = [
            r
            for r in core.config.resources.values()
            if r.server == server and r.equiv in root_equivs
        ]
        if not matches:
            raise StandfastError("193019", tag=tag, server=server)
        return matches[0]

    async def delete_copies_elsewhere(self, doomed: set[str], alog: ActionLog) -> list[Operation]:
        """Delete removes a hierarchy from every server: refuse while any copy is in
        service, clean up each live server's copy (its kit's delete), then drop all."""
        core = self.core
        equivs = {core.resource(t).equiv for t in doomed}
        by_server: dict[str, set[str]] = {}
        for r in core.config.resources.values():
            if r.server != core.server and r.equiv in equivs:
                by_server.setdefault(r.server, set()).add(r.tag)
        alive = self.members.alive()
        for server, tags in sorted(by_server.items()):
            if server not in alive:
                continue
            reply = await self.ask(server, "states", {})
            for t in sorted(tags):
                if State(reply["states"].get(t, "OSU")).in_service:
                    raise StandfastError("190016", tag=t, server=server)
        ops: list[Operation] = []
        for server, tags in sorted(by_server.items()):
            if server in alive:
                await self.ask(server, "kit_delete", {"tags": sorted(tags)})
            else:
                alog.line(
                    f"Server {server} is down: its copy leaves the configuration now; its "
                    "host clean-up (such as an /etc/fstab entry) is done when it rejoins"
                )
            order = core.config.graph(server).stop_order(tags)
            ops += [DeleteResource(server, t) for t in order]
        return ops

    async def can_extend_here(self, resources: list[Resource]) -> dict[str, Any]:
        """The target's side of the pre-extend checks (a peer's ``can_extend``)."""
        core = self.core
        for r in resources:
            existing = core.config.find(core.server, r.tag)
            if existing is not None:
                if existing.equiv == r.equiv:
                    raise StandfastError("000004", tag=r.tag, server=core.server)
                raise StandfastError("107010", tag_id=r.tag, server=core.server)
        ctx = core.context()
        for r in resources:
            kit = get_kit(r.kit)
            await core.call(
                lambda kit=kit, r=r: kit.can_extend(ctx, r),  # type: ignore[misc]
                deadline=core.tunables.SF_ACTION_TIMEOUT,
                action="canextend",
                tag=r.tag,
            )
        return {"ok": True}
