"""NFS protocol-level health checks: portmapper, NFS NULL, MOUNT EXPORT and MNT.

All functions are synchronous and bounded by ``timeout`` (seconds, for the whole
function, including name resolution and the portmapper look-up); callers run them
in worker threads. None of them touches the kernel's NFS client, so a hung NAS can
never hang the caller: a server that does not answer gives :class:`NfsTimeout`.

Ganesha specifics, checked against nfs-ganesha 4.3:

- MOUNT EXPORT lists only the exports the *asking* client may access; an export
  restricted to other clients is absent from the list (so the reference guide's
  "inconsistent export lists" are normal: ask from the server that will mount).
- Client entries are reported as ``a.b.c.d/32`` for a single host (host names are
  resolved to addresses when ganesha reads its configuration), ``net/len`` for
  networks, ``*`` for everyone, wildcards verbatim (``*.example.com``), and netgroups
  *without* their ``@``. An export with no client restriction has an empty list
  (``showmount`` prints ``(everyone)``).
"""

from __future__ import annotations

import contextlib
import enum
import fnmatch
import ipaddress
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from standfast.nfs import rpc
from standfast.nfs.errors import NfsCheckError, NfsProtocolError, NfsTimeout, NfsUnreachable
from standfast.nfs.xdr import XdrError, XdrPacker, XdrUnpacker

