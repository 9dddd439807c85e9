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
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
import socket
import sys
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from standfast.cluster.auth import (
    BadSignature,
    JSONObject,
    JSONValue,
    Malformed,
    Misdirected,
    Replayed,
    ReplayGuard,
    Sealer,
    Stale,
    WrongCluster,
    open_sealed,
)
from standfast.cluster.messages_codes import (
    FORGED_MESSAGE,
    HEARTBEAT_BIND_FAILED,
    PATH_ALIVE,
    PATH_DEAD,
    REPLAYED_MESSAGE,
    SERVER_FAILED,
)
from standfast.cluster.paths import CommPath, PathEvent, PathState, PathStatus, validate_paths

log = logging.getLogger("standfast.cluster")

HEARTBEAT_TYPE = "heartbeat"
DEFAULT_CLUSTER = "standfast"
MAX_PAYLOAD_BYTES = 32768  # leaves room in a 64 KiB datagram for the envelope
LOG_EVERY = 10.0  # seconds between log lines for the same kind of dropped datagram
STOP_TIMEOUT = 2.0
STALL_GRACE = 0.02  # after a blocked event loop, read pending datagrams before judging
_IP_FREEBIND = 15  # Linux, not exported by the socket module
_IPV6_FREEBIND = 78
_TOS_NETWORK_CONTROL = 0xC0  # DSCP CS6, as routing protocols and corosync use

# Drop reasons, the keys of HeartbeatService.counters().
DROP_FORGED = "forged"
DROP_MALFORMED = "malformed"
DROP_WRONG_CLUSTER = "wrong_cluster"
DROP_MISDIRECTED = "misdirected"
DROP_REPLAYED = "replayed"
DROP_STALE = "stale"
DROP_UNKNOWN_PATH = "unknown_path"
DROP_OLD_BOOT = "old_boot"
DROP_UNEXPECTED_TYPE = "unexpected_type"


@dataclass(slots=True)
class _Link:
    path: CommPath
    state: PathState
    since: float
    last_heard: float | None = None
    peer_incarnation: int | None = None
    peer_view: PathState | None = None
    received: int = 0
    sent: int = 0


