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

This is the public module; the work is split by job: frames and request fields in
:mod:`~standfast.cluster.peer_wire`, errors and codes in
:mod:`~standfast.cluster.peer_errors`, the serving end in
:mod:`~standfast.cluster.peer_server` and the calling end in
:mod:`~standfast.cluster.peer_client`.
"""

from __future__ import annotations

from standfast.cluster.peer_client import PeerClient
from standfast.cluster.peer_errors import (
    PEER_UNREACHABLE,
    REQUEST_FAILED,
    REQUEST_TIMED_OUT,
    PeerError,
    PeerUnreachable,
)
from standfast.cluster.peer_server import PeerServer
from standfast.cluster.peer_wire import DEFAULT_DEADLINE, MAX_FRAME_SIZE

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
