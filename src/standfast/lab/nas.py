"""A NAS for tests, the lab and the demo: nfs-ganesha (VFS FSAL) run as our child.

:class:`NasServer` writes a ganesha configuration under its work directory, makes
sure an rpcbind is answering (starting ``rpcbind -f -w`` as its own child only when
none is running), starts ``ganesha.nfsd -F`` in the foreground as a child process,
and waits until the NFS NULL call and the MOUNT export list answer. Faults: ``pause``
(SIGSTOP: a hung NAS) and ``resume`` (SIGCONT). ``stop`` ends only the processes it
started, by PID, and removes rpcbind registrations its ganesha left behind.

Everything ganesha writes (configuration, log, PID file, NFSv4 recovery directory)
lives under ``workdir``. Several instances on one machine must use different
``bind_address``/``nfs_port`` pairs; rpcbind keeps one registration per program, so
the most recently started instance is the one the portmapper names.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import KW_ONLY, dataclass
from pathlib import Path
from types import TracebackType

from standfast.nfs import checks
from standfast.nfs.errors import NfsCheckError

__all__ = ["NasError", "NasExport", "NasServer", "render_config", "rpcbind_answers"]

_PMAP_HOST = "127.0.0.1"
#: Programs ganesha registers with rpcbind (NFS, MOUNT, NLM), with their versions.
_REGISTERED = ((100003, (3, 4)), (100005, (1, 3)), (100021, (4,)))
# A client entry: IPv4/IPv6 address or network, host name, wildcard, @netgroup or *.
_CLIENT_ENTRY = re.compile(r"^[A-Za-z0-9@*?\[\]._:/-]+$")
_PSEUDO = re.compile(r"^/[A-Za-z0-9._/-]*$")


class NasError(RuntimeError):
    """The NAS could not be started or stopped as asked."""


@dataclass(frozen=True)
class NasExport:
    """One export: a local directory ``path`` served as ``pseudo`` (the NFSv4 path).

    NFSv3 clients mount ``path`` (ganesha's default ``mount_path_pseudo = false``).
    ``clients``: ``"*"`` for everyone, or a comma-separated ganesha client list
    (addresses, networks ``10.0.0.0/24``, host names, wildcards, ``@netgroup``); the
    listed clients get read-write access and nobody else gets any.
    """

    path: Path
    pseudo: str
    _: KW_ONLY
    clients: str = "*"
    export_id: int

    def client_entries(self) -> list[str]:
        return [entry.strip() for entry in self.clients.split(",") if entry.strip()]

    def validate(self) -> None:
        if not 1 <= self.export_id <= 65535:
            raise ValueError(f"export_id must be 1-65535, got {self.export_id}")
        if not Path(self.path).is_absolute() or any(c in str(self.path) for c in '"\n\0'):
            raise ValueError(f"export path must be absolute and plain: {self.path!r}")
        if not _PSEUDO.match(self.pseudo) or "//" in self.pseudo:
            raise ValueError(f"pseudo path must be absolute and plain: {self.pseudo!r}")
        entries = self.client_entries()
        if not entries:
            raise ValueError("clients must not be empty (use '*' for everyone)")
        for entry in entries:
            if not _CLIENT_ENTRY.match(entry):
                raise ValueError(f"bad client entry {entry!r}")


def render_config(
    exports: Sequence[NasExport], *, workdir: Path, bind_address: str, nfs_port: int
) -> str:
    """The ganesha configuration text for these exports (validated first)."""
    ids = [export.export_id for export in exports]
    if len(set(ids)) != len(ids):
        raise ValueError(f"export ids must be unique: {ids}")
    for export in exports:
        export.validate()
    ipaddress.ip_address(bind_address)
    if not 1 <= nfs_port <= 65535:
        raise ValueError(f"nfs_port out of range: {nfs_port}")
    plugins = _plugins_dir()
    lines = [
        "# Written by standfast.lab.nas; do not edit.",
        "NFS_CORE_PARAM {",
        "    Protocols = 3, 4;",
        f"    NFS_Port = {nfs_port};",
        f"    Bind_addr = {bind_address};",
        "    Enable_RQUOTA = false;",
        f'    Plugins_Dir = "{plugins}";',
        "}",
        "NFSV4 {",
        "    Graceless = true;",
        "    RecoveryBackend = fs;",
        f'    RecoveryRoot = "{workdir / "recovery"}";',
        "}",
        "LOG {",
        "    Default_Log_Level = EVENT;",
        "}",
    ]
    for export in exports:
        restricted = export.clients.strip() != "*"
        lines += [
            "EXPORT {",
            f"    Export_Id = {export.export_id};",
            f'    Path = "{export.path}";',
            f'    Pseudo = "{export.pseudo}";',
            f"    Access_Type = {'None' if restricted else 'RW'};",
            "    Squash = No_Root_Squash;",
            "    Protocols = 3, 4;",
            "    Transports = TCP;",
            "    SecType = sys;",
        ]
        if restricted:
            lines += [
                "    CLIENT {",
                f"        Clients = {', '.join(export.client_entries())};",
                "        Access_Type = RW;",
                "    }",
            ]
        lines += ["    FSAL {", "        Name = VFS;", "    }", "}"]
    return "\n".join(lines) + "\n"


def _plugins_dir() -> str:
    for candidate in (
        "/usr/lib/x86_64-linux-gnu/ganesha",
        "/usr/lib/aarch64-linux-gnu/ganesha",
        "/usr/lib64/ganesha",
        "/usr/lib/ganesha",
    ):
        if Path(candidate, "libfsalvfs.so").exists():
            return candidate
    found = sorted(Path("/usr/lib").glob("*/ganesha/libfsalvfs.so"))
    if found:
        return str(found[0].parent)
    raise NasError("nfs-ganesha's VFS FSAL (libfsalvfs.so) is not installed")


def _binary(name: str) -> str:
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin:/usr/bin")
    if path is None:
        raise NasError(f"{name} not found (install nfs-ganesha, nfs-ganesha-vfs, rpcbind)")
    return path


def rpcbind_answers(timeout: float = 1.0) -> bool:
    """Whether a portmapper answers a NULL call on 127.0.0.1:111."""
    try:
        checks.null_call(_PMAP_HOST, timeout=timeout, program=100000, version=2, port=111)
    except NfsCheckError:
        return False
    return True


def _stop_process(process: subprocess.Popen[bytes], timeout: float) -> None:
    """SIGCONT (a paused process cannot act on SIGTERM), SIGTERM, then SIGKILL."""
    if process.poll() is not None:
        return
    deadline = time.monotonic() + timeout
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(signal.SIGCONT)
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=max(deadline - time.monotonic(), 0.1))
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        process.wait(timeout=5.0)


class NasServer:
    """An nfs-ganesha NAS run as a child process. See the module docstring."""

    def __init__(
        self,
        workdir: Path,
        exports: Sequence[NasExport],
        *,
        bind_address: str = "127.0.0.1",
        nfs_port: int = 2049,
    ) -> None:
        self.workdir = Path(workdir)
        self.exports = tuple(exports)
        self.bind_address = bind_address
        self.nfs_port = nfs_port
        # Validate now: a bad export is a programming error, not a start-time surprise.
        render_config(
            self.exports, workdir=self.workdir, bind_address=bind_address, nfs_port=nfs_port
        )
        self._ganesha: subprocess.Popen[bytes] | None = None
        self._rpcbind: subprocess.Popen[bytes] | None = None
        self._registrations: dict[tuple[int, int, str], int] = {}

    # ------------------------------------------------------------ paths and state

    @property
    def conf_path(self) -> Path:
        return self.workdir / "ganesha.conf"

    @property
    def log_path(self) -> Path:
        return self.workdir / "ganesha.log"

    @property
    def pid_path(self) -> Path:
        return self.workdir / "ganesha.pid"

    @property
    def address(self) -> str:
        """The address clients and checks use (loopback when bound to any address)."""
        if ipaddress.ip_address(self.bind_address).is_unspecified:
            return "::1" if ":" in self.bind_address else _PMAP_HOST
        return self.bind_address

    @property
    def pid(self) -> int | None:
        """The ganesha PID while it runs (or is paused), else None."""
        if self._ganesha is None or self._ganesha.poll() is not None:
            return None
        return self._ganesha.pid

    @property
    def started_rpcbind(self) -> bool:
        return self._rpcbind is not None and self._rpcbind.poll() is None

    def running(self) -> bool:
        return self.pid is not None

    # ------------------------------------------------------------ lifecycle

    def start(self, timeout: float = 30.0) -> None:
        """Start rpcbind if needed and ganesha; return once NULL and EXPORT answer."""
        if self.running():
            raise NasError("NAS already running")
        deadline = time.monotonic() + timeout
        ganesha = _binary("ganesha.nfsd")
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "recovery").mkdir(exist_ok=True)
        for export in self.exports:
            Path(export.path).mkdir(parents=True, exist_ok=True)
        self.conf_path.write_text(
            render_config(
                self.exports,
                workdir=self.workdir,
                bind_address=self.bind_address,
                nfs_port=self.nfs_port,
            )
        )
        self.pid_path.unlink(missing_ok=True)
        self._check_port_free()
        self._ensure_rpcbind(deadline)
        with open(self.workdir / "ganesha.out", "ab") as out:
            self._ganesha = subprocess.Popen(
                [
                    ganesha,
                    "-F",
                    "-f",
                    str(self.conf_path),
                    "-L",
                    str(self.log_path),
                    "-p",
                    str(self.pid_path),
                ],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            self._wait_ready(deadline)
        except BaseException:
            self.stop()
            raise
        self._remember_registrations(deadline)

    def _check_port_free(self) -> None:
        # Ganesha can bind a port another ganesha already serves and then die while
        # registering with rpcbind; refuse early instead of probing the other one.
        family = socket.AF_INET6 if ":" in self.address else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.settimeout(0.5)
            try:
                probe.connect((self.address, self.nfs_port))
            except OSError:
                return
        raise NasError(f"something already serves {self.address}:{self.nfs_port}")

    def _ensure_rpcbind(self, deadline: float) -> None:
        if rpcbind_answers():
            return
        with open(self.workdir / "rpcbind.out", "ab") as log:
            self._rpcbind = subprocess.Popen(
                [_binary("rpcbind"), "-f", "-w"],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        while time.monotonic() < deadline:
            if self._rpcbind.poll() is not None:
                code = self._rpcbind.returncode
                self._rpcbind = None
                raise NasError(f"rpcbind exited with status {code}")
            if rpcbind_answers(timeout=0.5):
                return
            time.sleep(0.05)
        raise NasError("rpcbind did not answer in time")

    def _wait_ready(self, deadline: float) -> None:
        assert self._ganesha is not None
        last = "not started"
        while True:
            if self._ganesha.poll() is not None:
                raise NasError(
                    f"ganesha exited with status {self._ganesha.returncode}: {self._log_tail()}"
                )
            left = deadline - time.monotonic()
            if left <= 0:
                raise NasError(f"ganesha did not answer in time ({last}): {self._log_tail()}")
            try:
                checks.null_call(self.address, timeout=min(left, 1.0), port=self.nfs_port)
                registered = checks.get_port(_PMAP_HOST, 100003, 3, timeout=min(left, 1.0))
                exports = checks.export_list(self.address, timeout=min(left, 1.0))
                if registered != self.nfs_port:
                    last = f"rpcbind names NFS port {registered}, not {self.nfs_port}"
                elif not self._exports_visible(exports):
                    last = f"export list incomplete: {[e.path for e in exports]}"
                elif self._ganesha.poll() is None:
                    return
            except NfsCheckError as exc:
                last = str(exc)
            time.sleep(0.05)

    def _exports_visible(self, exports: Sequence[checks.Export]) -> bool:
        # Ganesha lists only the exports the asking client (us) may access, so only
        # the open ones are certain to appear.
        listed = {item.path.rstrip("/") for item in exports}
        wanted = {str(e.path).rstrip("/") for e in self.exports if e.clients.strip() == "*"}
        return wanted <= listed

    def _remember_registrations(self, deadline: float) -> None:
        self._registrations.clear()
        for program, versions in _REGISTERED:
            for version in versions:
                for protocol in ("tcp", "udp"):
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return
                    with contextlib.suppress(NfsCheckError):
                        port = checks.get_port(
                            _PMAP_HOST, program, version, timeout=min(left, 1.0), protocol=protocol
                        )
                        self._registrations[(program, version, protocol)] = port

    def _log_tail(self, lines: int = 8) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        interesting = [
            line for line in text.splitlines() if ":FATAL :" in line or ":CRIT :" in line
        ]
        return " | ".join((interesting or text.splitlines())[-lines:])

    def stop(self, timeout: float = 10.0) -> None:
        """Stop ganesha (SIGTERM, then SIGKILL), clean its rpcbind entries, and stop
        rpcbind if this server started it. Safe to call twice."""
        deadline = time.monotonic() + timeout
        if self._ganesha is not None:
            _stop_process(self._ganesha, max(deadline - time.monotonic() - 2.0, 1.0))
            self._ganesha = None
        self._remove_stale_registrations(deadline)
        if self._rpcbind is not None:
            _stop_process(self._rpcbind, max(deadline - time.monotonic(), 1.0))
            self._rpcbind = None
        self.pid_path.unlink(missing_ok=True)

    def _remove_stale_registrations(self, deadline: float) -> None:
        """``rpcinfo -d`` registrations that still point at our (dead) ganesha."""
        stale: set[tuple[int, int]] = set()
        for (program, version, protocol), port in self._registrations.items():
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                now = checks.get_port(
                    _PMAP_HOST, program, version, timeout=min(left, 1.0), protocol=protocol
                )
            except NfsCheckError:
                continue
            if now == port:
                stale.add((program, version))
        self._registrations.clear()
        if not stale:
            return
        rpcinfo = shutil.which("rpcinfo") or "/usr/sbin/rpcinfo"
        for program, version in sorted(stale):
            left = deadline - time.monotonic()
            if left <= 0:
                return
            with contextlib.suppress(OSError, subprocess.TimeoutExpired):
                subprocess.run(
                    [rpcinfo, "-d", str(program), str(version)],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    timeout=min(left, 5.0),
                    check=False,
                )

    # ------------------------------------------------------------ faults

    def pause(self) -> None:
        """SIGSTOP ganesha: every NFS call now hangs (a hung NAS)."""
        self._signal(signal.SIGSTOP)

    def resume(self) -> None:
        """SIGCONT ganesha after :meth:`pause`."""
        self._signal(signal.SIGCONT)

    def _signal(self, signum: signal.Signals) -> None:
        if self._ganesha is None or self._ganesha.poll() is not None:
            raise NasError("NAS is not running")
        os.kill(self._ganesha.pid, signum)

    # ------------------------------------------------------------ context manager

    def __enter__(self) -> NasServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
