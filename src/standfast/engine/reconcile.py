"""Start-up reconciliation: a daemon that starts finds out what really runs on its
server before it places anything (a daemon that died leaves its applications
running), and stops what another server holds.

Contracts: ``probe`` runs every local resource's quick check at once, each bounded like
any check (LKNFSTIMEOUT + 5 s), and never raises; ``reconcile`` runs once, when the
server has heard every live peer, and only spawns (it never waits): a copy found
running is kept only if no live peer holds its hierarchy and placement puts the
hierarchy here (the kit's restore then adopts it); otherwise it is stopped (193024).
A hierarchy in maintenance that no live peer holds is left running and marked in
service (ISP) as found.
"""

from __future__ import annotations

import asyncio
import logging

from standfast.engine.core import EngineCore
from standfast.engine.hierarchy import HierarchyOps
from standfast.engine.placement import PlacementKind, holders, place
from standfast.engine.snapshot import ClusterSnapshot
from standfast.kits.registry import get_kit
from standfast.messages import Notice, StandfastError
from standfast.model.resources import Resource
from standfast.model.states import State

log = logging.getLogger("standfast.engine")


class StartupReconciler:
    def __init__(self, core: EngineCore, hierarchy: HierarchyOps) -> None:
        self.core = core
        self.hierarchy = hierarchy
        self.found: set[str] = set()  # local resources found running at start
        self.probed = False
        self.reconciled = False

    async def probe(self) -> None:
        """Every local resource's quick check, bounded like any check; those that pass
        may be running (a kit's restore adopts them, or ``_reconcile`` stops them)."""
        core = self.core
        deadline = float(core.tunables.LKNFSTIMEOUT) + 5.0

        async def probe(res: Resource) -> str | None:
            kit, ctx = get_kit(res.kit), core.context()
            try:
                result = await core.call(
                    lambda: kit.quick_check(ctx, res),
                    deadline=deadline,
                    action="check",
                    tag=res.tag,
                )
            except StandfastError:
                return None
            return res.tag if result.ok else None

        local = [core.resource(t) for t in core.graph().resources]
        found = await asyncio.gather(*(probe(r) for r in local))
        self.found = {t for t in found if t is not None}
        self.probed = True

    def reconcile(self, snap: ClusterSnapshot) -> None:
        """Once, when settled and probed: a local copy found running is kept only if no
        live peer holds its hierarchy and placement puts it here; else it is stopped."""
        core = self.core
        graph = core.graph()
        placed_here = {p.equiv for p in place(snap) if p.kind is PlacementKind.RESTORE}
        for root in graph.roots():
            found = graph.hierarchy(root) & self.found
            if not found:
                continue
            equiv = core.resource(root).equiv
            others = [r.server for r in holders(snap, equiv) if r.server != core.server]
            if not others and snap.config.in_maintenance(equiv):
                # Maintenance keeps what runs (a daemon restarted during maintenance,
                # an upgrade): found running is in service, nothing is started or
                # stopped. Held elsewhere too, it is stopped below: never twice.
                log.info(Notice.of("193025", tag=root, server=core.server).text("en"))
                for tag in sorted(found):
                    core.set_state(tag, State.ISP, "found running in maintenance")
                continue
            if others or equiv not in placed_here:
                holder = others[0] if others else "another server"
                log.warning(
                    Notice.of("193024", tag=root, server=core.server, holder=holder).text("en")
                )
                core.spawn(self.hierarchy.stop_found(found, f"running at start; {holder} holds it"))
            else:
                log.info(Notice.of("193025", tag=root, server=core.server).text("en"))
        self.found = set()
        self.reconciled = True
