"""Wire format of the peer channel, shared by :mod:`~standfast.cluster.peer_server` and
:mod:`~standfast.cluster.peer_client` (the protocol is described in
:mod:`standfast.cluster.peer`).

A frame is a 4-byte big-endian length (:data:`LENGTH`) followed by one sealed
:class:`~standfast.cluster.auth.Envelope` of at most :data:`MAX_FRAME_SIZE` bytes. A
request's body carries its id under :data:`ID_KEY` (:data:`ID_LENGTH` lowercase hex
digits) and may carry :data:`DEADLINE_KEY`; a reply's ``msg_type`` is :data:`REPLY_TYPE`.
Everything here is pure and synchronous.
"""

from __future__ import annotations

import math
import secrets
import struct
from collections.abc import Mapping
from typing import Any, Final

from standfast.cluster.auth import Envelope, open_sealed
from standfast.cluster.keyring import ClusterKey

REPLY_TYPE: Final = "reply"
ID_KEY: Final = "_id"
DEADLINE_KEY: Final = "_deadline"
DEFAULT_DEADLINE: Final = 30.0
MAX_DEADLINE: Final = 3600.0
# A frame holds one sealed envelope. Larger than a heartbeat datagram (64 KiB): a whole
# configuration travels in one (about 500 bytes per resource instance), yet bounded, as
# a frame is read whole before it is authenticated.
MAX_FRAME_SIZE: Final = 4 * 1024 * 1024
LENGTH: Final = struct.Struct(">I")
ID_LENGTH: Final = 32  # hex digits (128 random bits)
STOP_TIMEOUT: Final = 2.0  # closing a listener or a connection waits at most this

Address = tuple[str, int]


def open_frame(key: ClusterKey, cluster: str, receiver: str, data: bytes) -> Envelope:
    """Authenticate one frame of the peer channel addressed to *receiver* (frames may
    be larger than a heartbeat datagram)."""
    return open_sealed(key, data, cluster=cluster, receiver=receiver, max_size=MAX_FRAME_SIZE)


def format_endpoint(address: Address) -> str:
    """``host:port``, with the host in brackets when it is an IPv6 address."""
    host, port = address
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def encode_frame(data: bytes) -> bytes:
    """*data* with its length prefix."""
    return LENGTH.pack(len(data)) + data


def new_request_id() -> str:
    """A fresh random request id (:data:`ID_LENGTH` hex digits)."""
    return secrets.token_hex(ID_LENGTH // 2)


def valid_id(value: object) -> bool:
    """Whether *value* is a request id as :func:`new_request_id` makes them."""
    return (
        isinstance(value, str)
        and len(value) == ID_LENGTH
        and all(c in "0123456789abcdef" for c in value)
    )


def deadline_of(params: Mapping[str, Any]) -> float:
    """The request's handler deadline in seconds (default :data:`DEFAULT_DEADLINE`).

    Raises ValueError unless it is a number more than 0 and at most :data:`MAX_DEADLINE`.
    """
    value = params.get(DEADLINE_KEY, DEFAULT_DEADLINE)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{DEADLINE_KEY} must be a number of seconds, got {value!r}")
    seconds = float(value)
    if not math.isfinite(seconds) or not 0 < seconds <= MAX_DEADLINE:
        raise ValueError(f"{DEADLINE_KEY} must be more than 0 and at most {MAX_DEADLINE:g} s")
    return seconds


__all__ = [
    "DEADLINE_KEY",
    "DEFAULT_DEADLINE",
    "ID_KEY",
    "ID_LENGTH",
    "LENGTH",
    "MAX_DEADLINE",
    "MAX_FRAME_SIZE",
    "REPLY_TYPE",
    "STOP_TIMEOUT",
    "Address",
    "deadline_of",
    "encode_frame",
    "format_endpoint",
    "new_request_id",
    "open_frame",
    "valid_id",
]
