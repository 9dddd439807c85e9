"""The engine's view of the other servers: heartbeats, their published states,
quorum, and the peer channel for requests.

Every server publishes, in its heartbeat payload, a ``HeartbeatReport``
(``cluster/report.py``): its configuration version and digest, quorum, and the
state of each of its resources. Placement reads only these views
(plus its own states), so one cycle's decision rests on one consistent snapshot.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from standfast.cluster.comm_paths import PathEvent
from standfast.cluster.definition import ClusterDef, etcd_settings
from standfast.cluster.etcd_arbiter import EtcdArbiter
from standfast.cluster.heartbeat import HeartbeatService
from standfast.cluster.keyring import ClusterKey
from standfast.cluster.peer import PeerClient, PeerServer
from standfast.cluster.quorum import (
    QuorumConfig,
    QuorumInput,
    QuorumMode,
    WitnessView,
    decide_quorum,
)
from standfast.cluster.report import HeartbeatReport
from standfast.cluster.storage_witness import StorageWitness
from standfast.cluster.witness import ask_witness
from standfast.engine.partition import agreed_voters, choose_partition, fresh_window

log = logging.getLogger("standfast.cluster")

Handler = Callable[[str, str, dict[str, Any]], Awaitable[dict[str, Any]]]


@dataclass
class PeerNews:
    """What happened to peers since the engine last looked."""

    failed: dict[str, float] = field(default_factory=dict)  # peer -> detection time
    joined: dict[str, float] = field(default_factory=dict)
    restarted: set[str] = field(default_factory=set)  # joined with a new boot id
    paths: list[tuple[str, str, str]] = field(default_factory=list)  # (peer, network, state)


def _witness_ended(task: asyncio.Task[None]) -> None:
    """The witness loop runs for the daemon's life: an end other than cancellation is
    an error an administrator must see (quorum then never counts the witness)."""
    if task.cancelled():
        return
    exc = task.exception()
    log.error("192004: witness loop stopped: %s", exc or "returned", exc_info=exc)


class Membership:
    def __init__(
        self, definition: ClusterDef, key: ClusterKey, local: str, handler: Handler
    ) -> None:
        self.definition = definition
        self.local = local
        hb = definition.heartbeat
        self.heartbeat = HeartbeatService(
            local,
            key,
            definition.comm_paths(local),
            hb.interval,
            hb.miss_count,
            on_change=self._on_change,
            cluster=definition.name,
        )
        self.peer_server = PeerServer(
            local, definition.name, key, definition.listen_endpoints(local), handler
        )
        self.peers = PeerClient(local, definition.name, key, definition.peer_endpoints(local))
        self.started_at = time.monotonic()
        self.news = PeerNews()
        self.failed_at: dict[str, float] = {}  # peer -> when it was declared failed
        # peer -> the last heartbeat heard from it before it was declared failed: the
        # failure happened after this, so "last heard -> in service here" bounds the outage.
        self.last_heard_at: dict[str, float] = {}
        self._key = key
        self.witness_view = WitnessView(reachable=False, granted=False, detail="not asked yet")
        # This server's agreed membership (update_partition): whom it hears, the
        # partition it counts itself in, and each peer's published partition.
        self.sees: frozenset[str] = frozenset({local})
        self.partition: frozenset[str] = frozenset({local})
        self.partitions: dict[str, frozenset[str]] = {}
        self._witness_task: asyncio.Task[None] | None = None
        #: With quorum etcd: the holder keys and this server's lease.
        self.arbiter: EtcdArbiter | None = None
        if definition.quorum == "etcd":
            self.arbiter = EtcdArbiter(etcd_settings(definition), local)

    @property
    def settle_time(self) -> float:
        """How long after start this server waits before placing hierarchies: long
        enough to hear every live peer, so it never takes what another server runs."""
        hb = self.definition.heartbeat
        return hb.interval * hb.miss_count + 2 * hb.interval

    def settled(self) -> bool:
        return time.monotonic() - self.started_at >= self.settle_time

    async def start(self) -> None:
        await self.peer_server.start()
        await self.heartbeat.start()
        self.started_at = time.monotonic()
        if self.definition.quorum in ("tcp_witness", "storage_witness"):
            self._witness_task = asyncio.create_task(self._witness_loop())
            self._witness_task.add_done_callback(_witness_ended)
        if self.arbiter is not None:
            self._witness_task = asyncio.create_task(self.arbiter.run())
            self._witness_task.add_done_callback(_witness_ended)

    async def stop(self) -> None:
        if self._witness_task is not None:
            self._witness_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._witness_task, 2.0)
        await self.heartbeat.stop()
        await self.peer_server.stop()

    def _on_change(self, event: PathEvent) -> None:
        # The heartbeat service logs path and server changes itself (191005-191007).
        self.news.paths.append((event.peer, event.network, str(event.new_state)))
        if event.peer_failed:
            now = time.monotonic()
            self.news.failed[event.peer] = now
            self.failed_at[event.peer] = now
            heard = [
                st.last_heard
                for st in self.heartbeat.path_details().get(event.peer, {}).values()
                if st.last_heard is not None
            ]
            if heard:
                # The heartbeat's clock is the event loop's (monotonic); map it to ours.
                loop_now = asyncio.get_running_loop().time()
                self.last_heard_at[event.peer] = now - (loop_now - max(heard))
        if event.peer_joined or event.restarted:
            self.news.joined[event.peer] = time.monotonic()
        if event.restarted:
            self.news.restarted.add(event.peer)

    def take_news(self) -> PeerNews:
        news, self.news = self.news, PeerNews()
        return news

    def alive(self) -> frozenset[str]:
        return frozenset(
            {self.local}
            | {p for p in self.definition.peers(self.local) if self.heartbeat.peer_alive(p)}
        )

    def fresh_peers(self) -> frozenset[str]:
        """Peers heard within (miss_count - 2) intervals on some path: stricter than
        "alive", so a cut-off server gives up its quorum (and its hierarchies) two
        intervals before the majority declares it failed and takes them over."""
        hb = self.definition.heartbeat
        window = fresh_window(hb.interval, hb.miss_count)
        now = asyncio.get_running_loop().time()
        out = set()
        for peer, nets in self.heartbeat.path_details().items():
            if any(
                st.last_heard is not None and now - st.last_heard < window for st in nets.values()
            ):
                out.add(peer)
        return frozenset(out)

    def update_partition(self) -> None:
        """Choose this server's partition from whom it hears and whom its peers say
        they hear (once per cycle, before ``quorum`` and ``publish``)."""
        sees = self.fresh_peers() | {self.local}
        reports = {p: self.peer_report(p) for p in sees - {self.local}}
        reported = {p: r.sees for p, r in reports.items() if r is not None and r.sees}
        self.sees = sees
        self.partition = choose_partition(self.local, sees, reported, self.partition)
        self.partitions = {
            p: r.partition for p, r in reports.items() if r is not None and r.partition
        }

    def quorum(self) -> tuple[bool, int, int]:
        """(has quorum, votes present, votes needed). Majority is the default from
        three servers; with two, votes alone cannot tell a partition from a crash, so
        two servers need a witness (or run without quorum). Majority counts only the
        agreed members of this server's partition (``engine/partition.py``)."""
        d = self.definition
        total = len(d.servers)
        if d.quorum == "none" or (d.quorum == "majority" and total < 3):
            return True, len(self.alive()), 0
        arbiter = self.arbiter
        config = QuorumConfig(
            mode=QuorumMode(d.quorum),
            servers=tuple(sorted(d.servers)),
            loss_action=d.quorum_loss_action,
            keep_on_arbiter_loss=arbiter is not None and arbiter.settings.on_loss == "keep",
        )
        if arbiter is not None:
            self.witness_view = arbiter.view()
        voters = self.fresh_peers()
        if d.quorum == "majority":
            voters = agreed_voters(self.local, self.partition, self.partitions)
        status = decide_quorum(
            config, QuorumInput(self.local, voters, self.witness_view, now=time.monotonic())
        )
        return status.has_quorum, status.votes_present, status.votes_needed

    async def _witness_loop(self) -> None:
        """Ask the witness once a second; its answer is part of the next quorum."""
        d = self.definition
        w = d.witness
        storage = None
        if d.quorum == "storage_witness":
            io_timeout = float(w.get("io_timeout", 2.0))
            storage = StorageWitness(
                Path(str(w["lease_path"])), self.local, float(w.get("ttl", 6.0)), io_timeout
            )
        while True:
            try:
                if storage is not None:
                    view = await storage.renew_or_acquire_async()
                else:
                    view = await ask_witness(
                        str(w["host"]),
                        int(w["port"]),
                        self._key,
                        self.local,
                        sorted(self.fresh_peers() | {self.local}),
                        timeout=float(w.get("timeout", 1.0)),
                        cluster=d.name,
                    )
            except Exception as exc:  # the witness must never stop this loop
                view = WitnessView(reachable=False, granted=False, detail=str(exc))
            if view.reachable != self.witness_view.reachable:
                code = "192005" if view.reachable else "192004"
                log.warning(
                    "%s: witness %s (%s)",
                    code,
                    "reachable" if view.reachable else "unreachable",
                    view.detail,
                )
            self.witness_view = view
            await asyncio.sleep(1.0)

    def publish(self, report: HeartbeatReport) -> None:
        """What this server tells its peers from its next heartbeat on (with whom it
        hears and its partition, from the last ``update_partition``)."""
        report = replace(report, sees=self.sees, partition=self.partition)
        self.heartbeat.set_payload(report.encode())

    def peer_report(self, peer: str) -> HeartbeatReport | None:
        """``peer``'s last heartbeat report; None before its first heartbeat."""
        return HeartbeatReport.decode(self.heartbeat.peer_payload(peer))

    def paths(self) -> dict[str, dict[str, str]]:
        return {
            peer: {net: str(state) for net, state in nets.items()}
            for peer, nets in self.heartbeat.path_states().items()
        }
