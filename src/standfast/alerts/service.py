"""Alerts of one cluster member: the event listener, the recipients kept in the cluster
definition, and their replication to the other servers.

Every server sends its own events (a failover is recorded, so announced, only by the
server that took the hierarchy over). The recipients are one versioned value
(``AlertSet``) in ``cluster.json``; a change made here is saved, then offered to every
live peer (``offer_alerts``); a server that was away gets the newest set when it is
heard again (each server offers its set to a peer that joins). Newest wins: higher
version, then higher digest (deterministic for two servers that changed it apart).

Contracts: ``add``/``remove`` refuse bad input with a numbered message and change
nothing; they save atomically before offering, and the offer waits at most
``PUSH_TIMEOUT`` per peer; ``adopt`` is idempotent; the listener never blocks.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from standfast.alerts.config import AlertSet, parse_alerts, parse_recipient
from standfast.alerts.dispatch import AlertDispatcher
from standfast.alerts.events import AlertMapper, make_test_alert
from standfast.cluster.definition import ClusterDef, load_definition, save_definition
from standfast.cluster.peer import PeerError, PeerUnreachable
from standfast.engine.events import EventRecord
from standfast.messages import Notice, StandfastError

if TYPE_CHECKING:
    from standfast.engine.core import EngineCore
    from standfast.engine.member import ClusterMember

log = logging.getLogger("standfast.alerts")

PUSH_TIMEOUT = 5.0


class AlertService:
    def __init__(self, core: EngineCore, member: ClusterMember, definition: ClusterDef) -> None:
        self.core = core
        self.member = member
        self.path: Path = core.paths.cluster_definition
        self.mapper = AlertMapper(core.server, definition.name)
        self.dispatcher = AlertDispatcher(parse_alerts(definition.alerts))
        self._tasks: set[asyncio.Task[Any]] = set()
        core.events.subscribe(self._on_event)
        member.handlers.register("offer_alerts", self._offer_handler)

    @property
    def alerts(self) -> AlertSet:
        return self.dispatcher.alerts

    def start(self) -> None:
        self.dispatcher.start()

    def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        self.dispatcher.stop()

    # -- events ---------------------------------------------------------------------

    def _on_event(self, record: EventRecord) -> None:
        alert = self.mapper.map(record)
        if alert is not None:
            self.dispatcher.offer(alert)
        if record.kind == "server_joined" and self.alerts.version > 0:
            self._spawn(self.push([record.tag]))

    def _spawn(self, coro: Any) -> None:
        try:
            task = asyncio.get_running_loop().create_task(coro)
        except RuntimeError:
            coro.close()
            return
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- the operator's commands ------------------------------------------------------

    def listing(self) -> dict[str, Any]:
        """The recipients without their secrets, with each one's delivery counts."""
        d = self.dispatcher
        return {
            "version": self.alerts.version,
            "recipients": [
                {
                    **r.public(),
                    "delivered": d.delivered.get(r.name, 0),
                    "given_up": d.given_up.get(r.name, 0),
                }
                for r in self.alerts.recipients
            ],
        }

    async def add(self, data: Mapping[str, Any]) -> dict[str, Any]:
        return await self._change(self.alerts.added(parse_recipient(data)))

    async def remove(self, name: str) -> dict[str, Any]:
        return await self._change(self.alerts.removed(name))

    async def _change(self, new: AlertSet) -> dict[str, Any]:
        self._save(new)
        self.dispatcher.replace(new)
        log.info(
            Notice.of(
                "197008", version=new.version, count=len(new.recipients), origin="this server"
            ).text("en")
        )
        reached = await self.push()
        return {"version": new.version, "replicated_to": reached}

    def _save(self, new: AlertSet) -> None:
        """Into cluster.json, the rest of the file as it is now on disk (atomic)."""
        current = load_definition(self.path)
        if current is None:
            raise StandfastError("193008", path=self.path)
        save_definition(self.path, replace(current, alerts=new.to_dict()))

    async def test(self, who: str, name: str | None = None) -> dict[str, Any]:
        alert = make_test_alert(self.core.server, self.mapper.cluster, time.time(), who)
        return {"id": alert.id, "results": await self.dispatcher.test(alert, name)}

    # -- replication ----------------------------------------------------------------

    async def push(self, peers: list[str] | None = None) -> list[str]:
        """Offer the current set to ``peers`` (default: every live peer); the peers that
        answered."""
        members = self.member.members
        targets = peers if peers is not None else sorted(members.alive() - {self.core.server})
        if not targets:
            return []
        results = await members.peers.broadcast(
            targets, "offer_alerts", {"alerts": self.alerts.to_dict()}, timeout=PUSH_TIMEOUT
        )
        reached = []
        for peer, res in results.items():
            if isinstance(res, PeerError | PeerUnreachable):
                log.warning("alert recipients not offered to %s: %s", peer, res)
            else:
                reached.append(peer)
        return reached

    async def _offer_handler(self, sender: str, params: dict[str, Any]) -> dict[str, Any]:
        return {"adopted": self.adopt(params.get("alerts"), sender)}

    def adopt(self, data: object, peer: str) -> bool:
        """Take ``data`` if newer than ours (version, then digest); False otherwise."""
        try:
            theirs = parse_alerts(data)
        except StandfastError as exc:
            version = data.get("version") if isinstance(data, dict) else "?"
            log.warning(
                Notice.of("197010", peer=peer, version=version, reason=exc.text("en")).text("en")
            )
            return False
        mine = self.alerts
        if (theirs.version, theirs.digest()) <= (mine.version, mine.digest()):
            return False
        self._save(theirs)
        self.dispatcher.replace(theirs)
        log.info(
            Notice.of(
                "197008", version=theirs.version, count=len(theirs.recipients), origin=peer
            ).text("en")
        )
        return True
