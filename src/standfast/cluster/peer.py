"""Request/response channel between cluster servers (bulk traffic, not heartbeats).

Every server runs a :class:`PeerServer`: one TCP listener per comm-path network. A frame
is a 4-byte big-endian length followed by one sealed :class:`~standfast.cluster.auth.Envelope`
(see :mod:`standfast.cluster.auth`). A request envelope has ``msg_type`` = the method
name, ``receiver`` = the server name and ``body`` = the parameters plus ``"_id"``, a random
request id; ``"_deadline"`` (seconds, default 30) bounds the handler. The reply is sealed
back with ``msg_type`` ``"reply"`` and body ``{"_id": id, "ok": true, "result": {...}}``
or ``{"_id": id, "ok": false, "error": {"code": ..., "message": ..., ...}}``.

Requests that fail authentication, are addressed elsewhere, look like another protocol's
message (no request id, or a ``"reply"``) or are replays (one :class:`ReplayGuard` per
sender, shared by every connection and path) get no reply: the connection is closed and
the drop is logged (191003/191004, rate-limited). Only an authenticated, well-formed
request reaches the replay guard, so reflected replies or heartbeats cannot disturb it.

:class:`PeerClient` tries a peer's addresses in preference order. It starts on the first
path; when that path fails it moves on at once, and when it is merely silent for
``min(1 s, timeout / paths)`` it also sends the request on the next path (a hedged
request) and takes the first reply. A retry carries the same request id, and the server
runs one handler per (sender, method, id) and answers every copy from it, so a request
is executed at most once however many paths carry it. Idle connections are cached per
peer and path and reused; a cached connection found dead is replaced transparently.

Only one :class:`PeerClient` per local server name should talk to a peer at a time (per
daemon): its sealer's boot id is what the peer's replay guard tracks, and a second
client with the same name would make the guard retire the first one's boot id.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import secrets
import socket
import struct
from collections import Counter, OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from standfast.cluster.auth import (
    BadSignature,
    Envelope,
    JSONObject,
    Malformed,
    Misdirected,
    Replayed,
    ReplayGuard,
    Sealer,
    Stale,
    WrongCluster,
    open_sealed,
)
from standfast.cluster.messages_codes import FORGED_MESSAGE, REPLAYED_MESSAGE
from standfast.messages import StandfastError

log = logging.getLogger("standfast.cluster")

REQUEST_FAILED: Final = "191010"
"""A request's handler failed on the serving server."""
REQUEST_TIMED_OUT: Final = "191011"
"""A request's handler overran its deadline on the serving server."""
PEER_UNREACHABLE: Final = "191012"
"""No comm path to a peer answered a request in time."""

REPLY_TYPE: Final = "reply"
ID_KEY: Final = "_id"
DEADLINE_KEY: Final = "_deadline"
DEFAULT_DEADLINE: Final = 30.0
MAX_DEADLINE: Final = 3600.0
# A frame holds one sealed envelope. Larger than a heartbeat datagram (64 KiB): a whole
# configuration travels in one (about 500 bytes per resource instance), yet bounded, as
# a frame is read whole before it is authenticated.
MAX_FRAME_SIZE: Final = 4 * 1024 * 1024
_LENGTH = struct.Struct(">I")
_ID_LENGTH = 32  # hex digits (128 random bits)

IDLE_TIMEOUT: Final = 300.0  # server closes a connection idle this long
FRAME_TIMEOUT: Final = 10.0  # the rest of a frame must follow its length within this
WRITE_TIMEOUT: Final = 10.0  # a reply must drain to the socket within this
STOP_TIMEOUT: Final = 2.0
RESULT_TTL: Final = 60.0  # how long a finished request's reply answers retried copies
MAX_REMEMBERED: Final = 4096
REPLAY_WINDOW: Final = 4096  # concurrent connections reorder sequence numbers
LOG_EVERY: Final = 10.0
MAX_HEDGE_DELAY: Final = 1.0
CLIENT_IDLE_REUSE: Final = 60.0  # client drops cached connections idle longer than this

