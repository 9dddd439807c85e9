"""The part of the engine that differs between a lone server and a cluster member.

The engine asks its role, never "am I a cluster?": a lone server's role
(``LoneServer``) answers every cluster question for a cluster of one, and refuses the
operations that need other servers with 193008; a cluster member's role is
``engine.cluster.ClusterMember``.
"""

from __future__ import annotations

from typing import Any, Protocol

from standfast.cluster.keyring import ClusterKey
from standfast.engine.core import EngineCore
from standfast.engine.hierarchy import HierarchyOps
from standfast.engine.snapshot import ClusterSnapshot
from standfast.kits.base import ActionLog
from standfast.messages import StandfastError
from standfast.model.config import Operation
from standfast.model.states import State

TICK = 0.2  # seconds between cycles; checks have their own intervals


class ClusterRole(Protocol):
    """Contracts: every method is bounded (peer requests carry SF_ACTION_TIMEOUT);
    the hooks around operator actions raise StandfastError to refuse, before anything
    changed here."""

    async def on_start(self) -> None:
        """Once, before the first cycle."""

    async def cycle(self) -> None:
        """Once per loop cycle: heartbeats, replication, placement."""

    async def leave(self, timeout: float) -> None:
        """The daemon stops: hand this server's hierarchies over (a cluster member,
        ``engine/leave.py``) or leave them running (a lone server brings them back at
        its next start). Bounded by ``timeout``; never raises."""

    async def aclose(self) -> None:
        """Release what ``on_start`` acquired (sockets)."""

    async def before_in_service(self, tag: str, alog: ActionLog) -> None:
        """Record the target and take the hierarchy from another server (switchover)."""

    async def before_out_of_service(self, tag: str, alog: ActionLog) -> None:
        """Record that the hierarchy should stay down, wherever it runs."""

    async def delete_copies_elsewhere(self, doomed: set[str], alog: ActionLog) -> list[Operation]:
        """Delete the other servers' copies too; the operations that remove them."""

    def copy_state(self, server: str, tag: str) -> State:
        """The state of ``server``'s instance ``tag`` as this server knows it."""

    def snapshot(self) -> ClusterSnapshot:
        """One immutable view of the cluster, now."""

    async def extend(self, tag: str, **options: Any) -> Any:
        """Copy the hierarchy of ``tag`` to a target server (cluster only)."""

    async def unextend(self, tag: str, *, server: str) -> Any:
        """Remove the hierarchy's copy from ``server`` (cluster only)."""

    def answer_failover(self, tag: str, answer: str) -> dict[str, object]:
        """The operator's answer to a pending failover confirmation (cluster only)."""

    def pending_confirmations(self) -> list[dict[str, object]]:
        """Failovers waiting for the operator's answer."""

    async def ask(self, peer: str, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """One request to a peer over the cluster channel (cluster only)."""

    def servers(self) -> frozenset[str]:
        """Every server of the cluster, this one included."""

    def addresses(self, server: str) -> list[str]:
        """``server``'s addresses on the comm-path networks (empty: none known)."""

    def cluster_key(self) -> ClusterKey | None:
        """The cluster key (None for a lone server)."""

    def publish_certificate(self, pem: str) -> None:
        """The remote API's certificate, for peers to pin."""

    def gate_context(self) -> Any:
        """What ``simulate`` needs besides the snapshot (None for a lone server)."""


class LoneServer:
    """A server without a cluster definition: a cluster of one."""

    def __init__(self, core: EngineCore, hierarchy: HierarchyOps) -> None:
        self.core = core
        self.hierarchy = hierarchy

    def _refuse(self) -> StandfastError:
        return StandfastError("193008", path=self.core.paths.cluster_definition)

    async def on_start(self) -> None:
        """Hierarchies that were in service when the daemon stopped are restored."""
        core = self.core
        graph = core.graph()
        wanted = {t for t, s in core.states.items() if s.in_service and t in graph.resources}
        for t in wanted:
            core.states[t] = State.OSU
        for h in graph.hierarchies():
            tags = h & wanted
            if tags:
                core.spawn(self.hierarchy.restore_quietly(tags, wait=TICK))

    async def cycle(self) -> None:
        return None

    async def leave(self, timeout: float) -> None:
        return None

    async def aclose(self) -> None:
        return None

    async def before_in_service(self, tag: str, alog: ActionLog) -> None:
        return None

    async def before_out_of_service(self, tag: str, alog: ActionLog) -> None:
        return None

    async def delete_copies_elsewhere(self, doomed: set[str], alog: ActionLog) -> list[Operation]:
        return []

    def copy_state(self, server: str, tag: str) -> State:
        return self.core.state(tag) if server == self.core.server else State.OSU

    def snapshot(self) -> ClusterSnapshot:
        return ClusterSnapshot.of_lone_server(self.core)

    async def extend(self, tag: str, **options: Any) -> Any:
        raise self._refuse()

    async def unextend(self, tag: str, *, server: str) -> Any:
        raise self._refuse()

    def answer_failover(self, tag: str, answer: str) -> dict[str, object]:
        raise self._refuse()

    def pending_confirmations(self) -> list[dict[str, object]]:
        return []

    async def ask(self, peer: str, method: str, params: dict[str, Any]) -> dict[str, Any]:
        raise self._refuse()

    def servers(self) -> frozenset[str]:
        return frozenset({self.core.server})

    def addresses(self, server: str) -> list[str]:
        return []

    def cluster_key(self) -> ClusterKey | None:
        return None

    def publish_certificate(self, pem: str) -> None:
        return None

    def gate_context(self) -> Any:
        return None
