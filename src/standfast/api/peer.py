"""Who is calling on the local Unix socket: the kernel's SO_PEERCRED, not a claim.

uvicorn gives ASGI apps no access to the socket, so a protocol subclass copies
the caller's uid into the per-connection ``state`` that uvicorn hands to every
request of that connection (``request.state.peer_uid``).
"""

from __future__ import annotations

import asyncio
import socket
import struct
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

_UCRED = struct.Struct("3i")


def peer_uid(sock: socket.socket) -> int | None:
    try:
        raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _UCRED.size)
    except OSError:
        return None
    _pid, uid, _gid = _UCRED.unpack(raw)
    return int(uid)


class PeerCredH11Protocol(H11Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        sock: Any = transport.get_extra_info("socket")
        uid = peer_uid(sock) if sock is not None and sock.family == socket.AF_UNIX else None
        # A fresh dict per connection: app_state is otherwise shared by all of them.
        self.app_state = {**self.app_state, "peer_uid": uid}
        super().connection_made(transport)  # type: ignore[arg-type]
