"""MOUNT v3 calls: the export list (EXPORT) and mount authorisation (MNT, then UMNT).

``timeout`` (seconds) bounds each whole function, name resolution and the portmapper
look-up of mountd included; a server that does not answer gives
:class:`~standfast.nfs.errors.NfsTimeout`, a malformed reply
:class:`~standfast.nfs.errors.NfsProtocolError`. Synchronous: run them in worker threads.

Ganesha specifics, checked against nfs-ganesha 4.3: MOUNT EXPORT lists only the exports
the *asking* client may access; an export restricted to other clients is absent from the
list (so the reference guide's "inconsistent export lists" are normal: ask from the
server that will mount).
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass

from standfast.nfs import rpc
from standfast.nfs.errors import NfsCheckError, NfsProtocolError
from standfast.nfs.portmap import port_of
from standfast.nfs.resolve import address_of
from standfast.nfs.xdr import XdrError, XdrPacker, XdrUnpacker

MOUNT_PROGRAM = 100005
MOUNT_VERSION = 3
_MOUNTPROC_MNT = 1
_MOUNTPROC_UMNT = 3
_MOUNTPROC_EXPORT = 5
_MNTPATHLEN = 1024
_FHSIZE3 = 64


@dataclass(frozen=True)
class Export:
    """One entry of a server's export list (MOUNT v3 EXPORT)."""

    path: str
    clients: tuple[str, ...]


@dataclass(frozen=True)
class MountAuth:
    """Outcome of a MOUNT v3 MNT call: ``status`` 0 is OK, 13 EACCES, 2 ENOENT ..."""

    ok: bool
    status: int
    flavors: tuple[int, ...]
    fh_length: int = 0


def _mountd_port(address: str, deadline: float, started: float, host: str) -> int:
    return port_of(address, MOUNT_PROGRAM, MOUNT_VERSION, "tcp", deadline, started, host)


def _parse_exports(data: bytes) -> list[Export]:
    unpacker = XdrUnpacker(data)

    def group() -> str:
        return unpacker.unpack_string(255)

    def entry() -> Export:
        path = unpacker.unpack_string(_MNTPATHLEN)
        clients = unpacker.unpack_optional_list(group)
        return Export(path=path, clients=tuple(clients))

    return unpacker.unpack_optional_list(entry)


def export_list(host: str, *, timeout: float) -> list[Export]:
    """The server's export list (MOUNT v3 EXPORT, proc 5), as the server reports it
    to *this* client (ganesha omits exports this client may not access)."""
    started = time.monotonic()
    deadline = started + timeout
    address = address_of(host, deadline)
    port = _mountd_port(address, deadline, started, host)
    call = rpc.RpcCall(
        address, port, MOUNT_PROGRAM, MOUNT_VERSION, _MOUNTPROC_EXPORT, what="MOUNT EXPORT"
    )
    reply = rpc.call(call, deadline=deadline, started=started)
    try:
        return _parse_exports(reply)
    except XdrError as exc:
        raise NfsProtocolError(
            host, "MOUNT EXPORT", time.monotonic() - started, f"malformed export list: {exc}"
        ) from exc


def _dirpath(export: str) -> bytes:
    packer = XdrPacker()
    packer.pack_string(export, _MNTPATHLEN)
    return packer.get_buffer()


def mount_authorized(host: str, export: str, *, timeout: float) -> MountAuth:
    """Ask mountd to mount ``export`` (MOUNT v3 MNT with AUTH_SYS root credentials
    from a privileged source port), then UMNT it so the server's mount list stays
    clean. Returns the MNT status; a refusal is a result, not an exception.

    The UMNT is best effort: it gets the time left, and its failure is ignored.
    """
    started = time.monotonic()
    deadline = started + timeout
    address = address_of(host, deadline)
    port = _mountd_port(address, deadline, started, host)
    auth = rpc.AuthSys()
    args = _dirpath(export)
    call = rpc.RpcCall(
        address,
        port,
        MOUNT_PROGRAM,
        MOUNT_VERSION,
        _MOUNTPROC_MNT,
        args,
        auth=auth,
        privileged=True,
        what="MOUNT MNT",
    )
    reply = rpc.call(call, deadline=deadline, started=started)
    try:
        unpacker = XdrUnpacker(reply)
        status = unpacker.unpack_uint()
        if status != 0:
            return MountAuth(ok=False, status=status, flavors=())
        handle = unpacker.unpack_opaque(_FHSIZE3)
        flavors = tuple(unpacker.unpack_array(unpacker.unpack_int, 64))
    except XdrError as exc:
        raise NfsProtocolError(
            host, "MOUNT MNT", time.monotonic() - started, f"malformed MNT reply: {exc}"
        ) from exc
    umount = rpc.RpcCall(
        address,
        port,
        MOUNT_PROGRAM,
        MOUNT_VERSION,
        _MOUNTPROC_UMNT,
        args,
        auth=auth,
        privileged=True,
        what="MOUNT UMNT",
    )
    with contextlib.suppress(NfsCheckError):
        rpc.call(umount, deadline=deadline, started=started)
    return MountAuth(ok=True, status=0, flavors=flavors, fh_length=len(handle))


__all__ = [
    "MOUNT_PROGRAM",
    "MOUNT_VERSION",
    "Export",
    "MountAuth",
    "export_list",
    "mount_authorized",
]
