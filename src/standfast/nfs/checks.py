"""NFS protocol-level health checks: portmapper, NFS NULL, MOUNT EXPORT and MNT.

All functions are synchronous and bounded by ``timeout`` (seconds, for the whole
function, including name resolution and the portmapper look-up); callers run them
in worker threads. None of them touches the kernel's NFS client, so a hung NAS can
never hang the caller: a server that does not answer gives :class:`NfsTimeout`.

This is the public module and holds the combined :func:`check_export_access`; the single
checks live by job in :mod:`~standfast.nfs.resolve` (names to addresses),
:mod:`~standfast.nfs.portmap` (GETPORT, NULL), :mod:`~standfast.nfs.mount` (EXPORT, MNT;
with ganesha's export-list semantics) and :mod:`~standfast.nfs.client_lists` (whether a
client list admits a server; with ganesha's entry formats).
"""

from __future__ import annotations

import contextlib
import enum
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from standfast.nfs import rpc
from standfast.nfs.client_lists import client_allowed
from standfast.nfs.errors import NfsCheckError, NfsProtocolError, NfsTimeout
from standfast.nfs.mount import MOUNT_PROGRAM, Export, MountAuth, export_list, mount_authorized
from standfast.nfs.portmap import NFS_PROGRAM, PMAP_PORT, PMAP_PROGRAM, get_port, null_call
from standfast.nfs.resolve import IPAddress, address_of, resolve_host

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


class _Stop(Exception):
    """A step of :func:`check_export_access` decided the outcome: ``access``."""

    def __init__(self, access: ExportAccess) -> None:
        super().__init__(access.detail)
        self.access = access


@dataclass
class _AccessCheck:
    """One run of :func:`check_export_access`: its clock, deadline and step times.

    Each step returns what the next one needs or raises :class:`_Stop` with the result.
    The steps call :func:`null_call`, :func:`export_list` and :func:`mount_authorized`
    through this module's names.
    """

    host: str
    export: str
    timeout: float
    started: float = field(default_factory=time.monotonic)
    times: dict[str, float] = field(default_factory=dict)

    @property
    def deadline(self) -> float:
        return self.started + self.timeout

    def result(
        self,
        outcome: AccessResult,
        detail: str,
        *,
        null_rtt: float | None = None,
        clients: tuple[str, ...] | None = None,
        mount_status: int | None = None,
        flavors: tuple[int, ...] = (),
    ) -> ExportAccess:
        return ExportAccess(
            host=self.host,
            export=self.export,
            result=outcome,
            detail=detail,
            elapsed=time.monotonic() - self.started,
            null_rtt=null_rtt,
            null_time=self.times.get("null"),
            export_list_time=self.times.get("export"),
            mount_time=self.times.get("mount"),
            clients=clients,
            mount_status=mount_status,
            flavors=flavors,
        )

    def _server_failed(self, exc: NfsCheckError) -> _Stop:
        """A step before MNT failed: SERVER_HUNG on a timeout, else SERVER_DOWN."""
        if isinstance(exc, NfsTimeout):
            return _Stop(self.result(AccessResult.SERVER_HUNG, str(exc)))
        return _Stop(self.result(AccessResult.SERVER_DOWN, str(exc)))

    @contextlib.contextmanager
    def _timed(self, step: str) -> Iterator[None]:
        """Record the seconds spent in ``step``, also when it raises."""
        begin = time.monotonic()
        try:
            yield
        finally:
            self.times[step] = time.monotonic() - begin

    def resolve(self) -> str:
        """Step 0: the server's address."""
        try:
            return address_of(self.host, self.deadline)
        except NfsCheckError as exc:
            raise self._server_failed(exc) from None

    def null(self, address: str) -> float:
        """Step 1: the NFS v3 NULL round trip."""
        try:
            with self._timed("null"):
                return null_call(address, timeout=rpc.remaining(self.deadline))
        except NfsCheckError as exc:
            raise self._server_failed(exc) from None

    def listed(
        self,
        address: str,
        rtt: float,
        addresses: Sequence[IPAddress],
        hostnames: Sequence[str],
    ) -> Export:
        """Step 2: the listed export covering ours, if its client list may admit us."""
        try:
            with self._timed("export"):
                exports = export_list(address, timeout=rpc.remaining(self.deadline))
        except NfsCheckError as exc:
            raise self._server_failed(exc) from None
        export, host = self.export, self.host
        listed = _covering_export(exports, export)
        if listed is None:
            raise _Stop(
                self.result(
                    AccessResult.NOT_EXPORTED,
                    f"{export} is not in the export list {host} gives this server",
                    null_rtt=rtt,
                )
            )
        has_netgroup = any(entry.startswith("@") for entry in listed.clients)
        if not client_allowed(listed.clients, addresses, hostnames) and not has_netgroup:
            raise _Stop(
                self.result(
                    AccessResult.NOT_ALLOWED,
                    f"{export} is exported to {', '.join(listed.clients)}, not to this server",
                    null_rtt=rtt,
                    clients=listed.clients,
                )
            )
        return listed

    def mount(self, address: str, rtt: float, clients: tuple[str, ...]) -> MountAuth:
        """Step 3: MNT must be granted."""
        try:
            with self._timed("mount"):
                auth = mount_authorized(address, self.export, timeout=rpc.remaining(self.deadline))
        except NfsCheckError as exc:
            outcome = _mount_failure(exc)
            raise _Stop(self.result(outcome, str(exc), null_rtt=rtt, clients=clients)) from None
        if not auth.ok:
            raise _Stop(
                self.result(
                    AccessResult.AUTH_DENIED,
                    f"mount of {self.host}:{self.export} refused with status {auth.status}",
                    null_rtt=rtt,
                    clients=clients,
                    mount_status=auth.status,
                )
            )
        return auth


def _mount_failure(exc: NfsCheckError) -> AccessResult:
    """MNT did not answer: AUTH_HUNG; refused at the RPC level: AUTH_DENIED; else down."""
    if isinstance(exc, NfsTimeout):
        return AccessResult.AUTH_HUNG
    if isinstance(exc, NfsProtocolError):
        return AccessResult.AUTH_DENIED
    return AccessResult.SERVER_DOWN


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
    check = _AccessCheck(host, export, timeout)
    try:
        address = check.resolve()
        rtt = check.null(address)
        listed = check.listed(address, rtt, addresses, hostnames)
        auth = check.mount(address, rtt, listed.clients)
    except _Stop as stop:
        return stop.access
    return check.result(
        AccessResult.OK,
        "export accessible",
        null_rtt=rtt,
        clients=listed.clients,
        mount_status=0,
        flavors=auth.flavors,
    )