Handler = Callable[[str, str, dict[str, Any]], Awaitable[dict[str, Any]]]
Address = tuple[str, int]

# Drop reasons, the keys of PeerServer.counters().
DROP_FORGED = "forged"
DROP_MALFORMED = "malformed"
DROP_WRONG_CLUSTER = "wrong_cluster"
DROP_MISDIRECTED = "misdirected"
DROP_NOT_REQUEST = "not_request"
DROP_REPLAYED = "replayed"
DROP_STALE = "stale"
DROP_OVERSIZE = "oversize"


# --------------------------------------------------------------------------- errors


def _open_frame(key: bytes, cluster: str, receiver: str, data: bytes) -> Envelope:
    """Authenticate one frame of the peer channel addressed to *receiver* (frames may
    be larger than a heartbeat datagram)."""
    return open_sealed(key, data, cluster=cluster, receiver=receiver, max_size=MAX_FRAME_SIZE)


class PeerError(Exception):
    """The peer answered with an error; ``code`` is its catalogue code."""

    def __init__(
        self,
        peer: str,
        method: str,
        code: str,
        message: str,
        error: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{code}: {message} (server {peer}, request {method})")
        self.peer = peer
        self.method = method
        self.code = code
        self.message = message
        self.error: dict[str, Any] = dict(error) if error is not None else {}


class PeerUnreachable(StandfastError):
    """No comm path to ``peer`` answered within the timeout (code 191012)."""

    def __init__(self, peer: str, detail: str) -> None:
        super().__init__(PEER_UNREACHABLE, peer=peer, detail=detail)
        self.peer = peer
        self.detail = detail


def _error(code: str, **params: object) -> dict[str, Any]:
    return StandfastError(code, **params).to_dict("en")


def _endpoint(address: Address) -> str:
    host, port = address
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _frame(data: bytes) -> bytes:
    return _LENGTH.pack(len(data)) + data


def _valid_id(value: object) -> bool:
    return (
        isinstance(value, str)
        and len(value) == _ID_LENGTH
        and all(c in "0123456789abcdef" for c in value)
    )


def _deadline_of(params: Mapping[str, Any]) -> float:
    value = params.get(DEADLINE_KEY, DEFAULT_DEADLINE)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{DEADLINE_KEY} must be a number of seconds, got {value!r}")
    seconds = float(value)
    if not math.isfinite(seconds) or not 0 < seconds <= MAX_DEADLINE:
        raise ValueError(f"{DEADLINE_KEY} must be more than 0 and at most {MAX_DEADLINE:g} s")
    return seconds


async def _close_writer(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(Exception):
        await asyncio.wait_for(writer.wait_closed(), timeout=STOP_TIMEOUT)


# --------------------------------------------------------------------------- server


@dataclass(slots=True)
class _Call:
    task: asyncio.Task[JSONObject]
    started: float


class PeerServer:
    """Serves requests from other servers on every ``listen`` address (one per comm path).

    ``handler(sender, method, params)`` returns the result object. A
    :class:`~standfast.messages.StandfastError` it raises reaches the caller with its
    code; any other exception as 191010; overrunning the request's deadline as 191011.
    """

    def __init__(
        self,
        local_name: str,
        cluster: str,
        key: bytes,
        listen: Sequence[Address],
        handler: Handler,
        *,
        sealer: Sealer | None = None,
        idle_timeout: float = IDLE_TIMEOUT,
    ) -> None:
        if not listen:
            raise ValueError("a peer server needs at least one listen address")
        self.local_name = local_name
        self.cluster = cluster
        self._key = key
        self._listen = [(str(h), int(p)) for h, p in listen]
        self._handler = handler
        self._sealer = (
            sealer
            if sealer is not None
            else Sealer(key, cluster, local_name, max_size=MAX_FRAME_SIZE)
        )
        if self._sealer.sender != local_name or self._sealer.cluster != cluster:
            raise ValueError("the sealer must seal for this server and cluster")
        self._idle_timeout = idle_timeout
        self._guards: dict[str, ReplayGuard] = {}
        self._servers: list[asyncio.Server] = []
        self._connections: set[asyncio.Task[Any]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._calls: OrderedDict[tuple[str, str, str], _Call] = OrderedDict()
        self._handler_tasks: set[asyncio.Task[JSONObject]] = set()
        self._counters: Counter[str] = Counter()
        self._last_log: dict[str, float] = {}
        self._suppressed: Counter[str] = Counter()
        self._running = False

    # -- lifecycle

    @property
    def addresses(self) -> list[Address]:
        """The bound addresses (useful with port 0)."""
        bound: list[Address] = []
        for server in self._servers:
            for sock in server.sockets:
                name = sock.getsockname()
                bound.append((str(name[0]), int(name[1])))
        return bound

    async def start(self) -> None:
        if self._running:
            raise RuntimeError("peer server already started")
        try:
            for address in self._listen:
                sock = self._bind(address)
                try:
                    server = await asyncio.start_server(
                        self._serve, sock=sock, limit=MAX_FRAME_SIZE + _LENGTH.size
                    )
                except BaseException:
                    sock.close()
                    raise
                self._servers.append(server)
        except BaseException:
            await self._close_listeners()
            raise
        self._running = True

    @staticmethod
    def _bind(address: Address) -> socket.socket:
        host, port = address
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
            sock.listen(128)
            sock.setblocking(False)
        except OSError as exc:
            sock.close()
            raise OSError(
                exc.errno, f"cannot listen on {_endpoint(address)}: {exc.strerror}"
            ) from None
        return sock

    async def _close_listeners(self) -> None:
        servers, self._servers = self._servers, []
        for server in servers:
            server.close()
        for server in servers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), timeout=STOP_TIMEOUT)

    async def stop(self) -> None:
        """Close the listeners and every connection; cancel running handlers."""
        self._running = False
        await self._close_listeners()
        for writer in list(self._writers):
            writer.close()
        tasks: list[asyncio.Task[Any]] = [*self._connections, *self._handler_tasks]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=STOP_TIMEOUT)
        self._calls.clear()

    async def __aenter__(self) -> PeerServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def counters(self) -> dict[str, int]:
        return dict(self._counters)

    # -- connections

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        self._writers.add(writer)
        self._count("connections")
        peername = writer.get_extra_info("peername")
        sockname = writer.get_extra_info("sockname")
        source = str(peername[0]) if peername else "?"
        path = _endpoint((str(sockname[0]), int(sockname[1]))) if sockname else "?"
        try:
            while self._running:
                data = await self._read_frame(reader, source, path)
                if data is None:
                    return
                reply = await self._request(data, source, path)
                if reply is None:
                    return  # dropped: close the connection, answer nothing
                writer.write(_frame(reply))
                await asyncio.wait_for(writer.drain(), timeout=WRITE_TIMEOUT)
        except (ConnectionError, TimeoutError, asyncio.IncompleteReadError, OSError):
            return
        except Exception:
            self._count("internal_error")
            log.exception("unexpected error on a peer connection from %s", source)
        finally:
            self._writers.discard(writer)
            self._connections.discard(task)
            writer.close()

    async def _read_frame(
        self, reader: asyncio.StreamReader, source: str, path: str
    ) -> bytes | None:
        try:
            head = await asyncio.wait_for(
                reader.readexactly(_LENGTH.size), timeout=self._idle_timeout
            )
        except asyncio.IncompleteReadError:
            return None  # the peer closed the connection between requests
        (length,) = _LENGTH.unpack(head)
        if length > MAX_FRAME_SIZE:
            self._drop(DROP_OVERSIZE, FORGED_MESSAGE, path, source, f"frame of {length} bytes")
            return None
        return await asyncio.wait_for(reader.readexactly(length), timeout=FRAME_TIMEOUT)

    async def _request(self, data: bytes, source: str, path: str) -> bytes | None:
        envelope = self._authenticate(data, source, path)
        if envelope is None:
            return None
        body = dict(envelope.body)
        rid = body.pop(ID_KEY)
        assert isinstance(rid, str)
        key = (envelope.sender, envelope.msg_type, rid)
        call = self._calls.get(key)
        if call is None:
            self._prune()
            task = asyncio.create_task(self._run(envelope.sender, envelope.msg_type, body))
            self._handler_tasks.add(task)
            task.add_done_callback(self._handler_tasks.discard)
            call = _Call(task, asyncio.get_running_loop().time())
            self._calls[key] = call
        else:
            self._count("duplicate")
        # The handler outlives this connection: a copy of the request on another path
        # may be waiting for the same reply.
        reply = await asyncio.shield(call.task)
        return self._seal_reply(envelope, rid, reply)

    def _authenticate(self, data: bytes, source: str, path: str) -> Envelope | None:
        try:
            envelope = _open_frame(self._key, self.cluster, self.local_name, data)
        except BadSignature as exc:
            self._drop(DROP_FORGED, FORGED_MESSAGE, path, source, exc)
            return None
        except Malformed as exc:
            self._drop(DROP_MALFORMED, FORGED_MESSAGE, path, source, exc)
            return None
        except WrongCluster as exc:
            self._drop(DROP_WRONG_CLUSTER, FORGED_MESSAGE, path, source, exc)
            return None
        except Misdirected as exc:
            self._drop(DROP_MISDIRECTED, FORGED_MESSAGE, path, source, exc)
            return None
        # Authentic, but perhaps another protocol's message replayed at us (a reply, a
        # heartbeat): refuse it before it can touch the replay guard's state.
        if envelope.msg_type == REPLY_TYPE or not _valid_id(envelope.body.get(ID_KEY)):
            self._drop(
                DROP_NOT_REQUEST,
                FORGED_MESSAGE,
                path,
                source,
                f"{envelope.msg_type!r} from {envelope.sender!r} is not a request",
            )
            return None
        guard = self._guards.get(envelope.sender)
        if guard is None:
            guard = self._guards[envelope.sender] = ReplayGuard(window=REPLAY_WINDOW)
        try:
            guard.check(envelope)
        except Replayed as exc:
            self._drop(DROP_REPLAYED, REPLAYED_MESSAGE, path, source, exc)
            return None
        except Stale as exc:
            self._drop(DROP_STALE, REPLAYED_MESSAGE, path, source, exc)
            return None
        self._count("requests")
        return envelope

    def _prune(self) -> None:
        now = asyncio.get_running_loop().time()
        while self._calls:
            oldest_key, oldest = next(iter(self._calls.items()))
            expired = oldest.task.done() and now - oldest.started > RESULT_TTL
            if not expired and len(self._calls) < MAX_REMEMBERED:
                break
            # Forgetting a running call only loses de-duplication, never the handler.
            del self._calls[oldest_key]

    async def _run(self, sender: str, method: str, params: dict[str, Any]) -> JSONObject:
        """Run the handler under the request's deadline; never raises (but cancellation)."""
        try:
            seconds = _deadline_of(params)
        except ValueError as exc:
            error = _error(REQUEST_FAILED, method=method, peer=sender, reason=str(exc))
            return {"ok": False, "error": error}
        self._count("handled")
        try:
            async with asyncio.timeout(seconds) as scope:
                result = await self._handler(sender, method, params)
        except StandfastError as exc:
            details: dict[str, Any] = exc.to_dict("en")
            return {"ok": False, "error": details}
        except TimeoutError as exc:
            if scope.expired():
                log.warning(
                    "%s: request %s from server %s exceeded its time limit of %g s",
                    REQUEST_TIMED_OUT,
                    method,
                    sender,
                    seconds,
                )
                error = _error(REQUEST_TIMED_OUT, method=method, peer=sender, seconds=seconds)
            else:
                error = _error(REQUEST_FAILED, method=method, peer=sender, reason=repr(exc))
            return {"ok": False, "error": error}
        except Exception as exc:
            log.warning(
                "%s: request %s from server %s failed: %r", REQUEST_FAILED, method, sender, exc
            )
            reason = str(exc) or type(exc).__name__
            return {
                "ok": False,
                "error": _error(REQUEST_FAILED, method=method, peer=sender, reason=reason),
            }
        if not isinstance(result, dict):
            reason = f"the handler returned {type(result).__name__}, not an object"
            return {
                "ok": False,
                "error": _error(REQUEST_FAILED, method=method, peer=sender, reason=reason),
            }
        return {"ok": True, "result": result}

    def _seal_reply(self, request: Envelope, rid: str, reply: JSONObject) -> bytes:
        try:
            return self._sealer.seal(request.sender, REPLY_TYPE, {**reply, ID_KEY: rid})
        except ValueError as exc:  # not JSON, or too large for one envelope
            error = _error(
                REQUEST_FAILED, method=request.msg_type, peer=request.sender, reason=str(exc)
            )
            return self._sealer.seal(
                request.sender, REPLY_TYPE, {"ok": False, "error": error, ID_KEY: rid}
            )

    # -- accounting

    def _count(self, what: str) -> None:
        self._counters[what] += 1

    def _drop(self, reason: str, code: str, path: str, source: str, detail: object) -> None:
        self._count(reason)
        now = asyncio.get_running_loop().time()
        last = self._last_log.get(reason)
        if last is not None and now - last < LOG_EVERY:
            self._suppressed[reason] += 1
            return
        self._last_log[reason] = now
        more = self._suppressed.pop(reason, 0)
        if code == REPLAYED_MESSAGE:
            text = f"Dropped a replayed or stale message on comm path {path} from {source}"
        else:
            text = f"Dropped a message on comm path {path} from {source}"
        log.warning(
            "%s: %s: %s request: %s%s",
            code,
            text,
            reason.replace("_", " "),
            detail,
            f" ({more} more since the last report)" if more else "",
        )


