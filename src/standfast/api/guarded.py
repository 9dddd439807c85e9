"""uvicorn's HTTP/1.1 protocol with the API's connection limits.

:func:`guarded_protocol` makes an ``H11Protocol`` subclass (for ``uvicorn.Config(http=)``)
that

- asks a :class:`~standfast.api.limits.ConnectionGuard` at accept time, before any TLS
  or HTTP work, and aborts a refused connection at once (one descriptor, for
  microseconds);
- does the TLS handshake itself (``loop.start_tls``), so a connection that never
  finishes it is counted by the guard and aborted after ``header_timeout``;
- gives every request ``header_timeout`` seconds for its request line and headers,
  from the connection's start and from the end of each reply: uvicorn's keep-alive
  timer stops at the first byte, so a client trickling headers would otherwise hold
  its connection for ever. An expired connection is aborted (no TLS close-notify to
  wait for).

Timing: no call here waits; the handshake runs in a task with a deadline. Every
admitted connection is released exactly once, whichever way it ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from collections.abc import Callable
from typing import Any, ClassVar

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from standfast.api.limits import ConnectionGuard

SHUTDOWN_TIMEOUT = 5.0  # seconds a TLS close-notify may take

SourceOf = Callable[[asyncio.BaseTransport], str]


def address_of(transport: asyncio.BaseTransport) -> str:
    """The client's address (IP without port), the guard's source of a TCP connection."""
    peer = transport.get_extra_info("peername")
    if isinstance(peer, tuple) and peer:
        return str(peer[0])
    return "?"


class GuardedH11Protocol(H11Protocol):
    """Configured by :func:`guarded_protocol` (class attributes)."""

    guard: ClassVar[ConnectionGuard]
    header_timeout: ClassVar[float]
    tls: ClassVar[ssl.SSLContext | None] = None
    source_of: ClassVar[SourceOf] = staticmethod(address_of)

    _source = ""
    _held = False
    _started = False
    _header_timer: asyncio.TimerHandle | None = None
    _handshake: asyncio.Task[None] | None = None
    _early: list[bytes] | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._source = type(self).source_of(transport)
        self._held = self.guard.admit(self._source)
        if not self._held:
            transport.abort()
            return
        self._arm_header_timer(transport)
        if self.tls is None:
            self._start(transport)
            return
        transport.pause_reading()  # nothing reaches h11 before the handshake
        self._handshake = self.loop.create_task(self._start_tls(transport, self.tls))

    async def _start_tls(self, raw: asyncio.Transport, context: ssl.SSLContext) -> None:
        try:
            tls = await self.loop.start_tls(
                raw,
                self,
                context,
                server_side=True,
                ssl_handshake_timeout=self.header_timeout,
                ssl_shutdown_timeout=SHUTDOWN_TIMEOUT,
            )
        except Exception:  # any failed handshake: refused, reset, timed out, not TLS
            raw.abort()
            self._release()
            return
        if tls is None or tls.is_closing():
            raw.abort()
            self._release()
            return
        self._start(tls)

    def _start(self, transport: asyncio.Transport) -> None:
        super().connection_made(transport)
        self._started = True
        early, self._early = self._early, None
        for data in early or ():
            if transport.is_closing():
                break
            super().data_received(data)

    def data_received(self, data: bytes) -> None:
        if not self._started:
            # The TLS layer hands over what came with the handshake before start_tls
            # returns: keep it for h11 (one read of the socket, handed on at once).
            if self._early is None:
                self._early = []
            self._early.append(data)
            return
        super().data_received(data)

    def _arm_header_timer(self, transport: asyncio.BaseTransport | None = None) -> None:
        self._cancel_header_timer()
        self._header_timer = self.loop.call_later(
            self.header_timeout, self._header_expired, transport
        )

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _header_expired(self, raw: asyncio.BaseTransport | None) -> None:
        self._header_timer = None
        if self.cycle is not None and not self.cycle.response_complete:
            return  # a request is being answered: the body's own deadline applies
        transport: Any = self.transport if self._started else raw
        if transport is not None:
            transport.abort()

    def handle_events(self) -> None:
        super().handle_events()
        # A request line and headers arrived: this request's header deadline is met.
        if self._header_timer is not None and self.conn.their_state is not h11.IDLE:
            self._cancel_header_timer()

    def on_response_complete(self) -> None:
        if not self.transport.is_closing():
            self._arm_header_timer()
        super().on_response_complete()  # may handle a pipelined request (and disarm)

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        if self._handshake is not None and not self._handshake.done():
            self._handshake.cancel()
        self._release()
        if self._started:
            super().connection_lost(exc)

    def _release(self) -> None:
        if self._held:
            self._held = False
            self.guard.release(self._source)


def guarded_protocol(
    guard: ConnectionGuard,
    header_timeout: float,
    *,
    tls: ssl.SSLContext | None = None,
    base: type[H11Protocol] = H11Protocol,
    source_of: SourceOf = address_of,
) -> type[GuardedH11Protocol]:
    """A protocol class for ``uvicorn.Config(http=...)`` serving through ``guard``.
    ``base`` may add its own behaviour (the local socket's peer credentials) before
    the guard's: it is mixed in after :class:`GuardedH11Protocol`."""
    bases: tuple[type, ...] = (
        (GuardedH11Protocol,) if base is H11Protocol else (GuardedH11Protocol, base)
    )
    return type(
        "Guarded" + base.__name__,
        bases,
        {
            "guard": guard,
            "header_timeout": header_timeout,
            "tls": tls,
            "source_of": staticmethod(source_of),
        },
    )


def server_tls_context(certfile: str, keyfile: str) -> ssl.SSLContext:
    """The HTTPS server's TLS context: TLS 1.2 or later, the given certificate."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(certfile, keyfile)
    return context


def uid_of(transport: asyncio.BaseTransport) -> str:
    """The caller's uid on a Unix socket (``uid:N``), the local socket's source."""
    sock: Any = transport.get_extra_info("socket")
    if sock is None or sock.family != socket.AF_UNIX:
        return "?"
    from standfast.api.peer import peer_uid

    with contextlib.suppress(OSError):
        uid = peer_uid(sock)
        return f"uid:{uid}"
    return "?"
