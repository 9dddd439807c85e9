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
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from standfast.cluster.definition import ClusterDef
from standfast.cluster.heartbeat import HeartbeatService
from standfast.cluster.paths import PathEvent
from standfast.cluster.peer import PeerClient, PeerServer
from standfast.model.states import State

log = logging.getLogger("standfast.cluster")

Handler = Callable[[str, str, dict[str, Any]], Awaitable[dict[str, Any]]]


@dataclass
class PeerNews:
    """What happened to peers since the engine last looked."""

    failed: dict[str, float] = field(default_factory=dict)  # peer -> detection time
    joined: dict[str, float] = field(default_factory=dict)


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

    async def stop(self) -> None:
        await self.heartbeat.stop()
        await self.peer_server.stop()

    def _on_change(self, event: PathEvent) -> None:
        # The heartbeat service logs path and server changes itself (191005-191007).
        if event.peer_failed:
            now = time.monotonic()
            self.news.failed[event.peer] = now
            self.failed_at[event.peer] = now
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
        three servers; with two, a partition cannot be told from a crash by votes."""
        total = len(self.definition.servers)
        mode = self.definition.quorum
        if mode == "none" or total < 3:
            return True, len(self.alive()), 0
        needed = total // 2 + 1
        present = 1 + len(self.fresh_peers())
        return present >= needed, present, needed

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
                "st": {tag: str(s) for tag, s in sorted(states.items())},
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

    def peer_since(self, peer: str) -> dict[str, float]:
        raw = (self.peer_info(peer) or {}).get("sn") or {}
        return {str(k): float(v) for k, v in raw.items()} if isinstance(raw, dict) else {}

    def paths(self) -> dict[str, dict[str, str]]:
        return {
            peer: {net: str(state) for net, state in nets.items()}
            for peer, nets in self.heartbeat.path_states().items()
        }
