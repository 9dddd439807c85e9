"""UDP heartbeats on every communication path.

Each server sends one authenticated heartbeat datagram per path every ``interval``
seconds from its own heartbeat sockets (one per local address and port; bulk traffic
never shares them). A path is DEAD after ``interval * miss_count`` seconds without a
valid heartbeat and ALIVE again on the first valid one; a peer is alive while ANY of its
paths is alive. Timeouts use the event loop's monotonic clock.

A heartbeat carries the sender's view (its incarnation and the states of its own paths)
and a small payload dict for higher layers, so no round trip is needed. Forged,
malformed, misdirected, stale and replayed datagrams are dropped, counted and logged
(rate-limited) and never raise out of the receive path.

This module runs the service (sockets, send and watch loops, the receive path); what a
heartbeat carries is in :mod:`~standfast.cluster.heartbeat_wire`, the path and peer
state it builds in :mod:`~standfast.cluster.heartbeat_paths`, and the sockets in
:mod:`~standfast.cluster.heartbeat_socket`.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable, Iterable

from standfast.cluster.auth import (
    DROP_FORGED,
    DROP_MALFORMED,
    DROP_MISDIRECTED,
    DROP_WRONG_CLUSTER,
    DROP_WRONG_VERSION,
    OPEN_REFUSALS,
    JSONObject,
    Malformed,
    Replayed,
    ReplayGuard,
    Sealer,
    Stale,
    open_sealed,
    refusal,
)
from standfast.cluster.comm_paths import CommPath, PathEvent, PathState, PathStatus, validate_paths
from standfast.cluster.heartbeat_paths import Link, PathTable
from standfast.cluster.heartbeat_socket import Endpoint, HeartbeatProtocol, bind_heartbeat_socket
from standfast.cluster.heartbeat_wire import (
    HEARTBEAT_TYPE,
    Heartbeat,
    checked_payload,
    heartbeat_body,
    parse_heartbeat,
)
from standfast.cluster.keyring import ClusterKey
from standfast.messages.codes import FORGED_MESSAGE, REPLAYED_MESSAGE

log = logging.getLogger("standfast.cluster")

DEFAULT_CLUSTER = "standfast"
LOG_EVERY = 10.0  # seconds between log lines for the same kind of dropped datagram
STOP_TIMEOUT = 2.0
STALL_GRACE = 0.02  # after a blocked event loop, read pending datagrams before judging
#: Longer than any real round trip: an echo older than this is not counted.
MAX_ROUND_TRIP = 60.0

# Drop reasons, the keys of HeartbeatService.counters().
# (forged, malformed, wrong version, wrong cluster, misdirected: cluster.auth.refusal)
DROP_REPLAYED = "replayed"
DROP_STALE = "stale"
DROP_UNKNOWN_PATH = "unknown_path"
DROP_OLD_BOOT = "old_boot"
DROP_UNEXPECTED_TYPE = "unexpected_type"


class HeartbeatService:
    """Sends and watches heartbeats on every comm path of the local server.

    ``on_change`` is called (on the event loop) with a :class:`PathEvent` whenever a path
    changes state or an alive peer restarts; exceptions from it are logged, not raised.
    """

    def __init__(
        self,
        local_name: str,
        key: ClusterKey,
        paths: Iterable[CommPath],
        interval: float = 0.3,
        miss_count: int = 5,
        on_change: Callable[[PathEvent], None] | None = None,
        *,
        cluster: str = DEFAULT_CLUSTER,
        incarnation: int | None = None,
        skew: float = 30.0,
    ) -> None:
        if not interval > 0:
            raise ValueError("heartbeat interval must be positive")
        if isinstance(miss_count, bool) or not isinstance(miss_count, int) or miss_count < 1:
            raise ValueError("heartbeat miss_count must be a positive integer")
        self.local_name = local_name
        self.cluster = cluster
        self.interval = float(interval)
        self.miss_count = miss_count
        self.timeout = self.interval * miss_count
        self._key = key
        self._paths = validate_paths(local_name, paths)
        self._sealer = Sealer(key, cluster, local_name)
        self.incarnation = self._sealer.boot_id if incarnation is None else incarnation
        self._guard = ReplayGuard(skew=skew)
        self._table = PathTable(self._paths, self.timeout, on_change)
        self._transports: dict[Endpoint, asyncio.DatagramTransport] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._payload: JSONObject = {}
        self._counters: Counter[str] = Counter()
        self._last_log: dict[str, float] = {}
        self._suppressed: Counter[str] = Counter()
        self._loop: asyncio.AbstractEventLoop | None = None
        # (peer, network) -> (the peer's send time of its last heartbeat, when it came)
        self._echo: dict[tuple[str, str], tuple[float, float]] = {}
        self._rtt: dict[tuple[str, str], float] = {}  # the last round trip per path

    # ------------------------------------------------------------------ public API

    def round_trips(self) -> dict[str, dict[str, float]]:
        """peer -> network -> the last measured round trip (seconds), per path heard."""
        out: dict[str, dict[str, float]] = {}
        for (peer, net), rtt in sorted(self._rtt.items()):
            out.setdefault(peer, {})[net] = rtt
        return out

    @property
    def boot_id(self) -> int:
        return self._sealer.boot_id

    @property
    def running(self) -> bool:
        return bool(self._tasks)

    async def start(self) -> None:
        """Bind the heartbeat sockets and start sending and watching.

        Raises OSError (after closing what it opened) when a socket cannot be bound;
        binding does not need the address to be configured yet (IP_FREEBIND).
        """
        if self._tasks:
            raise RuntimeError("heartbeat service already started")
        loop = asyncio.get_running_loop()
        self._loop = loop
        now = loop.time()
        for link in self._table.links.values():
            link.since = now
        try:
            for endpoint in self._table.by_endpoint:
                await self._open_endpoint(loop, endpoint)
        except BaseException:
            self._close_transports()
            raise
        self._tasks = [
            loop.create_task(self._send_loop(), name=f"heartbeat-send-{self.local_name}"),
            loop.create_task(self._watch_loop(), name=f"heartbeat-watch-{self.local_name}"),
        ]

    async def stop(self) -> None:
        """Stop sending, close the sockets. Idempotent; waits at most a short deadline."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=STOP_TIMEOUT)
        self._close_transports()

    def path_states(self) -> dict[str, dict[str, PathState]]:
        return self._table.path_states()

    def path_details(self) -> dict[str, dict[str, PathStatus]]:
        return self._table.path_details()

    def peers(self) -> list[str]:
        return sorted(self._table.peers)

    def peer_alive(self, peer: str) -> bool:
        """True while ANY path to ``peer`` is ALIVE; a server fails only when all are DEAD."""
        return self._table.peer_alive(peer)

    def peer_incarnation(self, peer: str) -> int | None:
        return self._table.peer_incarnation(peer)

    def peer_view(self, peer: str) -> dict[str, dict[str, PathState]]:
        """The peer's own path states, from its latest heartbeat."""
        return self._table.peer_view(peer)

    def set_payload(self, payload: JSONObject) -> None:
        """Attach ``payload`` (a small JSON object) to every following heartbeat."""
        self._payload = checked_payload(payload)

    def peer_payload(self, peer: str) -> JSONObject | None:
        """The payload of the newest heartbeat from ``peer``, or None if never heard."""
        return self._table.peer_payload(peer)

    def counters(self) -> dict[str, int]:
        """Sent/received/dropped datagram counts (see the DROP_* reasons)."""
        return dict(self._counters)

    # ------------------------------------------------------------------ sockets

    async def _open_endpoint(self, loop: asyncio.AbstractEventLoop, endpoint: Endpoint) -> None:
        sock = bind_heartbeat_socket(endpoint)
        transport, _ = await loop.create_datagram_endpoint(
            lambda: HeartbeatProtocol(endpoint, self._on_datagram, self._count), sock=sock
        )
        self._transports[endpoint] = transport

    def _close_transports(self) -> None:
        transports, self._transports = self._transports, {}
        for transport in transports.values():
            transport.abort()

    # ------------------------------------------------------------------ sending

    def send_now(self) -> None:
        """Send the current payload on every path at once, besides the regular beats (a
        stopping daemon's last word, ``engine/leave.py``). Never blocks or raises."""
        self._send_all()

    def _send_all(self) -> None:
        view = self._table.wire_view()
        now = asyncio.get_running_loop().time()
        for link in self._table.links.values():
            transport = self._transports.get(link.path.local_endpoint)
            if transport is None or transport.is_closing():
                continue
            heard = self._echo.get(link.path.key)
            echo = (heard[0], now - heard[1]) if heard is not None else None
            body = heartbeat_body(
                link.path.network_name,
                self.incarnation,
                self.interval,
                view,
                self._payload,
                sent=now,
                echo=echo,
            )
            try:
                data = self._sealer.seal(link.path.peer_server, HEARTBEAT_TYPE, body)
                transport.sendto(data, link.path.peer_endpoint)
            except (OSError, ValueError) as exc:
                self._count("send_errors")
                log.debug("heartbeat to %s on %s not sent: %s", *link.path.key, exc)
                continue
            link.sent += 1
            self._count("sent")

    async def _send_loop(self) -> None:
        loop = asyncio.get_running_loop()
        next_send = loop.time()
        while True:
            self._send_all()
            next_send += self.interval
            now = loop.time()
            if next_send < now:  # the loop was held up: skip, do not burst
                next_send = now
            await asyncio.sleep(next_send - now)

    # ------------------------------------------------------------------ watching

    async def _watch_loop(self) -> None:
        loop = asyncio.get_running_loop()
        expected = loop.time()
        while True:
            now = loop.time()
            if now - expected > self.interval:
                # The event loop itself was held up: heartbeats may be waiting unread in
                # the socket buffers. Let the receive path run before judging any path.
                log.warning(
                    "heartbeat watch woke %.2f s late: the event loop was blocked", now - expected
                )
                expected = now + STALL_GRACE
                await asyncio.sleep(STALL_GRACE)
                continue
            wake = self._table.expire(now, now + self.interval)
            expected = wake
            await asyncio.sleep(max(0.0, wake - loop.time()))

    # ------------------------------------------------------------------ receiving

    def _count(self, what: str) -> None:
        self._counters[what] += 1

    def _drop(self, reason: str, code: str, source: str, detail: object) -> None:
        self._count(reason)
        now = self._loop.time() if self._loop is not None else 0.0
        last = self._last_log.get(reason)
        if last is not None and now - last < LOG_EVERY:
            self._suppressed[reason] += 1
            return
        self._last_log[reason] = now
        more = self._suppressed.pop(reason, 0)
        log.warning(
            "%s: dropped %s heartbeat datagram from %s: %s%s",
            code,
            reason.replace("_", " "),
            source,
            detail,
            f" ({more} more since the last report)" if more else "",
        )

    def _on_datagram(self, endpoint: Endpoint, data: bytes, source: str) -> None:
        self._count("received")
        try:
            envelope = open_sealed(self._key, data, cluster=self.cluster, receiver=self.local_name)
        except OPEN_REFUSALS as exc:
            self._drop(*refusal(exc), source, exc)
            return
        if envelope.msg_type != HEARTBEAT_TYPE:
            self._drop(DROP_UNEXPECTED_TYPE, FORGED_MESSAGE, source, envelope.msg_type)
            return
        try:
            beat = parse_heartbeat(envelope.body)
        except Malformed as exc:
            self._drop(DROP_MALFORMED, FORGED_MESSAGE, source, exc)
            return
        link = self._table.find_link(endpoint, envelope.sender, source)
        if link is None or link.path.network_name != beat.network:
            self._drop(
                DROP_UNKNOWN_PATH,
                FORGED_MESSAGE,
                source,
                f"no comm path from {envelope.sender!r} at {source} on network "
                f"{beat.network!r} to {endpoint[0]} port {endpoint[1]}",
            )
            return
        try:
            self._guard.check(envelope, path=link.path.network_name)
        except Replayed as exc:
            self._drop(DROP_REPLAYED, REPLAYED_MESSAGE, source, exc)
            return
        except Stale as exc:
            self._drop(DROP_STALE, REPLAYED_MESSAGE, source, exc)
            return
        self._accept(link, envelope.boot_id, envelope.seq, envelope.timestamp, beat, source)

    def _accept(
        self,
        link: Link,
        boot_id: int,
        seq: int,
        timestamp: float,
        beat: Heartbeat,
        source: str,
    ) -> None:
        peer = self._table.peers[link.path.peer_server]
        restarted = False
        if peer.boot_id is None or boot_id == peer.boot_id:
            newest = peer.boot_id is None or seq > peer.last_seq
        elif timestamp > peer.last_timestamp:
            newest = restarted = True
        else:
            # Authentic but from an earlier daemon start, delayed on another path.
            self._drop(DROP_OLD_BOOT, REPLAYED_MESSAGE, source, f"old boot id {boot_id:#x}")
            return
        if newest:
            peer.boot_id = boot_id
            peer.last_seq = seq
            peer.last_timestamp = timestamp
            peer.incarnation = beat.incarnation
            peer.payload = beat.payload
            peer.view = beat.view
        assert self._loop is not None
        now = self._loop.time()
        link.last_heard = now
        link.received += 1
        if beat.sent is not None:
            self._echo[link.path.key] = (beat.sent, now)
        if beat.echo is not None:
            rtt = now - beat.echo[0] - beat.echo[1]
            if 0.0 <= rtt < MAX_ROUND_TRIP:  # an echo from before a restart is no trip
                self._rtt[link.path.key] = rtt
        link.peer_incarnation = beat.incarnation
        link.peer_view = beat.view.get(self.local_name, {}).get(link.path.network_name)
        self._count("accepted")
        if link.state is PathState.DEAD:
            self._table.transition(link, PathState.ALIVE, now, restarted=restarted)
        elif restarted:
            log.info(
                "server %s restarted (new boot id %#x) while its paths were alive",
                link.path.peer_server,
                boot_id,
            )
            self._table.transition(link, PathState.ALIVE, now, restarted=True)


__all__ = [
    "DROP_FORGED",
    "DROP_MALFORMED",
    "DROP_MISDIRECTED",
    "DROP_OLD_BOOT",
    "DROP_REPLAYED",
    "DROP_STALE",
    "DROP_UNKNOWN_PATH",
    "DROP_WRONG_CLUSTER",
    "DROP_WRONG_VERSION",
    "HeartbeatService",
]
