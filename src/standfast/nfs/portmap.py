"""Portmapper (rpcbind v2 GETPORT) look-ups and NULL calls, each within one deadline.

``timeout`` (seconds) bounds the whole function, name resolution and the portmapper
look-up included; a server that does not answer gives
:class:`~standfast.nfs.errors.NfsTimeout`, a program that is not registered
:class:`~standfast.nfs.errors.NfsProtocolError`. Synchronous: run them in worker threads.
"""

from __future__ import annotations

import socket
import time

from standfast.nfs import rpc
from standfast.nfs.errors import NfsProtocolError
from standfast.nfs.resolve import address_of
from standfast.nfs.xdr import XdrError, XdrPacker, XdrUnpacker

PMAP_PROGRAM = 100000
PMAP_VERSION = 2
PMAP_PORT = 111
NFS_PROGRAM = 100003
_PMAPPROC_GETPORT = 3
_IPPROTO = {"tcp": socket.IPPROTO_TCP, "udp": socket.IPPROTO_UDP}


def port_of(
    address: str,
    program: int,
    version: int,
    protocol: str,
    deadline: float,
    started: float,
    host: str,
) -> int:
    """GETPORT on the portmapper at ``address`` by the monotonic ``deadline``; errors
    name ``host`` and the time since ``started``."""
    if protocol not in _IPPROTO:
        raise ValueError(f"protocol must be 'tcp' or 'udp', got {protocol!r}")
    packer = XdrPacker()
    packer.pack_uint(program)
    packer.pack_uint(version)
    packer.pack_uint(_IPPROTO[protocol])
    packer.pack_uint(0)
    what = f"portmapper GETPORT {program} v{version} {protocol}"
    call = rpc.RpcCall(
        address,
        PMAP_PORT,
        PMAP_PROGRAM,
        PMAP_VERSION,
        _PMAPPROC_GETPORT,
        packer.get_buffer(),
        what=what,
    )
    reply = rpc.call(call, deadline=deadline, started=started)
    try:
        port = XdrUnpacker(reply).unpack_uint()
    except XdrError as exc:
        raise NfsProtocolError(host, what, time.monotonic() - started, str(exc)) from exc
    if port == 0 or port > 65535:
        raise NfsProtocolError(
            host, what, time.monotonic() - started, f"program {program} v{version} not registered"
        )
    return port


def get_port(
    host: str, program: int, version: int, *, timeout: float, protocol: str = "tcp"
) -> int:
    """Ask the portmapper (rpcbind, v2 GETPORT on port 111) for a program's port.

    Raises :class:`NfsProtocolError` if the program is not registered.
    """
    started = time.monotonic()
    deadline = started + timeout
    return port_of(address_of(host, deadline), program, version, protocol, deadline, started, host)


def null_call(
    host: str,
    *,
    timeout: float,
    program: int = NFS_PROGRAM,
    version: int = 3,
    port: int | None = None,
) -> float:
    """Call procedure 0 (NULL) of ``program``; return the call's round trip in seconds.

    Without ``port`` the portmapper is asked first (within the same ``timeout``). The
    round trip covers connect, send and reply of the NULL call only.
    """
    started = time.monotonic()
    deadline = started + timeout
    address = address_of(host, deadline)
    if port is None:
        port = port_of(address, program, version, "tcp", deadline, started, host)
    call = rpc.RpcCall(address, port, program, version, 0, what=f"NULL {program} v{version}")
    begin = time.monotonic()
    rpc.call(call, deadline=deadline, started=started)
    return time.monotonic() - begin


__all__ = [
    "NFS_PROGRAM",
    "PMAP_PORT",
    "PMAP_PROGRAM",
    "PMAP_VERSION",
    "get_port",
    "null_call",
    "port_of",
]
