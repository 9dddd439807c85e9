"""A minimal ONC RPC v2 (RFC 5531) client over TCP.

One call per connection: connect, send one record-marked call, read one reply,
close. Every step (bind, connect, send, receive) is bounded by one absolute deadline
taken from :func:`time.monotonic`, so a stopped (SIGSTOPped) or black-holed server
yields a clean :class:`~standfast.nfs.errors.NfsTimeout` instead of a hang.

Credentials: AUTH_NONE, or AUTH_SYS (uid 0, gid 0, this machine's name). Servers
that demand a reserved source port (Linux mountd with ``secure`` exports) are served
by ``privileged=True``, which binds the socket to a port below 1024 (needs root or
CAP_NET_BIND_SERVICE).
"""

from __future__ import annotations

import errno
import ipaddress
import os
import random
import socket
import struct
import time
from dataclasses import dataclass, field

from standfast.nfs.errors import NfsProtocolError, NfsTimeout, NfsUnreachable
from standfast.nfs.xdr import XdrError, XdrPacker, XdrUnpacker

__all__ = [
    "AUTH_NONE",
    "AUTH_SYS",
    "MAX_REPLY_BYTES",
    "AuthSys",
    "RpcCall",
    "call",
    "remaining",
]

AUTH_NONE = 0
AUTH_SYS = 1

RPC_VERSION = 2
MSG_CALL = 0
MSG_REPLY = 1
MSG_ACCEPTED = 0
MSG_DENIED = 1

ACCEPT_STATUS = {
    0: "SUCCESS",
    1: "PROG_UNAVAIL",
    2: "PROG_MISMATCH",
    3: "PROC_UNAVAIL",
    4: "GARBAGE_ARGS",
    5: "SYSTEM_ERR",
}
AUTH_STATUS = {
    0: "AUTH_OK",
    1: "AUTH_BADCRED",
    2: "AUTH_REJECTEDCRED",
    3: "AUTH_BADVERF",
    4: "AUTH_REJECTEDVERF",
    5: "AUTH_TOOWEAK",
    6: "AUTH_INVALIDRESP",
    7: "AUTH_FAILED",
}

#: Replies larger than this are refused (an export list of thousands of entries
#: is far smaller).
MAX_REPLY_BYTES = 8 * 1024 * 1024
_LAST_FRAGMENT = 0x80000000
_PRIVILEGED_PORTS = range(600, 1024)

# errno values of a shortage in this process (the set host/starved.py knows).
_LOCAL_SHORTAGE = {errno.EMFILE, errno.ENFILE, errno.ENOMEM}
_UNREACHABLE_ERRNOS = {
    errno.ECONNREFUSED,
    errno.EHOSTUNREACH,
    errno.ENETUNREACH,
    errno.ECONNRESET,
    errno.EADDRNOTAVAIL,
    errno.EAFNOSUPPORT,
    errno.ENETDOWN,
    errno.EHOSTDOWN,
    errno.EPIPE,
}


def remaining(deadline: float) -> float:
    """Seconds left until ``deadline`` (a :func:`time.monotonic` value); may be <= 0."""
    return deadline - time.monotonic()


@dataclass(frozen=True)
class AuthSys:
    """AUTH_SYS credentials (RFC 5531 appendix A); defaults: root on this machine."""

    uid: int = 0
    gid: int = 0
    gids: tuple[int, ...] = ()
    machine: str = field(default_factory=lambda: socket.gethostname()[:255])
    stamp: int = field(default_factory=lambda: int(time.time()) & 0xFFFFFFFF)

    def body(self) -> bytes:
        packer = XdrPacker()
        packer.pack_uint(self.stamp)
        packer.pack_string(self.machine, 255)
        packer.pack_uint(self.uid)
        packer.pack_uint(self.gid)
        packer.pack_array(self.gids, packer.pack_uint, 16)
        return packer.get_buffer()


@dataclass(frozen=True)
class RpcCall:
    """One RPC call: where to send it and what to ask."""

    host: str
    port: int
    program: int
    version: int
    procedure: int
    args: bytes = b""
    auth: AuthSys | None = None
    privileged: bool = False
    what: str = "RPC call"