__all__ = [
    "MOUNT_PROGRAM",
    "NFS_PROGRAM",
    "PMAP_PORT",
    "PMAP_PROGRAM",
    "AccessResult",
    "Export",
    "ExportAccess",
    "IPAddress",
    "MountAuth",
    "check_export_access",
    "client_allowed",
    "export_list",
    "get_port",
    "mount_authorized",
    "null_call",
    "resolve_host",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

PMAP_PROGRAM = 100000
PMAP_VERSION = 2
PMAP_PORT = 111
NFS_PROGRAM = 100003
MOUNT_PROGRAM = 100005
MOUNT_VERSION = 3
_PMAPPROC_GETPORT = 3
_MOUNTPROC_MNT = 1
_MOUNTPROC_UMNT = 3
_MOUNTPROC_EXPORT = 5
_IPPROTO = {"tcp": socket.IPPROTO_TCP, "udp": socket.IPPROTO_UDP}
_MNTPATHLEN = 1024
_FHSIZE3 = 64


# ---------------------------------------------------------------- name resolution


def _ip_literal(name: str) -> IPAddress | None:
    text = name.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


class _Lookup:
    """One getaddrinfo in flight; every caller asking for the same name shares it."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.done = threading.Event()
        self.outcome: list[IPAddress] | BaseException = []

    def run(self) -> None:
        try:
            infos = socket.getaddrinfo(self.name, None, type=socket.SOCK_STREAM)
            found: list[IPAddress] = []
            for _family, _type, _proto, _canon, sockaddr in infos:
                address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
                if address not in found:
                    found.append(address)
            self.outcome = found
        except BaseException as exc:  # handed to the waiting callers
            self.outcome = exc
        finally:
            with _lookups_lock:
                if _lookups.get(self.name) is self:
                    del _lookups[self.name]
            self.done.set()


_lookups: dict[str, _Lookup] = {}
_lookups_lock = threading.Lock()


def resolve_host(name: str, *, timeout: float) -> list[IPAddress]:
    """Resolve ``name`` to its addresses, never waiting longer than ``timeout``.

    An IP literal (``10.0.0.1``, ``::1``, ``[::1]``) returns itself without any
    look-up. A name is resolved by ``getaddrinfo`` in a daemon thread; if the resolver
    does not answer in time, :class:`NfsTimeout` is raised and the thread is left to
    finish on its own (it holds no locks of ours). Callers asking for a name whose
    look-up is still in flight wait for that same look-up, so a hung resolver costs
    one thread per name, not one per check. A name that does not resolve raises
    :class:`NfsUnreachable`.
    """
    literal = _ip_literal(name)
    if literal is not None:
        return [literal]
    started = time.monotonic()
    with _lookups_lock:
        lookup = _lookups.get(name)
        if lookup is None:
            lookup = _lookups[name] = _Lookup(name)
            threading.Thread(target=lookup.run, name=f"resolve-{name[:40]}", daemon=True).start()
    if not lookup.done.wait(max(timeout, 0.0)):
        raise NfsTimeout(
            name, "name resolution", time.monotonic() - started, "resolver did not answer"
        )
    elapsed = time.monotonic() - started
    outcome = lookup.outcome
    if isinstance(outcome, BaseException):
        raise NfsUnreachable(name, "name resolution", elapsed, str(outcome)) from outcome
    if not outcome:
        raise NfsUnreachable(name, "name resolution", elapsed, "no addresses")
    return list(outcome)


def _address(host: str, deadline: float) -> str:
    literal = _ip_literal(host)
    if literal is not None:
        return str(literal)
    return str(resolve_host(host, timeout=rpc.remaining(deadline))[0])


# ---------------------------------------------------------------- portmapper and NULL


def _get_port(
    address: str,
    program: int,
    version: int,
    protocol: str,
    deadline: float,
    started: float,
    host: str,
) -> int:
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
    return _get_port(_address(host, deadline), program, version, protocol, deadline, started, host)


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
    address = _address(host, deadline)
    if port is None:
        port = _get_port(address, program, version, "tcp", deadline, started, host)
    call = rpc.RpcCall(address, port, program, version, 0, what=f"NULL {program} v{version}")
    begin = time.monotonic()
    rpc.call(call, deadline=deadline, started=started)
    return time.monotonic() - begin


# ---------------------------------------------------------------- MOUNT protocol


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
    return _get_port(address, MOUNT_PROGRAM, MOUNT_VERSION, "tcp", deadline, started, host)


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
    address = _address(host, deadline)
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
    address = _address(host, deadline)
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


# ---------------------------------------------------------------- client lists


_EVERYONE = {"*", "(everyone)"}


def _match_network(entry: str, addresses: Sequence[IPAddress]) -> bool | None:
    """True/False if ``entry`` is an IP address or network, None if it is neither."""
    literal = _ip_literal(entry)
    if literal is not None:
        return any(_same_address(literal, address) for address in addresses)
    if "/" not in entry:
        return None
    try:
        network = ipaddress.ip_network(entry, strict=False)
    except ValueError:
        return None
    return any(
        _normalise(address) in network
        for address in addresses
        if _normalise(address).version == network.version
    )


def _normalise(address: IPAddress) -> IPAddress:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _same_address(a: IPAddress, b: IPAddress) -> bool:
    return _normalise(a) == _normalise(b)


def client_allowed(
    clients: Sequence[str], addresses: Sequence[IPAddress], hostnames: Sequence[str]
) -> bool:
    """Whether an export's client list admits a server with these addresses and names.

    - an empty list, ``*`` and ``(everyone)`` admit everyone;
    - an IP address matches exactly (``a.b.c.d/32`` and ``x::y/128`` too, as ganesha
      reports single hosts);
    - a network matches in CIDR (``10.0.0.0/24``) or netmask (``10.0.0.0/255.255.255.0``)
      form;
    - anything else is a host name or wildcard (``*.example.com``, ``server?``,
      ``host[0-9]``), matched case-insensitively with :mod:`fnmatch` against
      ``hostnames`` (a trailing dot is ignored on both sides);
    - ``@netgroup`` entries are not evaluated (NIS netgroups are not looked up here)
      and never match. Ganesha reports netgroups without the ``@``, so there they are
      treated as host names: a host named exactly like the netgroup would match.
    """
    entries = [entry.strip() for entry in clients if entry.strip()]
    if not entries:
        return True
    names = [name.strip().rstrip(".").lower() for name in hostnames if name.strip()]
    for entry in entries:
        if entry in _EVERYONE:
            return True
        if entry.startswith("@"):
            continue
        network_match = _match_network(entry, addresses)
        if network_match is not None:
            if network_match:
                return True
            continue
        pattern = entry.rstrip(".").lower()
        if any(fnmatch.fnmatchcase(name, pattern) for name in names):
            return True
    return False


# ---------------------------------------------------------------- combined check


class AccessResult(enum.Enum):
    """Which step of :func:`check_export_access` failed (or OK)."""

    OK = "ok"
    SERVER_DOWN = "server_down"  # refused / unreachable / NFS or mountd not registered
    SERVER_HUNG = "server_hung"  # portmapper, NFS NULL or EXPORT did not answer in time
    NOT_EXPORTED = "not_exported"  # export absent from the list the server gives us
    NOT_ALLOWED = "not_allowed"  # listed, but its client list does not name us
    AUTH_DENIED = "auth_denied"  # MNT refused (status != 0, or an RPC auth error)
    AUTH_HUNG = "auth_hung"  # MNT did not answer in time


@dataclass(frozen=True)
class ExportAccess:
    """Result of :func:`check_export_access`. ``*_time`` fields are seconds spent in
    each step (None if the step did not run); ``null_rtt`` is the NULL round trip."""

    host: str
    export: str
    result: AccessResult
    detail: str
    elapsed: float
    null_rtt: float | None = None
    null_time: float | None = None
    export_list_time: float | None = None
    mount_time: float | None = None
    clients: tuple[str, ...] | None = None
    mount_status: int | None = None
    flavors: tuple[int, ...] = ()

    @property
    def ok(self) -> bool:
        return self.result is AccessResult.OK


def _covering_export(exports: Sequence[Export], path: str) -> Export | None:
    """The listed export that ``path`` is, or lies under (the longest such): a client
    may mount a subdirectory of an export; the MNT call has the final word on it."""
    want = path.rstrip("/") or "/"
    best: Export | None = None
    for item in exports:
        base = item.path.rstrip("/") or "/"
        covers = want == base or want.startswith(base if base == "/" else base + "/")
        if covers and (best is None or len(base) > len(best.path.rstrip("/") or "/")):
            best = item
    return best


def check_export_access(
    host: str,
    export: str,
    addresses: Sequence[IPAddress],
    hostnames: Sequence[str],
    *,
    timeout: float,
) -> ExportAccess:
    """Check that this server may use ``host:export``, step by step, within ``timeout``.

    1. NFS NULL (v3) through the portmapper: no answer -> SERVER_HUNG; refused,
       unreachable or not registered -> SERVER_DOWN.
    2. MOUNT EXPORT: the export must be listed (NOT_EXPORTED) and its client list
       must admit ``addresses``/``hostnames`` (NOT_ALLOWED; lists with netgroups,
       which cannot be evaluated here, are left to step 3).
    3. MOUNT MNT from a privileged port: refused -> AUTH_DENIED; no answer -> AUTH_HUNG.

    Never raises for these expected failures; the whole check ends within ``timeout``
    (plus scheduling noise).
    """
    started = time.monotonic()
    deadline = started + timeout
    times: dict[str, float] = {}

    def result(
        outcome: AccessResult,
        detail: str,
        *,
        null_rtt: float | None = None,
        clients: tuple[str, ...] | None = None,
        mount_status: int | None = None,
        flavors: tuple[int, ...] = (),
    ) -> ExportAccess:
        return ExportAccess(
            host=host,
            export=export,
            result=outcome,
            detail=detail,
            elapsed=time.monotonic() - started,
            null_rtt=null_rtt,
            null_time=times.get("null"),
            export_list_time=times.get("export"),
            mount_time=times.get("mount"),
            clients=clients,
            mount_status=mount_status,
            flavors=flavors,
        )

    def step_failure(exc: NfsCheckError, hung: AccessResult) -> ExportAccess:
        if isinstance(exc, NfsTimeout):
            return result(hung, str(exc))
        return result(AccessResult.SERVER_DOWN, str(exc))

    try:
        address = _address(host, deadline)
    except NfsCheckError as exc:
        return step_failure(exc, AccessResult.SERVER_HUNG)

    step = time.monotonic()
    try:
        rtt = null_call(address, timeout=rpc.remaining(deadline))
    except NfsCheckError as exc:
        times["null"] = time.monotonic() - step
        return step_failure(exc, AccessResult.SERVER_HUNG)
    times["null"] = time.monotonic() - step

    step = time.monotonic()
    try:
        exports = export_list(address, timeout=rpc.remaining(deadline))
    except NfsCheckError as exc:
        times["export"] = time.monotonic() - step
        return step_failure(exc, AccessResult.SERVER_HUNG)
    times["export"] = time.monotonic() - step
    listed = _covering_export(exports, export)
    if listed is None:
        return result(
            AccessResult.NOT_EXPORTED,
            f"{export} is not in the export list {host} gives this server",
            null_rtt=rtt,
        )
    has_netgroup = any(entry.startswith("@") for entry in listed.clients)
    if not client_allowed(listed.clients, addresses, hostnames) and not has_netgroup:
        return result(
            AccessResult.NOT_ALLOWED,
            f"{export} is exported to {', '.join(listed.clients)}, not to this server",
            null_rtt=rtt,
            clients=listed.clients,
        )

    step = time.monotonic()
    try:
        auth = mount_authorized(address, export, timeout=rpc.remaining(deadline))
    except NfsTimeout as exc:
        times["mount"] = time.monotonic() - step
        return result(AccessResult.AUTH_HUNG, str(exc), null_rtt=rtt, clients=listed.clients)
    except NfsProtocolError as exc:
        times["mount"] = time.monotonic() - step
        return result(AccessResult.AUTH_DENIED, str(exc), null_rtt=rtt, clients=listed.clients)
    except NfsCheckError as exc:
        times["mount"] = time.monotonic() - step
        return result(AccessResult.SERVER_DOWN, str(exc), null_rtt=rtt, clients=listed.clients)
    times["mount"] = time.monotonic() - step
    if not auth.ok:
        return result(
            AccessResult.AUTH_DENIED,
            f"mount of {host}:{export} refused with status {auth.status}",
            null_rtt=rtt,
            clients=listed.clients,
            mount_status=auth.status,
        )
    return result(
        AccessResult.OK,
        "export accessible",
        null_rtt=rtt,
        clients=listed.clients,
        mount_status=0,
        flavors=auth.flavors,
    )