# --------------------------------------------------------------------------- client


@dataclass(slots=True)
class _Conn:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    idle_since: float = 0.0

    def usable(self, now: float) -> bool:
        return (
            not self.writer.is_closing()
            and not self.reader.at_eof()
            and now - self.idle_since < CLIENT_IDLE_REUSE
        )


class _PathFailed(Exception):
    """One attempt on one path failed; the call may still succeed on another."""


class PeerClient:
    """Sends requests to peer servers over their comm paths (see the module docstring).

    ``peers`` maps each peer's name to its addresses in preference order.
    """

    def __init__(
        self,
        local_name: str,
        cluster: str,
        key: bytes,
        peers: Mapping[str, Sequence[Address]],
        *,
        sealer: Sealer | None = None,
        max_idle_per_path: int = 4,
    ) -> None:
        self.local_name = local_name
        self.cluster = cluster
        self._key = key
        self._peers = {name: [(str(h), int(p)) for h, p in addrs] for name, addrs in peers.items()}
        self._sealer = (
            sealer
            if sealer is not None
            else Sealer(key, cluster, local_name, max_size=MAX_FRAME_SIZE)
        )
        if self._sealer.sender != local_name or self._sealer.cluster != cluster:
            raise ValueError("the sealer must seal for this server and cluster")
        self._max_idle = max_idle_per_path
        self._idle: dict[tuple[str, Address], list[_Conn]] = {}
        self._closed = False

    async def close(self) -> None:
        """Close every cached connection (calls in flight close their own)."""
        self._closed = True
        idle, self._idle = self._idle, {}
        conns = [c for pool in idle.values() for c in pool]
        for conn in conns:
            conn.writer.close()
        if conns:
            await asyncio.wait(
                [asyncio.ensure_future(_close_writer(c.writer)) for c in conns],
                timeout=STOP_TIMEOUT,
            )

    async def __aenter__(self) -> PeerClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def idle_connections(self, peer: str) -> int:
        """How many cached connections to ``peer`` are waiting for reuse."""
        return sum(len(pool) for (name, _a), pool in self._idle.items() if name == peer)

    async def call(
        self, peer: str, method: str, params: Mapping[str, Any], *, timeout: float
    ) -> dict[str, Any]:
        """``method(params)`` on ``peer``; the result object.

        Raises :class:`PeerError` when the peer answers with an error and
        :class:`PeerUnreachable` when no path answers within ``timeout`` seconds;
        ValueError for a request that cannot be sent (not JSON, too large).
        """
        if not math.isfinite(timeout) or timeout <= 0:
            raise ValueError("timeout must be a positive number of seconds")
        if method == REPLY_TYPE:
            raise ValueError(f"{REPLY_TYPE!r} is not a request method")
        if self._closed:
            raise RuntimeError("peer client is closed")
        addresses = self._peers.get(peer)
        if not addresses:
            raise PeerUnreachable(peer, "no comm path to it is configured")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        step = min(MAX_HEDGE_DELAY, timeout / len(addresses))
        rid = secrets.token_hex(_ID_LENGTH // 2)
        body: JSONObject = {**params, ID_KEY: rid}
        first = self._sealer.seal(peer, method, body)  # raises ValueError before any I/O
        if len(first) > MAX_FRAME_SIZE:
            raise ValueError(f"request of {len(first)} bytes is larger than {MAX_FRAME_SIZE}")

        attempts: dict[asyncio.Task[JSONObject], Address] = {}
        failures: dict[Address, str] = {}
        next_path = 0
        next_start = loop.time()

        def reseal() -> bytes:
            return self._sealer.seal(peer, method, body)

        def launch() -> None:
            nonlocal next_path, next_start
            address = addresses[next_path]
            frame = first if next_path == 0 else reseal()
            task = asyncio.create_task(self._attempt(peer, address, frame, reseal, rid, step))
            attempts[task] = address
            next_path += 1
            next_start = loop.time() + step

        try:
            while True:
                now = loop.time()
                if now >= deadline:
                    break
                if next_path < len(addresses) and (now >= next_start or not attempts):
                    launch()
                    continue
                if not attempts:
                    break  # every path failed before the deadline
                wake = deadline if next_path >= len(addresses) else min(deadline, next_start)
                done, _pending = await asyncio.wait(
                    attempts, timeout=max(0.0, wake - now), return_when=asyncio.FIRST_COMPLETED
                )
                for task in done:
                    address = attempts.pop(task)
                    try:
                        reply = task.result()
                    except _PathFailed as exc:
                        failures[address] = str(exc)
                        log.debug("request %s to %s via %s: %s", method, peer, address, exc)
                        continue
                    return self._result(peer, method, reply)
        finally:
            for task in attempts:
                task.cancel()
            if attempts:
                await asyncio.wait(attempts, timeout=STOP_TIMEOUT)
        for address in addresses[:next_path]:
            failures.setdefault(address, f"no reply within {timeout:g} s")
        for address in addresses[next_path:]:
            failures.setdefault(address, f"not tried within {timeout:g} s")
        detail = "; ".join(f"{_endpoint(a)}: {failures[a]}" for a in dict.fromkeys(addresses))
        raise PeerUnreachable(peer, detail)

    @staticmethod
    def _result(peer: str, method: str, reply: JSONObject) -> dict[str, Any]:
        if reply.get("ok") is True:
            result = reply.get("result")
            if isinstance(result, dict):
                return result
            raise PeerError(peer, method, REQUEST_FAILED, "the reply holds no result object")
        error = reply.get("error")
        if not isinstance(error, dict):
            raise PeerError(peer, method, REQUEST_FAILED, "the reply holds no error object")
        code = error.get("code")
        message = error.get("message")
        raise PeerError(
            peer,
            method,
            code if isinstance(code, str) else REQUEST_FAILED,
            message if isinstance(message, str) else "",
            error,
        )

    async def broadcast(
        self,
        peers: Sequence[str],
        method: str,
        params: Mapping[str, Any],
        *,
        timeout: float,
    ) -> dict[str, dict[str, Any] | PeerError | PeerUnreachable]:
        """``call`` every peer concurrently; each peer's result or error."""

        async def one(peer: str) -> dict[str, Any] | PeerError | PeerUnreachable:
            try:
                return await self.call(peer, method, params, timeout=timeout)
            except (PeerError, PeerUnreachable) as exc:
                return exc

        names = list(dict.fromkeys(peers))
        results = await asyncio.gather(*(one(p) for p in names))
        return dict(zip(names, results, strict=True))

    # -- one path

    async def _attempt(
        self,
        peer: str,
        address: Address,
        frame: bytes,
        reseal: Callable[[], bytes],
        rid: str,
        connect_timeout: float,
    ) -> JSONObject:
        conn = self._take_idle(peer, address)
        if conn is not None:
            try:
                return await self._exchange(peer, address, conn, frame, rid)
            except _PathFailed:
                # A cached connection the peer has closed: retry on a fresh one, with a
                # fresh sequence number in case the first copy did arrive.
                frame = reseal()
        conn = await self._connect(address, connect_timeout)
        return await self._exchange(peer, address, conn, frame, rid)

    async def _connect(self, address: Address, connect_timeout: float) -> _Conn:
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(address[0], address[1], limit=MAX_FRAME_SIZE + 8),
                timeout=connect_timeout,
            )
        except TimeoutError:
            raise _PathFailed(f"connect timed out after {connect_timeout:g} s") from None
        except OSError as exc:
            raise _PathFailed(f"connect failed: {exc.strerror or exc}") from None
        return _Conn(reader, writer)

    async def _exchange(
        self, peer: str, address: Address, conn: _Conn, frame: bytes, rid: str
    ) -> JSONObject:
        done = False
        try:
            conn.writer.write(_LENGTH.pack(len(frame)) + frame)
            await conn.writer.drain()
            head = await conn.reader.readexactly(_LENGTH.size)
            (length,) = _LENGTH.unpack(head)
            if length > MAX_FRAME_SIZE:
                raise _PathFailed(f"reply frame of {length} bytes is too large")
            data = await conn.reader.readexactly(length)
            reply = self._open_reply(peer, data, rid)
            done = True
            self._put_idle(peer, address, conn)
            return reply
        except asyncio.IncompleteReadError:
            raise _PathFailed("connection closed without a reply") from None
        except OSError as exc:
            raise _PathFailed(f"connection failed: {exc.strerror or exc}") from None
        finally:
            if not done:  # failed or cancelled mid-exchange: the stream state is unknown
                conn.writer.close()

    def _open_reply(self, peer: str, data: bytes, rid: str) -> JSONObject:
        try:
            envelope = _open_frame(self._key, self.cluster, self.local_name, data)
        except (BadSignature, Malformed, WrongCluster, Misdirected) as exc:
            log.warning("%s: dropped a reply from server %s: %s", FORGED_MESSAGE, peer, exc)
            raise _PathFailed(f"unauthentic reply: {exc}") from None
        if (
            envelope.sender != peer
            or envelope.msg_type != REPLY_TYPE
            or envelope.body.get(ID_KEY) != rid
        ):
            log.warning(
                "%s: dropped a reply from server %s: %r from %r does not answer request %s",
                FORGED_MESSAGE,
                peer,
                envelope.msg_type,
                envelope.sender,
                rid,
            )
            raise _PathFailed("the reply does not answer this request")
        return envelope.body

    def _take_idle(self, peer: str, address: Address) -> _Conn | None:
        pool = self._idle.get((peer, address))
        now = asyncio.get_running_loop().time()
        while pool:
            conn = pool.pop()
            if conn.usable(now):
                return conn
            conn.writer.close()
        return None

    def _put_idle(self, peer: str, address: Address, conn: _Conn) -> None:
        pool = self._idle.setdefault((peer, address), [])
        if self._closed or len(pool) >= self._max_idle or conn.writer.is_closing():
            conn.writer.close()
            return
        conn.idle_since = asyncio.get_running_loop().time()
        pool.append(conn)


__all__ = [
    "DEFAULT_DEADLINE",
    "MAX_FRAME_SIZE",
    "PEER_UNREACHABLE",
    "REQUEST_FAILED",
    "REQUEST_TIMED_OUT",
    "PeerClient",
    "PeerError",
    "PeerServer",
    "PeerUnreachable",
]
