"""The engine's one door: the queries and commands the API (local socket and HTTPS)
and the CLI use. Nothing outside ``engine/`` reads engine internals.

Contracts:
- Queries answer from this server's memory at once (never a peer request, never I/O
  that can hang), except ``nfs_mounts`` (the mount table, a procfs read) and
  ``peer_certificate`` (one bounded peer request).
- Commands are the operator actions: each is bounded (SF_ACTION_TIMEOUT for locks and
  every kit or peer call), refuses with a numbered StandfastError that changes
  nothing, and returns an ``ActionOutcome``. Cluster-only commands on a lone server
  are refused with 193008.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from standfast.cluster.keyring import MIN_KEY_BYTES, ClusterKey
from standfast.engine import health as rules
from standfast.engine import views
from standfast.engine.actions import ActionOutcome
from standfast.engine.engine import Engine
from standfast.engine.events import EventRecord
from standfast.engine.health import Answer
from standfast.engine.simulate import Fault, simulate
from standfast.kits import nas
from standfast.kits.ocf import OcfKit
from standfast.kits.registry import KITS
from standfast.messages import Notice, StandfastError
from standfast.model.event_query import EventQuery, event_from_backup
from standfast.model.resources import PropValue
from standfast.model.states import State, Switchback
from standfast.store.history import EventHistory

if TYPE_CHECKING:  # a cluster member's only (engine.engine imports it for one)
    from standfast.alerts.service import AlertService

log = logging.getLogger(__name__)

#: A history query or merge reads or writes the local database; it gets this long.
HISTORY_DEADLINE = 20.0


class EngineService:
    def __init__(self, engine: Engine, history: EventHistory | None = None) -> None:
        self._engine = engine
        # The lasting event history (None: the in-memory one only, as in tests).
        self._history = history
        self._core = engine.core
        self._role = engine.role
        self._actions = engine.actions

    # -- queries -------------------------------------------------------------------------

    @property
    def server(self) -> str:
        return self._core.server

    @property
    def action_timeout(self) -> float:
        return float(self._core.tunables.SF_ACTION_TIMEOUT)

    @property
    def tls_dir(self) -> Path:
        """Where the remote API keeps the certificate it makes for itself."""
        return self._core.paths.data_dir / "tls"

    def status(self) -> dict[str, object]:
        return views.status(self._role.snapshot())

    def cluster_view(self) -> dict[str, object]:
        """Every resource instance on every server, as the GUI's table shows it."""
        return views.gui_view(self._role.snapshot())

    def events(self, since: float = 0.0) -> list[EventRecord]:
        return self._core.events.since(since)

    async def event_history(self, query: EventQuery) -> list[EventRecord]:
        """The stored events matching ``query`` (checked: its numbered refusal), newest
        ``limit``, oldest first; a local database read bounded by HISTORY_DEADLINE."""
        query = query.checked()
        if self._history is None:
            return [e for e in query.select(self._core.events) if isinstance(e, EventRecord)]
        return await asyncio.wait_for(
            asyncio.to_thread(self._history.query, query), HISTORY_DEADLINE
        )

    def kits(self) -> list[dict[str, object]]:
        """Every kit and its properties; the ocf kit also lists the agents installed
        here (a directory listing, no agent is run)."""
        out: list[dict[str, object]] = []
        for k in KITS.values():
            row: dict[str, object] = {
                "name": k.name,
                "description": k.description,
                "properties": [p.to_dict() for p in k.schema],
            }
            if isinstance(k, OcfKit):
                row["agents"] = k.agents(self._core.context())
            out.append(row)
        return out

    async def ocf_agent(self, agent: str) -> dict[str, object]:
        """One OCF agent's properties from its meta-data (run in the action runner,
        bounded; cached per agent version): what the CLI and the GUI's form show."""
        kit, ctx = OcfKit(), self._core.context()
        return await self._core.call(
            lambda: kit.agent_schema(ctx, agent),
            deadline=self.action_timeout,
            action="meta-data",
            tag=agent,
        )

    def nfs_mounts(self) -> list[dict[str, str]]:
        """The NFS mounts a NAS hierarchy can be created from (the NAS kit's answer)."""
        return nas.mount_candidates(self._core.context(), self._core.config)

    def config(self) -> dict[str, object]:
        """The whole configuration, for ``standfast config backup``."""
        return self._core.config.to_dict()

    def tunables(self) -> dict[str, object]:
        return self._core.tunables.as_dict()

    def resource(self, tag: str) -> dict[str, object]:
        """One local resource with its state and neighbours; 000019 if unknown."""
        core = self._core
        res = core.resource(tag)
        graph = core.graph()
        return {
            **res.to_dict(),
            "state": str(core.states.get(tag, State.UNKNOWN)),
            "reason": core.reasons.get(tag, ""),
            "parents": graph.parents(tag),
            "children": graph.children(tag),
        }

    def pending_confirmations(self) -> list[dict[str, object]]:
        return self._role.pending_confirmations()

    def simulate(self, fault: str, server: str) -> dict[str, object]:
        """What ``fault`` on ``server`` would do to every hierarchy; acts on nothing."""
        try:
            kind = Fault(fault)
        except ValueError:
            raise StandfastError(
                "190206", detail=f"fault must be one of {', '.join(f.value for f in Fault)}"
            ) from None
        snap = self._role.snapshot()
        outcomes = simulate(snap, self._role.gate_context(), kind, server)
        return {
            "fault": kind.value,
            "server": server,
            "asked": snap.local,
            "quorum_after": all(o.wait != "quorum" for o in outcomes),
            "hierarchies": [o.to_dict() for o in outcomes],
        }

    # -- monitoring: metrics and health (docs/monitoring.md) ------------------------------

    def metrics(self) -> bytes:
        """Every metric in the Prometheus text format (``metrics.CONTENT_TYPE``)."""
        return self._engine.metrics.exposition()

    def _loop_age(self) -> float:
        return max(0.0, time.monotonic() - self._engine.last_cycle_at)

    def health(self) -> Answer:
        """Alive and the control loop turning."""
        return rules.health(self._loop_age())

    def readiness(self) -> Answer:
        """Healthy, quorum held, configuration current."""
        return rules.readiness(self._role.snapshot(), self._loop_age())

    def in_service_here(self, tag: str) -> Answer | None:
        """Whether ``tag``'s hierarchy is in service on this server; None when no server
        has a resource ``tag``."""
        return rules.in_service_here(self._role.snapshot(), tag)

    # -- the cluster, for the remote API's relay ----------------------------------------------

    def servers(self) -> frozenset[str]:
        """Every server of the cluster, this one included (just this one when lone)."""
        return self._role.servers()

    def addresses(self, server: str) -> list[str]:
        return self._role.addresses(server)

    def cluster_key(self) -> ClusterKey | None:
        return self._role.cluster_key()

    def cluster_name(self) -> str | None:
        """The cluster's name; None for a lone server."""
        snap = self._role.snapshot()
        return snap.name if snap.clustered else None

    def publish_certificate(self, pem: str) -> None:
        self._role.publish_certificate(pem)

    async def peer_certificate(self, server: str) -> str:
        """The certificate ``server``'s remote API serves, asked over the cluster channel."""
        reply = await self._role.ask(server, "remote_certificate", {})
        return str(reply.get("pem") or "")

    # -- alerts (a cluster member's; a lone server refuses with 193008) --------------------

    def _alerts(self) -> AlertService:
        if self._engine.alerts is None:
            raise StandfastError("193008", path=self._core.paths.cluster_definition)
        return self._engine.alerts

    def alerts(self) -> dict[str, Any]:
        """The recipients, secrets masked."""
        return self._alerts().listing()

    async def alert_add(self, recipient: Mapping[str, Any]) -> dict[str, Any]:
        """Add a recipient (197001-197003), saved and offered to every live peer."""
        return await self._alerts().add(recipient)

    async def alert_remove(self, name: str) -> dict[str, Any]:
        return await self._alerts().remove(name)

    async def alert_test(self, who: str, name: str | None = None) -> dict[str, Any]:
        """A test alert to every recipient (or ``name``), one attempt each."""
        return await self._alerts().test(who, name)

    # -- commands --------------------------------------------------------------------------

    async def create(
        self,
        kit_name: str,
        *,
        tag: str | None,
        rid: str | None,
        switchback: Switchback,
        props: Mapping[str, PropValue],
    ) -> ActionOutcome:
        return await self._actions.create(
            kit_name, tag=tag, rid=rid, switchback=switchback, props=props
        )

    async def delete(self, tag: str) -> ActionOutcome:
        return await self._actions.delete(tag)

    async def update(
        self,
        tag: str,
        *,
        props: Mapping[str, PropValue],
        switchback: Switchback | None,
        priority: int | None,
    ) -> ActionOutcome:
        return await self._actions.update(
            tag, props=props, switchback=switchback, priority=priority
        )

    async def in_service(self, tag: str) -> ActionOutcome:
        return await self._actions.in_service(tag)

    async def out_of_service(self, tag: str) -> ActionOutcome:
        return await self._actions.out_of_service(tag)

    async def drill(self, tag: str) -> ActionOutcome:
        """The switchover drill of ``tag``'s hierarchy (engine/drill.py): each move and
        deep check, timed. 193030 when it cannot start; a failed step is in the result
        (``ok`` false) with the hierarchy brought back where it could be."""
        self._core.resource(tag)  # 000019 for an unknown tag
        drill = self._engine.drill
        if drill is None:
            raise StandfastError("193030", tag=tag, reason="this server is not in a cluster")
        report = await drill.run(tag)
        return ActionOutcome(result=report.to_dict())

    async def add_dependency(self, parent: str, child: str) -> ActionOutcome:
        return await self._actions.add_dependency(parent, child)

    async def delete_dependency(self, parent: str, child: str) -> ActionOutcome:
        return await self._actions.delete_dependency(parent, child)

    async def restore_config(self, data: Mapping[str, object]) -> ActionOutcome:
        """Restore the configuration; then add the backup's events (``events``, if any)
        that the local history lacks. The local history is kept: a restore never
        deletes or rewrites what happened here. A bad ``events`` list refuses the whole
        restore (196005) before anything changes."""
        raw = data.get("events", [])
        if not isinstance(raw, list):
            raise StandfastError("196005", detail="events must be a list")
        rows = [event_from_backup(item, i) for i, item in enumerate(raw)]
        outcome = await self._actions.restore_config(data)
        if rows and self._history is not None:
            added, present = await asyncio.wait_for(
                asyncio.to_thread(self._history.merge, rows), HISTORY_DEADLINE
            )
            notice = Notice.of("196008", added=added, present=present)
            log.info(notice.text("en"))
            outcome.notices.append(notice)
            outcome.result["events_added"] = added
        return outcome

    async def extend(self, tag: str, **options: Any) -> ActionOutcome:
        result: ActionOutcome = await self._role.extend(tag, **options)
        return result

    async def unextend(self, tag: str, *, server: str) -> ActionOutcome:
        result: ActionOutcome = await self._role.unextend(tag, server=server)
        return result

    async def rekey(self, key: str | None = None, *, finish: bool = False) -> ActionOutcome:
        """A new cluster key on every server (engine/rekey.py): ``key`` in base64, or
        None for a fresh random one; ``finish`` completes a rotation that stopped.
        193008 on a lone server; 191008/191002 for a bad key (nothing changed)."""
        rotation = self._engine.rekey
        if rotation is None:
            raise StandfastError("193008", path=self._engine.core.paths.cluster_definition)
        new: bytes | None = None
        if key is not None:
            try:
                new = base64.b64decode(key.strip(), validate=True)
            except (binascii.Error, ValueError):
                raise StandfastError("191008", path="--key", reason="not base64 text") from None
            if len(new) < MIN_KEY_BYTES:
                raise StandfastError("191002", path="--key", minimum=MIN_KEY_BYTES)
        return await rotation.rotate(new, finish=finish)

    async def maintenance(self, on: bool, tag: str | None = None) -> ActionOutcome:
        """Maintenance mode on or off: the whole cluster, or ``tag``'s hierarchy."""
        return await self._engine.modes.maintenance(on, tag)

    async def standby(self, server: str, on: bool, *, force: bool = False) -> ActionOutcome:
        """``server`` in or out of standby (a cluster member only: 193008)."""
        return await self._engine.modes.standby(server, on, force=force)

    def answer_failover(self, tag: str, answer: str) -> dict[str, object]:
        return self._role.answer_failover(tag, answer)
