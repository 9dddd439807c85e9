"""The serving end of the peer channel: :class:`PeerServer` (protocol in
:mod:`standfast.cluster.peer`, frames in :mod:`standfast.cluster.peer_wire`).

Timing: a new connection must bring its first complete frame within
:data:`FIRST_FRAME_TIMEOUT` seconds, or it is closed (a silent client cannot hold a
descriptor); at most ``max_connections`` connections are open at once (default: an
eighth of the descriptor limit, ``host.connections.peer_connection_limit``) and
``PEER_MAX_PER_SOURCE`` from one address, the rest closed at once and logged (194096).
A connection idle for ``idle_timeout`` (default :data:`IDLE_TIMEOUT`) seconds between
requests is closed; the rest of a frame must follow its length within
:data:`FRAME_TIMEOUT` and a reply must drain within :data:`WRITE_TIMEOUT`, or the
connection is closed. A handler runs under the request's ``"_deadline"`` and outlives
the connection that brought it; its reply answers retried copies of the request until
it has finished and :data:`RESULT_TTL` seconds have passed since the first copy arrived
(sooner once more than :data:`MAX_REMEMBERED` requests are remembered).
:meth:`PeerServer.stop` waits at most :data:`STOP_TIMEOUT` for each listener to close,
then at most that again for the connections and handlers it cancels.

Errors: a handler's :class:`~standfast.messages.StandfastError` is answered with its
code, any other exception as 191010, an overrun deadline as 191011. Oversized,
unauthentic, misdirected, non-request and replayed frames get no reply: the connection
is closed, the drop counted under one of the ``DROP_*`` reasons and logged
(191003/191004, at most once per :data:`LOG_EVERY` seconds per reason).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections import Counter, OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from standfast.cluster.auth import (
    DROP_FORGED,
    DROP_MALFORMED,
    DROP_MISDIRECTED,
    DROP_WRONG_CLUSTER,
    DROP_WRONG_VERSION,
    OPEN_REFUSALS,
    Envelope,
    JSONObject,
    Replayed,
    ReplayGuard,
    Sealer,
    Stale,
    refusal,
)
from standfast.cluster.keyring import ClusterKey
from standfast.cluster.peer_errors import REQUEST_FAILED, REQUEST_TIMED_OUT
from standfast.cluster.peer_wire import (
    ID_KEY,
    LENGTH,
    MAX_FRAME_SIZE,
    REPLY_TYPE,
    STOP_TIMEOUT,
    Address,
    deadline_of,
    encode_frame,
    format_endpoint,
    open_frame,
    valid_id,
)
from standfast.host.connections import (
    PEER_MAX_PER_SOURCE,
    ConnectionGuard,
    nofile_limit,
    peer_connection_limit,
)
from standfast.messages import StandfastError
from standfast.messages.codes import FORGED_MESSAGE, REPLAYED_MESSAGE

log = logging.getLogger("standfast.cluster")

IDLE_TIMEOUT: Final = 300.0  # server closes a connection idle this long
FRAME_TIMEOUT: Final = 10.0  # the rest of a frame must follow its length within this
FIRST_FRAME_TIMEOUT: Final = 5.0  # a new connection's first whole frame, from its start
WRITE_TIMEOUT: Final = 10.0  # a reply must drain to the socket within this
RESULT_TTL: Final = 60.0  # how long a finished request's reply answers retried copies
MAX_REMEMBERED: Final = 4096
REPLAY_WINDOW: Final = 4096  # concurrent connections reorder sequence numbers
LOG_EVERY: Final = 10.0

Handler = Callable[[str, str, dict[str, Any]], Awaitable[dict[str, Any]]]

# Drop reasons, the keys of PeerServer.counters().
# (forged, malformed, wrong version, wrong cluster, misdirected: cluster.auth.refusal)
DROP_NOT_REQUEST = "not_request"
DROP_REPLAYED = "replayed"
DROP_STALE = "stale"
DROP_OVERSIZE = "oversize"


def _error(code: str, **params: object) -> dict[str, Any]:
    return StandfastError(code, **params).to_dict("en")


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
        key: ClusterKey,
        listen: Sequence[Address],
        handler: Handler,
        *,
        sealer: Sealer | None = None,
        idle_timeout: float = IDLE_TIMEOUT,
        max_connections: int | None = None,
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
        total = (
            peer_connection_limit(nofile_limit()) if max_connections is None else max_connections
        )
        self.guard = ConnectionGuard("peer channel", total, min(total, PEER_MAX_PER_SOURCE))
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
                        self._serve, sock=sock, limit=MAX_FRAME_SIZE + LENGTH.size
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
                exc.errno, f"cannot listen on {format_endpoint(address)}: {exc.strerror}"
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
        path = format_endpoint((str(sockname[0]), int(sockname[1]))) if sockname else "?"
        if not self.guard.admit(source):
            self._count("refused")
            self._writers.discard(writer)
            self._connections.discard(task)
            writer.transport.abort()
            return
        first = True
        try:
            while self._running:
                if first:
                    async with asyncio.timeout(FIRST_FRAME_TIMEOUT):
                        data = await self._read_frame(reader, source, path)
                    first = False
                else:
                    data = await self._read_frame(reader, source, path)
                if data is None:
                    return
                reply = await self._request(data, source, path)
                if reply is None:
                    return  # dropped: close the connection, answer nothing
                writer.write(encode_frame(reply))
                await asyncio.wait_for(writer.drain(), timeout=WRITE_TIMEOUT)
        except (ConnectionError, TimeoutError, asyncio.IncompleteReadError, OSError):
            return
        except asyncio.CancelledError:
            # Only stop() cancels a connection, and it ends here. Re-raised, Python
            # 3.11's start_server callback calls exception() on the cancelled task and
            # logs a traceback for every open connection at each daemon stop.
            return
        except Exception:
            self._count("internal_error")
            log.exception("unexpected error on a peer connection from %s", source)
        finally:
            self.guard.release(source)
            self._writers.discard(writer)
            self._connections.discard(task)
            writer.close()

    async def _read_frame(
        self, reader: asyncio.StreamReader, source: str, path: str
    ) -> bytes | None:
        try:
            head = await asyncio.wait_for(
                reader.readexactly(LENGTH.size), timeout=self._idle_timeout
            )
        except asyncio.IncompleteReadError:
            return None  # the peer closed the connection between requests
        (length,) = LENGTH.unpack(head)
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
            envelope = open_frame(self._key, self.cluster, self.local_name, data)
        except OPEN_REFUSALS as exc:
            reason, code = refusal(exc)
            self._drop(reason, code, path, source, exc)
            return None
        # Authentic, but perhaps another protocol's message replayed at us (a reply, a
        # heartbeat): refuse it before it can touch the replay guard's state.
        if envelope.msg_type == REPLY_TYPE or not valid_id(envelope.body.get(ID_KEY)):
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
            seconds = deadline_of(params)
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


__all__ = [
    "DROP_FORGED",
    "DROP_MALFORMED",
    "DROP_MISDIRECTED",
    "DROP_NOT_REQUEST",
    "DROP_OVERSIZE",
    "DROP_REPLAYED",
    "DROP_STALE",
    "DROP_WRONG_CLUSTER",
    "DROP_WRONG_VERSION",
    "IDLE_TIMEOUT",
    "Handler",
    "PeerServer",
]
