"""The calling end of the peer channel: :class:`PeerClient` (protocol in
:mod:`standfast.cluster.peer`, frames in :mod:`standfast.cluster.peer_wire`).

Timing: a call ends within its ``timeout``. It starts on the peer's first address and
adds the next one as soon as a path fails, or after ``min(MAX_HEDGE_DELAY, timeout /
paths)`` seconds of silence (that is also each path's connect timeout); the first reply
wins and the other attempts are cancelled (waiting at most :data:`STOP_TIMEOUT` for
them). Connections idle longer than :data:`CLIENT_IDLE_REUSE` seconds are not reused.

Errors: :class:`~standfast.cluster.peer_errors.PeerError` when the peer answers with
an error, :class:`~standfast.cluster.peer_errors.PeerUnreachable` when no path answers
in time (its detail names every path's failure), ValueError for a request that cannot
be sent. An unauthentic reply or one that answers another request is logged (191003)
and counts as a failure of its path.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from standfast.cluster.auth import (
    BadSignature,
    JSONObject,
    Malformed,
    Misdirected,
    Sealer,
    WrongCluster,
)
from standfast.cluster.keyring import ClusterKey
from standfast.cluster.peer_errors import REQUEST_FAILED, PeerError, PeerUnreachable
from standfast.cluster.peer_wire import (
    ID_KEY,
    LENGTH,
    MAX_FRAME_SIZE,
    REPLY_TYPE,
    STOP_TIMEOUT,
    Address,
    format_endpoint,
    new_request_id,
    open_frame,
)
from standfast.messages.codes import FORGED_MESSAGE

log = logging.getLogger("standfast.cluster")

MAX_HEDGE_DELAY: Final = 1.0
CLIENT_IDLE_REUSE: Final = 60.0  # client drops cached connections idle longer than this


async def _close_writer(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(Exception):
        await asyncio.wait_for(writer.wait_closed(), timeout=STOP_TIMEOUT)


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
        key: ClusterKey,
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
        rid = new_request_id()
        body: JSONObject = {**params, ID_KEY: rid}
        first = self._sealer.seal(peer, method, body)  # raises ValueError before any I/O
        if len(first) > MAX_FRAME_SIZE:
            raise ValueError(f"request of {len(first)} bytes is larger than {MAX_FRAME_SIZE}")

        race = _HedgedCall(self, peer, method, body, first, addresses, step, deadline)
        reply = await race.first_reply()
        if reply is None:
            raise race.unreachable(timeout)
        return self._result(peer, method, reply)

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
            conn.writer.write(LENGTH.pack(len(frame)) + frame)
            await conn.writer.drain()
            head = await conn.reader.readexactly(LENGTH.size)
            (length,) = LENGTH.unpack(head)
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
            envelope = open_frame(self._key, self.cluster, self.local_name, data)
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


class _HedgedCall:
    """One request raced over a peer's paths in preference order (single use).

    Path ``i + 1`` is launched when path ``i`` fails or has been silent for ``step``
    seconds; every copy carries the same request id, each freshly sealed but the first.
    """

    def __init__(
        self,
        client: PeerClient,
        peer: str,
        method: str,
        body: JSONObject,
        first: bytes,
        addresses: Sequence[Address],
        step: float,
        deadline: float,
    ) -> None:
        self._client = client
        self._peer = peer
        self._method = method
        self._body = body
        self._rid = str(body[ID_KEY])
        self._first = first
        self._addresses = addresses
        self._step = step
        self._deadline = deadline
        self._loop = asyncio.get_running_loop()
        self._attempts: dict[asyncio.Task[JSONObject], Address] = {}
        self._failures: dict[Address, str] = {}
        self._next_path = 0
        self._next_start = self._loop.time()

    def _reseal(self) -> bytes:
        return self._client._sealer.seal(self._peer, self._method, self._body)

    def _launch(self) -> None:
        address = self._addresses[self._next_path]
        frame = self._first if self._next_path == 0 else self._reseal()
        task = asyncio.create_task(
            self._client._attempt(self._peer, address, frame, self._reseal, self._rid, self._step)
        )
        self._attempts[task] = address
        self._next_path += 1
        self._next_start = self._loop.time() + self._step

    async def first_reply(self) -> JSONObject | None:
        """The first reply body any path brings, or None when every path failed or the
        deadline passed. Cancels the other attempts (waiting at most STOP_TIMEOUT)."""
        attempts = self._attempts
        try:
            while True:
                now = self._loop.time()
                if now >= self._deadline:
                    break
                more = self._next_path < len(self._addresses)
                if more and (now >= self._next_start or not attempts):
                    self._launch()
                    continue
                if not attempts:
                    break  # every path failed before the deadline
                wake = min(self._deadline, self._next_start) if more else self._deadline
                done, _pending = await asyncio.wait(
                    attempts, timeout=max(0.0, wake - now), return_when=asyncio.FIRST_COMPLETED
                )
                for task in done:
                    address = attempts.pop(task)
                    try:
                        return task.result()
                    except _PathFailed as exc:
                        self._failures[address] = str(exc)
                        log.debug(
                            "request %s to %s via %s: %s", self._method, self._peer, address, exc
                        )
        finally:
            for task in attempts:
                task.cancel()
            if attempts:
                await asyncio.wait(attempts, timeout=STOP_TIMEOUT)
        return None

    def unreachable(self, timeout: float) -> PeerUnreachable:
        """The error for a call that got no reply: every path's failure, in order."""
        failures, addresses = self._failures, self._addresses
        for address in addresses[: self._next_path]:
            failures.setdefault(address, f"no reply within {timeout:g} s")
        for address in addresses[self._next_path :]:
            failures.setdefault(address, f"not tried within {timeout:g} s")
        detail = "; ".join(f"{format_endpoint(a)}: {failures[a]}" for a in dict.fromkeys(addresses))
        return PeerUnreachable(self._peer, detail)


__all__ = ["CLIENT_IDLE_REUSE", "MAX_HEDGE_DELAY", "PeerClient"]
