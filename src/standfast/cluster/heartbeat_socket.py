"""The UDP sockets heartbeats travel on: one per local address and port.

:func:`bind_heartbeat_socket` binds without the address having to be configured yet
(IP_FREEBIND on Linux) and marks the traffic DSCP CS6 where the system allows it; it
never blocks. :class:`HeartbeatProtocol` hands each datagram to a callback and never
lets an exception from it, or a socket error, reach the event loop: it counts them
instead (``"internal_error"``, ``"socket_errors"``).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
import sys
from collections.abc import Callable

from standfast.messages.codes import HEARTBEAT_BIND_FAILED

log = logging.getLogger("standfast.cluster")

_IP_FREEBIND = 15  # Linux, not exported by the socket module
_IPV6_FREEBIND = 78
_TOS_NETWORK_CONTROL = 0xC0  # DSCP CS6, as routing protocols and corosync use

Endpoint = tuple[str, int]


def bind_heartbeat_socket(endpoint: Endpoint) -> socket.socket:
    """A non-blocking UDP socket bound to ``endpoint`` (an IP address and port).

    Raises OSError, logged as 191009, when it cannot be bound (the socket is closed).
    """
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
    return sock


class HeartbeatProtocol(asyncio.DatagramProtocol):
    """Calls ``receive(endpoint, data, source_address)`` for each datagram on the
    socket bound to ``endpoint``; ``count(what)`` records what went wrong."""

    def __init__(
        self,
        endpoint: Endpoint,
        receive: Callable[[Endpoint, bytes, str], None],
        count: Callable[[str], None],
    ) -> None:
        self._endpoint = endpoint
        self._receive = receive
        self._count = count

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        try:
            self._receive(self._endpoint, data, str(addr[0]))
        except Exception:  # the receive path must never raise into the loop
            self._count("internal_error")
            log.exception("unexpected error while handling a heartbeat datagram")

    def error_received(self, exc: Exception) -> None:
        # ICMP errors and send failures (link down, no route): the timeout handles them.
        self._count("socket_errors")
        log.debug("heartbeat socket %s:%d: %s", *self._endpoint, exc)


__all__ = ["Endpoint", "HeartbeatProtocol", "bind_heartbeat_socket"]
