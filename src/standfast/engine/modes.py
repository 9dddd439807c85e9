"""Operator commands for maintenance mode and server standby (docs/maintenance.md).

Both are flags in the replicated configuration (``model.config.Modes``): a change made
on any server is pushed to every live peer like any other, and each server's loop
and placement read it from there.

Contracts:
- ``maintenance`` and ``standby`` change nothing when the flag already has the value
  asked for (no new version), and then still answer with the notice of the state.
- A refusal is a numbered StandfastError and changes nothing: 000019 (unknown tag),
  193008 (standby on a lone server), 198001 (unknown server), 198002 (standby of the
  last server able to run a hierarchy it serves, without ``force``).
- Neither runs a kit action or waits for a lock: they return once the change is
  stored here and pushed (replication's own deadlines bound the push).
"""

from __future__ import annotations

import logging

from standfast.engine.actions import ActionOutcome, current_log, operator_action
from standfast.engine.core import EngineCore
from standfast.engine.placement import hierarchy_roots
from standfast.engine.role import ClusterRole
from standfast.engine.snapshot import ClusterSnapshot
from standfast.messages import Notice, StandfastError
from standfast.model.config import Operation, SetMaintenance, SetStandby
from standfast.model.states import State

log = logging.getLogger("standfast.engine")


class ModeActions:
    def __init__(self, core: EngineCore, role: ClusterRole) -> None:
        self.core = core
        self.role = role

    async def _store(self, ops: list[Operation], changed: bool) -> None:
        if changed:
            await self.core.apply(ops)

    @operator_action
    async def maintenance(self, on: bool, tag: str | None = None) -> ActionOutcome:
        """Maintenance mode on or off, for the whole cluster (``tag`` None) or for the
        hierarchies ``tag`` (a resource on this server) belongs to."""
        core, alog = self.core, current_log()
        if tag is None:
            changed = core.config.modes.maintenance != on
            await self._store([SetMaintenance(on)], changed)
            notice = Notice.of("198004" if on else "198005")
            scope, names = "cluster", [core.server]
        else:
            core.resource(tag)  # 000019 when there is none here
            graph = core.graph()
            roots = graph.hierarchy_roots(tag)
            equivs = [core.resource(r).equiv for r in roots]
            ops: list[Operation] = [SetMaintenance(on, e) for e in equivs]
            # The hierarchy's own flag; the cluster-wide one stays as it is.
            changed = any((e in core.config.modes.maintenance_hierarchies) != on for e in equivs)
            await self._store(ops, changed)
            notice = Notice.of("198008" if on else "198009", tag=", ".join(roots))
            scope, names = "hierarchy", roots
        alog.notices.append(notice)
        if changed:
            log.info(notice.text("en"))
            for name in names:
                core.event(
                    "maintenance",
                    name,
                    "on" if on else "off",
                    {"scope": scope, "on": on, "by": core.server},
                )
        return ActionOutcome(
            alog.notices,
            {"maintenance": on, "scope": scope, "tags": names if tag else [], "changed": changed},
        )

    @operator_action
    async def standby(self, server: str, on: bool, *, force: bool = False) -> ActionOutcome:
        """``server`` in or out of standby. In standby its hierarchies go to the next
        eligible server by priority and it takes none; refused (198002) when it serves
        a hierarchy no other server could take, unless ``force``."""
        core, alog = self.core, current_log()
        snap = self.role.snapshot()
        if not snap.clustered:
            raise StandfastError("193008", path=core.paths.cluster_definition)
        if server not in snap.servers:
            raise StandfastError("198001", server=server, servers=", ".join(snap.servers))
        if on and not force:
            stuck = last_server_of(snap, server)
            if stuck:
                raise StandfastError("198002", server=server, tag=stuck)
        changed = core.config.standby(server) != on
        await self._store([SetStandby(server, on)], changed)
        notice = Notice.of("198006" if on else "198007", server=server)
        alog.notices.append(notice)
        if changed:
            log.info(notice.text("en"))
            core.event("standby", server, "on" if on else "off", {"on": on, "by": core.server})
        return ActionOutcome(alog.notices, {"server": server, "standby": on, "changed": changed})


def last_server_of(snap: ClusterSnapshot, server: str) -> str:
    """The root tag of a hierarchy ``server`` serves that no other server could take
    (alive, not blocked, not in standby, its copy not OSF); "" when there is none."""
    config = snap.config
    for equiv, root in sorted(hierarchy_roots(config, server).items()):
        if not snap.state(server, root.tag).in_service or not config.wanted(equiv):
            continue
        others = [
            r
            for r in config.equivalents(equiv)
            if r.server != server
            and r.server in snap.alive
            and r.server not in snap.blocked
            and not config.standby(r.server)
            and snap.state(r.server, r.tag) != State.OSF
        ]
        if not others:
            return root.tag
    return ""