def _encode_call(xid: int, rpc: RpcCall) -> bytes:
    packer = XdrPacker()
    packer.pack_uint(xid)
    packer.pack_uint(MSG_CALL)
    packer.pack_uint(RPC_VERSION)
    packer.pack_uint(rpc.program)
    packer.pack_uint(rpc.version)
    packer.pack_uint(rpc.procedure)
    if rpc.auth is None:
        packer.pack_uint(AUTH_NONE)
        packer.pack_opaque(b"")
    else:
        packer.pack_uint(AUTH_SYS)
        packer.pack_opaque(rpc.auth.body(), 400)
    packer.pack_uint(AUTH_NONE)  # verifier
    packer.pack_opaque(b"")
    message = packer.get_buffer() + rpc.args
    return struct.pack(">I", _LAST_FRAGMENT | len(message)) + message


def _decode_reply(xid: int, reply: bytes, rpc: RpcCall, started: float) -> bytes:
    def fail(detail: str) -> NfsProtocolError:
        return NfsProtocolError(rpc.host, rpc.what, time.monotonic() - started, detail)

    unpacker = XdrUnpacker(reply)
    try:
        reply_xid = unpacker.unpack_uint()
        if reply_xid != xid:
            raise fail(f"reply xid {reply_xid:#x} does not match call xid {xid:#x}")
        if unpacker.unpack_uint() != MSG_REPLY:
            raise fail("message is not a reply")
        reply_stat = unpacker.unpack_uint()
        if reply_stat == MSG_ACCEPTED:
            unpacker.unpack_uint()  # verifier flavor
            unpacker.unpack_opaque(400)
            accept_stat = unpacker.unpack_uint()
            if accept_stat == 0:
                return unpacker.get_remaining()
            name = ACCEPT_STATUS.get(accept_stat, f"accept_stat {accept_stat}")
            if accept_stat == 2:
                low, high = unpacker.unpack_uint(), unpacker.unpack_uint()
                name += f" (server supports versions {low}-{high})"
            raise fail(f"{name} for program {rpc.program} v{rpc.version} proc {rpc.procedure}")
        if reply_stat == MSG_DENIED:
            reject_stat = unpacker.unpack_uint()
            if reject_stat == 0:
                low, high = unpacker.unpack_uint(), unpacker.unpack_uint()
                raise fail(f"RPC_MISMATCH (server supports RPC versions {low}-{high})")
            if reject_stat == 1:
                auth_stat = unpacker.unpack_uint()
                raise fail(AUTH_STATUS.get(auth_stat, f"auth error {auth_stat}"))
            raise fail(f"call denied, reject_stat {reject_stat}")
        raise fail(f"bad reply_stat {reply_stat}")
    except XdrError as exc:
        raise fail(f"malformed reply: {exc}") from exc


def _family(host: str) -> socket.AddressFamily:
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError as exc:
        raise ValueError(f"RPC host must be an IP address, got {host!r}") from exc
    return socket.AF_INET6 if address.version == 6 else socket.AF_INET


