"""Errors of the peer channel (:mod:`standfast.cluster.peer`) and their catalogue codes.

:class:`PeerError` is raised by a client when the serving server answered with an error;
:class:`PeerUnreachable` when no comm path answered in time. The codes are also what a
server puts into an error reply.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from standfast.messages import StandfastError

REQUEST_FAILED: Final = "191010"
"""A request's handler failed on the serving server."""
REQUEST_TIMED_OUT: Final = "191011"
"""A request's handler overran its deadline on the serving server."""
PEER_UNREACHABLE: Final = "191012"
"""No comm path to a peer answered a request in time."""


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


__all__ = [
    "PEER_UNREACHABLE",
    "REQUEST_FAILED",
    "REQUEST_TIMED_OUT",
    "PeerError",
    "PeerUnreachable",
]