@dataclass(slots=True)
class _Peer:
    boot_id: int | None = None
    last_seq: int = 0
    last_timestamp: float = 0.0
    incarnation: int | None = None
    payload: JSONObject = field(default_factory=dict)
    view: dict[str, dict[str, PathState]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _Heartbeat:
    network: str
    incarnation: int
    view: dict[str, dict[str, PathState]]
    payload: JSONObject


def _parse_heartbeat(body: JSONObject) -> _Heartbeat:
    net = body.get("net")
    inc = body.get("inc")
    view_raw = body.get("view")
    payload = body.get("payload", {})
    if not isinstance(net, str) or isinstance(inc, bool) or not isinstance(inc, int):
        raise Malformed("heartbeat lacks its network or incarnation")
    if not isinstance(view_raw, dict) or not isinstance(payload, dict):
        raise Malformed("heartbeat view or payload is not an object")
    view: dict[str, dict[str, PathState]] = {}
    for peer, nets in view_raw.items():
        if not isinstance(nets, dict):
            raise Malformed("heartbeat view entry is not an object")
        entry: dict[str, PathState] = {}
        for network, state in nets.items():
            if state not in (PathState.ALIVE.value, PathState.DEAD.value):
                raise Malformed(f"heartbeat view holds unknown state {state!r}")
            entry[network] = PathState(state)
        view[peer] = entry
    return _Heartbeat(net, inc, view, payload)


class _HeartbeatProtocol(asyncio.DatagramProtocol):
    def __init__(self, service: HeartbeatService, endpoint: tuple[str, int]) -> None:
        self._service = service
        self._endpoint = endpoint

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        try:
            self._service._on_datagram(self._endpoint, data, str(addr[0]))
        except Exception:  # the receive path must never raise into the loop
            self._service._count("internal_error")
            log.exception("unexpected error while handling a heartbeat datagram")

    def error_received(self, exc: Exception) -> None:
        # ICMP errors and send failures (link down, no route): the timeout handles them.
        self._service._count("socket_errors")
        log.debug("heartbeat socket %s:%d: %s", *self._endpoint, exc)


class HeartbeatService:
    """Sends and watches heartbeats on every comm path of the local server.

    ``on_change`` is called (on the event loop) with a :class:`PathEvent` whenever a path
    changes state or an alive peer restarts; exceptions from it are logged, not raised.
    """

    def __init__(
        self,
        local_name: str,
        key: bytes,
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
        self._on_change = on_change
        self._sealer = Sealer(key, cluster, local_name)
        self.incarnation = self._sealer.boot_id if incarnation is None else incarnation
        self._guard = ReplayGuard(skew=skew)
        self._links: dict[tuple[str, str], _Link] = {
            p.key: _Link(p, PathState.DEAD, 0.0) for p in self._paths
        }
        self._peers: dict[str, _Peer] = {p.peer_server: _Peer() for p in self._paths}
        self._by_endpoint: dict[tuple[str, int], list[_Link]] = {}
        for link in self._links.values():
            self._by_endpoint.setdefault(link.path.local_endpoint, []).append(link)
        self._transports: dict[tuple[str, int], asyncio.DatagramTransport] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._payload: JSONObject = {}
        self._counters: Counter[str] = Counter()
        self._last_log: dict[str, float] = {}
        self._suppressed: Counter[str] = Counter()
        self._loop: asyncio.AbstractEventLoop | None = None

    # ------------------------------------------------------------------ public API

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
        for link in self._links.values():
            link.since = now
        try:
            for endpoint in self._by_endpoint:
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
        result: dict[str, dict[str, PathState]] = {}
        for (peer, network), link in self._links.items():
            result.setdefault(peer, {})[network] = link.state
        return result

    def path_details(self) -> dict[str, dict[str, PathStatus]]:
        result: dict[str, dict[str, PathStatus]] = {}
        for (peer, network), link in self._links.items():
            result.setdefault(peer, {})[network] = PathStatus(
                path=link.path,
                state=link.state,
                since=link.since,
                last_heard=link.last_heard,
                peer_incarnation=link.peer_incarnation,
                peer_view=link.peer_view,
                received=link.received,
                sent=link.sent,
            )
        return result

    def peers(self) -> list[str]:
        return sorted(self._peers)

    def peer_alive(self, peer: str) -> bool:
        """True while ANY path to ``peer`` is ALIVE; a server fails only when all are DEAD."""
        return any(
            link.state is PathState.ALIVE for (name, _), link in self._links.items() if name == peer
        )

    def peer_incarnation(self, peer: str) -> int | None:
        info = self._peers.get(peer)
        return None if info is None else info.incarnation

    def peer_view(self, peer: str) -> dict[str, dict[str, PathState]]:
        """The peer's own path states, from its latest heartbeat."""
        info = self._peers.get(peer)
        return {} if info is None else {k: dict(v) for k, v in info.view.items()}

    def set_payload(self, payload: JSONObject) -> None:
        """Attach ``payload`` (a small JSON object) to every following heartbeat."""
        if not isinstance(payload, dict):
            raise ValueError("heartbeat payload must be a JSON object")
        try:
            text = json.dumps(payload, sort_keys=True, separators=(",", ":"), allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"heartbeat payload is not JSON-serialisable: {exc}") from None
        if len(text) > MAX_PAYLOAD_BYTES:
            raise ValueError(
                f"heartbeat payload is {len(text)} bytes, more than {MAX_PAYLOAD_BYTES}"
            )
        self._payload = json.loads(text)

    def peer_payload(self, peer: str) -> JSONObject | None:
        """The payload of the newest heartbeat from ``peer``, or None if never heard."""
        info = self._peers.get(peer)
        if info is None or info.boot_id is None:
            return None
        copied: JSONObject = json.loads(json.dumps(info.payload))
        return copied

    def counters(self) -> dict[str, int]:
        """Sent/received/dropped datagram counts (see the DROP_* reasons)."""
        return dict(self._counters)

    # ------------------------------------------------------------------ sockets

    async def _open_endpoint(
        self, loop: asyncio.AbstractEventLoop, endpoint: tuple[str, int]
    ) -> None:
        address, port = endpoint
        v6 = ipaddress.ip_address(address).version == 6
        sock = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_DGRAM)
        try:
            if sys.platform == "linux":
                with contextlib.suppress(OSError):
                    if v6:
                        sock.setsockopt(socket.IPPROTO_IPV6, _IPV6_FREEBIND, 1)
                    else:
                        sock.setsockopt(socket.IPPROTO_IP, _IP_FREEBIND, 1)
            with contextlib.suppress(OSError):
                if v6:
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_TCLASS, _TOS_NETWORK_CONTROL)
                else:
                    sock.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, _TOS_NETWORK_CONTROL)
            sock.setblocking(False)
            sock.bind(endpoint)
        except OSError as exc:
            sock.close()
            log.error(
                "%s: cannot bind heartbeat socket %s port %d: %s",
                HEARTBEAT_BIND_FAILED,
                address,
                port,
                exc.strerror or exc,
            )
            raise
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _HeartbeatProtocol(self, endpoint), sock=sock
        )
        self._transports[endpoint] = transport

    def _close_transports(self) -> None:
        transports, self._transports = self._transports, {}
        for transport in transports.values():
            transport.abort()

    # ------------------------------------------------------------------ sending

    def _view(self) -> dict[str, JSONValue]:
        view: dict[str, JSONValue] = {}
        for (peer, network), link in self._links.items():
            entry = view.setdefault(peer, {})
            assert isinstance(entry, dict)
            entry[network] = link.state.value
        return view

    def _send_all(self) -> None:
        view = self._view()
        for link in self._links.values():
            transport = self._transports.get(link.path.local_endpoint)
            if transport is None or transport.is_closing():
                continue
            body: JSONObject = {
                "net": link.path.network_name,
                "inc": self.incarnation,
                "interval": self.interval,
                "view": view,
                "payload": self._payload,
            }
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
            wake = now + self.interval
            for link in self._links.values():
                if link.state is not PathState.ALIVE or link.last_heard is None:
                    continue
                deadline = link.last_heard + self.timeout
                if deadline <= now:
                    self._transition(link, PathState.DEAD, now)
                else:
                    wake = min(wake, deadline)
            expected = wake
            await asyncio.sleep(max(0.0, wake - loop.time()))

    def _transition(
        self, link: _Link, new: PathState, now: float, *, restarted: bool = False
    ) -> None:
        peer, network = link.path.key
        was_alive = self.peer_alive(peer)
        old = link.state
        link.state = new
        if old is not new:
            link.since = now
        alive = self.peer_alive(peer)
        if old is not new:
            if new is PathState.DEAD:
                log.warning(
                    "%s: comm path to %s on network %s (%s) is DEAD: no heartbeat for %.2f s",
                    PATH_DEAD,
                    peer,
                    network,
                    link.path.peer_address,
                    self.timeout,
                )
            else:
                log.info(
                    "%s: comm path to %s on network %s (%s) is ALIVE",
                    PATH_ALIVE,
                    peer,
                    network,
                    link.path.peer_address,
                )
            if was_alive and not alive:
                log.error(
                    "%s: server %s failed: every comm path to it is DEAD", SERVER_FAILED, peer
                )
        event = PathEvent(
            peer=peer,
            network=network,
            old_state=old,
            new_state=new,
            peer_alive=alive,
            peer_was_alive=was_alive,
            at=now,
            peer_incarnation=self._peers[peer].incarnation,
            restarted=restarted,
        )
        if self._on_change is not None:
            try:
                self._on_change(event)
            except Exception:
                log.exception("heartbeat on_change callback failed for %s", event)

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

    def _find_link(self, endpoint: tuple[str, int], sender: str, source: str) -> _Link | None:
        try:
            source_ip = str(ipaddress.ip_address(source.split("%", 1)[0]))
        except ValueError:
            return None
        for link in self._by_endpoint.get(endpoint, ()):
            if link.path.peer_server == sender and link.path.peer_address == source_ip:
                return link
        return None

    def _on_datagram(self, endpoint: tuple[str, int], data: bytes, source: str) -> None:
        self._count("received")
        try:
            envelope = open_sealed(self._key, data, cluster=self.cluster, receiver=self.local_name)
        except BadSignature as exc:
            self._drop(DROP_FORGED, FORGED_MESSAGE, source, exc)
            return
        except Malformed as exc:
            self._drop(DROP_MALFORMED, FORGED_MESSAGE, source, exc)
            return
        except WrongCluster as exc:
            self._drop(DROP_WRONG_CLUSTER, FORGED_MESSAGE, source, exc)
            return
        except Misdirected as exc:
            self._drop(DROP_MISDIRECTED, FORGED_MESSAGE, source, exc)
            return
        if envelope.msg_type != HEARTBEAT_TYPE:
            self._drop(DROP_UNEXPECTED_TYPE, FORGED_MESSAGE, source, envelope.msg_type)
            return
        try:
            beat = _parse_heartbeat(envelope.body)
        except Malformed as exc:
            self._drop(DROP_MALFORMED, FORGED_MESSAGE, source, exc)
            return
        link = self._find_link(endpoint, envelope.sender, source)
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
        link: _Link,
        boot_id: int,
        seq: int,
        timestamp: float,
        beat: _Heartbeat,
        source: str,
    ) -> None:
        peer = self._peers[link.path.peer_server]
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
        link.peer_incarnation = beat.incarnation
        link.peer_view = beat.view.get(self.local_name, {}).get(link.path.network_name)
        self._count("accepted")
        if link.state is PathState.DEAD:
            self._transition(link, PathState.ALIVE, now, restarted=restarted)
        elif restarted:
            log.info(
                "server %s restarted (new boot id %#x) while its paths were alive",
                link.path.peer_server,
                boot_id,
            )
            self._transition(link, PathState.ALIVE, now, restarted=True)


__all__ = [
    "DROP_FORGED",
    "DROP_MALFORMED",
    "DROP_MISDIRECTED",
    "DROP_OLD_BOOT",
    "DROP_REPLAYED",
    "DROP_STALE",
    "DROP_UNKNOWN_PATH",
    "DROP_WRONG_CLUSTER",
    "HeartbeatService",
]