class _Connection:
    """A TCP socket whose every operation is bounded by one deadline."""

    def __init__(self, rpc: RpcCall, deadline: float, started: float) -> None:
        self.rpc = rpc
        self.deadline = deadline
        self.started = started
        self.sock: socket.socket | None = None

    def timeout(self, detail: str) -> NfsTimeout:
        return NfsTimeout(self.rpc.host, self.rpc.what, time.monotonic() - self.started, detail)

    def unreachable(self, detail: str) -> NfsUnreachable:
        return NfsUnreachable(self.rpc.host, self.rpc.what, time.monotonic() - self.started, detail)

    def _arm(self, sock: socket.socket, step: str) -> None:
        left = remaining(self.deadline)
        if left <= 0:
            raise self.timeout(f"no time left to {step}")
        sock.settimeout(left)

    def _os_error(self, exc: OSError, step: str) -> Exception:
        if isinstance(exc, TimeoutError | socket.timeout):
            return self.timeout(f"timed out during {step}")
        if exc.errno in _LOCAL_SHORTAGE:
            # This process is short of descriptors or memory, not the NFS server
            # unreachable: raised as is, the engine knows it (host/starved.py).
            return exc
        if exc.errno in _UNREACHABLE_ERRNOS:
            return self.unreachable(f"{step}: {os.strerror(exc.errno or 0)}")
        return self.unreachable(f"{step}: {exc}")

    def connect(self) -> None:
        family = _family(self.rpc.host)
        address = (self.rpc.host, self.rpc.port)
        if not self.rpc.privileged:
            sock = socket.socket(family, socket.SOCK_STREAM)
            try:
                self._arm(sock, "connect")
                sock.connect(address)
            except OSError as exc:
                sock.close()
                raise self._os_error(exc, "connect") from exc
            self.sock = sock
            return
        ports = list(_PRIVILEGED_PORTS)
        random.shuffle(ports)
        last: OSError | None = None
        for port in ports:
            sock = socket.socket(family, socket.SOCK_STREAM)
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind(("::" if family == socket.AF_INET6 else "0.0.0.0", port))
            except OSError as exc:
                sock.close()
                if exc.errno in (errno.EADDRINUSE, errno.EADDRNOTAVAIL):
                    last = exc
                    continue
                if exc.errno in (errno.EACCES, errno.EPERM):
                    raise NfsProtocolError(
                        self.rpc.host,
                        self.rpc.what,
                        time.monotonic() - self.started,
                        "binding a privileged source port needs root or CAP_NET_BIND_SERVICE",
                    ) from exc
                raise self._os_error(exc, "bind") from exc
            try:
                self._arm(sock, "connect")
                sock.connect(address)
            except OSError as exc:
                sock.close()
                if exc.errno in (errno.EADDRINUSE, errno.EADDRNOTAVAIL):
                    last = exc  # same 4-tuple still in TIME_WAIT: try another port
                    continue
                raise self._os_error(exc, "connect") from exc
            self.sock = sock
            return
        raise self.unreachable(f"no free privileged source port (600-1023): {last}")

    def send(self, data: bytes) -> None:
        assert self.sock is not None
        view = memoryview(data)
        while view:
            try:
                self._arm(self.sock, "send")
                sent = self.sock.send(view)
            except OSError as exc:
                raise self._os_error(exc, "send") from exc
            view = view[sent:]

    def recv_exact(self, count: int) -> bytes:
        assert self.sock is not None
        chunks: list[bytes] = []
        needed = count
        while needed > 0:
            try:
                self._arm(self.sock, "receive")
                chunk = self.sock.recv(min(needed, 65536))
            except OSError as exc:
                raise self._os_error(exc, "receive") from exc
            if not chunk:
                raise NfsProtocolError(
                    self.rpc.host,
                    self.rpc.what,
                    time.monotonic() - self.started,
                    "server closed the connection before a full reply",
                )
            chunks.append(chunk)
            needed -= len(chunk)
        return b"".join(chunks)

    def recv_record(self) -> bytes:
        fragments: list[bytes] = []
        total = 0
        while True:
            (header,) = struct.unpack(">I", self.recv_exact(4))
            length = header & 0x7FFFFFFF
            total += length
            if total > MAX_REPLY_BYTES:
                raise NfsProtocolError(
                    self.rpc.host,
                    self.rpc.what,
                    time.monotonic() - self.started,
                    f"reply larger than {MAX_REPLY_BYTES} bytes",
                )
            fragments.append(self.recv_exact(length))
            if header & _LAST_FRAGMENT:
                return b"".join(fragments)

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


def call(rpc: RpcCall, *, deadline: float, started: float | None = None) -> bytes:
    """Perform one RPC call and return the XDR-encoded results (after SUCCESS).

    ``deadline`` is an absolute :func:`time.monotonic` time; ``started`` (default:
    now) is the time the caller's operation began, used for ``elapsed`` in errors.
    ``rpc.host`` must be an IP address literal (resolve names first).

    Raises NfsTimeout, NfsUnreachable or NfsProtocolError.
    """
    begin = time.monotonic() if started is None else started
    xid = random.getrandbits(32)
    connection = _Connection(rpc, deadline, begin)
    try:
        connection.connect()
        connection.send(_encode_call(xid, rpc))
        reply = connection.recv_record()
    finally:
        connection.close()
    return _decode_reply(xid, reply, rpc, begin)
