"""The engine's view of the other servers: heartbeats, their published states,
quorum, and the peer channel for requests.

Every server publishes, in its heartbeat payload, its configuration version and
digest and the state of each of its resources. Placement reads only these views
(plus its own states), so one cycle's decision rests on one consistent snapshot.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from standfast.cluster.definition import ClusterDef
from standfast.cluster.heartbeat import HeartbeatService
from standfast.cluster.paths import PathEvent
from standfast.cluster.peer import PeerClient, PeerServer
from standfast.cluster.quorum import (
    QuorumConfig,
    QuorumInput,
    QuorumMode,
    WitnessView,
    decide_quorum,
)
from standfast.cluster.witness import StorageWitness, ask_witness
from standfast.model.states import State

log = logging.getLogger("standfast.cluster")

Handler = Callable[[str, str, dict[str, Any]], Awaitable[dict[str, Any]]]


@dataclass
class PeerNews:
    """What happened to peers since the engine last looked."""

    failed: dict[str, float] = field(default_factory=dict)  # peer -> detection time
    joined: dict[str, float] = field(default_factory=dict)


def _witness_ended(task: asyncio.Task[None]) -> None:
    """The witness loop runs for the daemon's life: an end other than cancellation is
    an error an administrator must see (quorum then never counts the witness)."""
    if task.cancelled():
        return
    exc = task.exception()
    log.error("192004: witness loop stopped: %s", exc or "returned", exc_info=exc)


class Membership:
    def __init__(self, definition: ClusterDef, key: bytes, local: str, handler: Handler) -> None:
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
        self._witness_task: asyncio.Task[None] | None = None

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

    async def stop(self) -> None:
        if self._witness_task is not None:
            self._witness_task.cancel()
        await self.heartbeat.stop()
        await self.peer_server.stop()

    def _on_change(self, event: PathEvent) -> None:
        # The heartbeat service logs path and server changes itself (191005-191007).
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
        window = hb.interval * max(hb.miss_count - 2, 1)
        now = asyncio.get_running_loop().time()
        out = set()
        for peer, nets in self.heartbeat.path_details().items():
            if any(
                st.last_heard is not None and now - st.last_heard < window for st in nets.values()
            ):
                out.add(peer)
        return frozenset(out)

    def quorum(self) -> tuple[bool, int, int]:
        """(has quorum, votes present, votes needed). Majority is the default from
        three servers; with two, votes alone cannot tell a partition from a crash, so
        two servers need a witness (or run without quorum)."""
        d = self.definition
        total = len(d.servers)
        if d.quorum == "none" or (d.quorum == "majority" and total < 3):
            return True, len(self.alive()), 0
        config = QuorumConfig(
            mode=QuorumMode(d.quorum),
            servers=tuple(sorted(d.servers)),
            loss_action=d.quorum_loss_action,
        )
        status = decide_quorum(
            config,
            QuorumInput(self.local, self.fresh_peers(), self.witness_view, now=time.monotonic()),
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

    def publish(
        self,
        version: int,
        digest: str,
        states: Mapping[str, State],
        quorum: bool,
        since: Mapping[str, float],
    ) -> None:
        self.heartbeat.set_payload(
            {
                "v": version,
                "dg": digest,
                "q": int(quorum),
                # OSU, the usual state of a backup, goes unsaid: peers read a missing
                # tag of a server they hear as OSU (peer_states_known).
                "st": {tag: str(s) for tag, s in sorted(states.items()) if s is not State.OSU},
                "sn": {tag: round(t, 3) for tag, t in sorted(since.items())},
            }
        )

    def peer_info(self, peer: str) -> dict[str, Any] | None:
        payload = self.heartbeat.peer_payload(peer)
        return dict(payload) if payload else None

    def peer_states(self, peer: str) -> dict[str, State]:
        info = self.peer_info(peer) or {}
        raw = info.get("st") or {}
        out: dict[str, State] = {}
        if isinstance(raw, dict):
            for tag, s in raw.items():
                try:
                    out[str(tag)] = State(str(s))
                except ValueError:
                    out[str(tag)] = State.UNKNOWN
        return out

    def peer_states_known(self, peer: str, tags: Iterable[str]) -> dict[str, State]:
        """``peer``'s state of each of ``tags`` (its copies): what its heartbeat says,
        OSU for a tag it leaves out; nothing before its first heartbeat."""
        if self.peer_info(peer) is None:
            return {}
        reported = self.peer_states(peer)
        return {**{t: State.OSU for t in tags}, **reported}

    def peer_since(self, peer: str) -> dict[str, float]:
        raw = (self.peer_info(peer) or {}).get("sn") or {}
        return {str(k): float(v) for k, v in raw.items()} if isinstance(raw, dict) else {}

    def paths(self) -> dict[str, dict[str, str]]:
        return {
            peer: {net: str(state) for net, state in nets.items()}
            for peer, nets in self.heartbeat.path_states().items()
        }
