"""What this server answers when a peer asks over the cluster channel.

Contracts: each handler is bounded by the peer's deadline (the channel cancels it);
``release`` is idempotent (a hierarchy already down is released at once);
``offer_config`` takes only a newer version and refuses another configuration of the
version held here (``conflict``, engine/replication.py); an unknown method is refused
with 190206. Handlers act only on this server.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from standfast.engine import views
from standfast.messages import StandfastError
from standfast.model.config import ClusterConfig, resource_from_dict

if TYPE_CHECKING:
    from standfast.engine.member import ClusterMember

Handler = Callable[[str, dict[str, Any]], Awaitable[dict[str, Any]]]


class PeerHandlers:
    def __init__(self, member: ClusterMember) -> None:
        self.m = member
        self._table: dict[str, Handler] = {
            "get_config": self._get_config,
            "offer_config": self._offer_config,
            "release": self._release,
            "can_extend": self._can_extend,
            "kit_delete": self._kit_delete,
            "status": self._status,
            "states": self._states,
            "remote_certificate": self._remote_certificate,
        }

    def register(self, method: str, handler: Handler) -> None:
        """Another part's request (alerts' ``offer_alerts``), bounded like the others."""
        self._table[method] = handler

    async def handle(self, sender: str, method: str, params: dict[str, Any]) -> dict[str, Any]:
        handler = self._table.get(method)
        if handler is None:
            raise StandfastError("190206", detail=f"unknown peer request {method}")
        return await handler(sender, params)

    async def _get_config(self, sender: str, params: dict[str, Any]) -> dict[str, Any]:
        # Not an operator's change still waiting for a majority: it may yet be undone.
        return {"config": self.m.core.published_config().to_dict()}

    async def _offer_config(self, sender: str, params: dict[str, Any]) -> dict[str, Any]:
        return self.m.replication.offered(ClusterConfig.from_dict(params["config"]), sender)

    async def _release(self, sender: str, params: dict[str, Any]) -> dict[str, Any]:
        core, book = self.m.core, self.m.book
        equiv = str(params["equiv"])
        mine = [
            r
            for r in core.config.resources.values()
            if r.server == core.server and r.equiv == equiv
        ]
        if not mine:
            return {"released": []}
        hierarchy = core.graph().hierarchy(mine[0].tag)
        book.last_holder[equiv] = sender  # it serves it from now on
        # Do not take it back while the requester is bringing it up (its new state
        # reaches us with its next heartbeats).
        book.hold_off[equiv] = (sender, time.monotonic() + self.m.hold_off_seconds())
        await self.m.hierarchy.release(hierarchy, f"released to {sender}")
        return {"released": sorted(hierarchy)}

    async def _can_extend(self, sender: str, params: dict[str, Any]) -> dict[str, Any]:
        return await self.m.extender.can_extend_here(
            [resource_from_dict(r) for r in params["resources"]]
        )

    async def _kit_delete(self, sender: str, params: dict[str, Any]) -> dict[str, Any]:
        await self.m.replication.delete_here([str(t) for t in params["tags"]])
        return {"deleted": params["tags"]}

    async def _status(self, sender: str, params: dict[str, Any]) -> dict[str, Any]:
        return views.status(self.m.snapshot())

    async def _states(self, sender: str, params: dict[str, Any]) -> dict[str, Any]:
        return {"states": {t: str(v) for t, v in self.m.core.states.items()}}

    async def _remote_certificate(self, sender: str, params: dict[str, Any]) -> dict[str, Any]:
        return {"pem": self.m.remote_certificate or ""}
