"""The engine of one server, composed of collaborators that each own one job:

- ``core.EngineCore``: configuration, states, locks, the action runner, the history;
- ``hierarchy.HierarchyOps``: restore/remove ordering and rollback;
- ``loop.ControlLoop``: the cycle, checks, local recovery;
- ``actions.OperatorActions``: the operator's commands on this server;
- the role: ``role.LoneServer`` or ``member.ClusterMember`` (heartbeats, replication,
  placement through the failover gate, extend/unextend, peer requests).

A lone server is the same engine with the lone role. Nothing outside ``engine/``
uses these parts: the API and the CLI go through ``service.EngineService``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from standfast.config.paths import Paths
from standfast.config.tunables import Tunables
from standfast.engine.actions import OperatorActions
from standfast.engine.core import EngineCore
from standfast.engine.hierarchy import HierarchyOps
from standfast.engine.loop import ControlLoop
from standfast.engine.metrics import EngineMetrics
from standfast.engine.modes import ModeActions
from standfast.engine.role import ClusterRole, LoneServer
from standfast.store.database import Store

if TYPE_CHECKING:
    from standfast.alerts.service import AlertService
    from standfast.cluster.definition import ClusterDef
    from standfast.cluster.keyring import KeyRing
    from standfast.engine.drill import Drill
    from standfast.engine.member import ClusterMember
    from standfast.engine.rekey import KeyRotation

log = logging.getLogger("standfast.engine")

# The cluster parts (heartbeats, peers, the etcd arbiter with grpc, alerts with httpx
# and smtplib) are imported only by a cluster member: a lone server never runs them,
# and importing them would cost it some 20 MB of resident memory (issue 12).


def _cluster_member(
    core: EngineCore, hierarchy: HierarchyOps, cluster: tuple[ClusterDef, KeyRing]
) -> ClusterMember:
    from standfast.engine.member import ClusterMember

    return ClusterMember(core, hierarchy, *cluster)


def _alert_service(core: EngineCore, member: ClusterMember, definition: ClusterDef) -> AlertService:
    from standfast.alerts.service import AlertService

    return AlertService(core, member, definition)


class Engine:
    def __init__(
        self,
        server: str,
        store: Store,
        tunables: Tunables,
        paths: Paths,
        cluster: tuple[ClusterDef, KeyRing] | None = None,
    ) -> None:
        """``cluster``: the cluster definition and key when this server has them."""
        self.core = EngineCore(server, store, tunables, paths)
        self.hierarchy = HierarchyOps(self.core)
        role: ClusterRole
        #: A cluster member's alerts (recipients live in the cluster definition).
        self.alerts: AlertService | None = None
        member: ClusterMember | None = None
        if cluster is None:
            role = LoneServer(self.core, self.hierarchy)
        else:
            member = _cluster_member(self.core, self.hierarchy, cluster)
            self.alerts = _alert_service(self.core, member, cluster[0])
            role = member
        self.role = role
        self.loop = ControlLoop(self.core, self.hierarchy, role)
        self.actions = OperatorActions(self.core, self.hierarchy, role)
        #: The switchover drill (a cluster member's; a lone server has nowhere to go).
        self.drill: Drill | None = None
        #: Cluster key rotation (``cluster rekey``, SIGHUP): a cluster member's.
        self.rekey: KeyRotation | None = None
        if member is not None and cluster is not None:
            from standfast.engine.drill import Drill
            from standfast.engine.rekey import KeyRotation

            self.drill = Drill(self.core, member, self.actions)
            self.rekey = KeyRotation(member, cluster[1], paths.cluster_key)
        self.modes = ModeActions(self.core, role)
        self.metrics = EngineMetrics(role.snapshot, lambda: self.loop.last_cycle_at)
        self.core.events.subscribe(self.metrics.on_event)
        self.loop.check_observers.append(self.metrics.on_check)

    @property
    def server(self) -> str:
        return self.core.server

    @property
    def last_cycle_at(self) -> float:
        """Monotonic time the loop last finished a cycle (a watchdog pets while it moves)."""
        return self.loop.last_cycle_at

    def after_cycle(self, hook: Callable[[], None]) -> None:
        """``hook`` is called after every completed cycle of the control loop (the
        daemon pets its watchdog there); it must return at once."""
        self.loop.after_cycle.append(hook)

    async def run(self) -> None:
        """The control loop, until ``stop``."""
        if self.alerts is not None:
            self.alerts.start()
        await self.loop.run()

    async def leave(self) -> None:
        """The daemon stops: a cluster member hands its hierarchies over while the loop
        still runs (heartbeats, checks, the watchdog's pets); bounded by SF_STOP_TIMEOUT
        plus one second, never raises (``engine/leave.py``)."""
        timeout = self.core.tunables.SF_STOP_TIMEOUT
        try:
            async with asyncio.timeout(timeout + 1.0):
                await self.role.leave(timeout)
        except Exception:
            log.exception("the hand-over before the stop failed")

    def stop(self) -> None:
        """Ends the loop and cancels every background task; returns at once."""
        if self.alerts is not None:
            self.alerts.stop()
        self.loop.stop()

    async def aclose(self) -> None:
        """Release what start-up acquired (a cluster member's sockets)."""
        await self.role.aclose()
