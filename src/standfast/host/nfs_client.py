"""What this server's NFS client needs before a mount, made ready ahead of time.

The first NFS mount after a boot pays for more than the mount: the kernel loads the
client modules (``nfs``, then ``nfsv3`` or ``nfsv4``) on demand, and ``mount.nfs``
starts ``rpc.statd`` (through ``start-statd``) the first time a mount needs NFSv3
locking. Under load or in a slow guest that is seconds on the takeover path (issue
12). A server holding a standby copy does it when it gets the copy instead
(``FilesysKit.prepare``); the takeover then pays only for the mount.

Contracts:
- Idempotent and cheap when ready: a loaded module is seen in ``/sys/module`` and a
  running statd through its pid file, so a prepared server forks nothing.
- Every command runs through ``host.commands.run`` with its own deadline; nothing
  here talks to the NFS server.
- Failures return a reason (``PrepStep.error``), never raise: being unprepared only
  makes the takeover slower, the mount does the same work then.

Written by hand: no library loads kernel modules or starts statd; the decisions
(which module, whether locking is needed) are small pure functions tested alone.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from standfast.host.commands import run, system_tool

#: How long one modprobe or start-statd may take (a slow guest loads sunrpc and
#: lockd with nfs).
COMMAND_TIMEOUT = 30.0
SYS_MODULE = Path("/sys/module")
STATD_PIDFILE = Path("/run/rpc.statd.pid")


@dataclass(frozen=True)
class PrepStep:
    """One thing made ready: ``done`` says what was done (empty when it already was),
    ``error`` why it could not be (empty on success)."""

    what: str
    done: str = ""
    error: str = ""


def _option_values(options: Sequence[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for opt in options:
        name, _, value = opt.partition("=")
        out[name] = value
    return out


def nfs_version(fstype: str, options: Sequence[str]) -> str:
    """The major NFS version a mount asks for: ``"2"``, ``"3"``, ``"4"``, or ``""``
    when it lets the client negotiate."""
    if fstype == "nfs4":
        return "4"
    values = _option_values(options)
    vers = values.get("vers") or values.get("nfsvers") or ""
    return vers.split(".", 1)[0]


def client_modules(fstype: str, options: Sequence[str]) -> list[str]:
    """The kernel modules a mount of this type and these options loads."""
    version = nfs_version(fstype, options)
    return ["nfs", f"nfsv{version}"] if version in ("2", "3", "4") else ["nfs"]


def needs_statd(fstype: str, options: Sequence[str]) -> bool:
    """True when the mount uses NLM locking, for which mount.nfs starts rpc.statd:
    NFSv2/v3 without ``nolock`` and without POSIX locks kept local."""
    if nfs_version(fstype, options) not in ("2", "3"):
        return False
    values = _option_values(options)
    return "nolock" not in values and values.get("local_lock", "none") not in ("all", "posix")


def module_loaded(name: str, sys_module: Path = SYS_MODULE) -> bool:
    return (sys_module / name).is_dir()


def load_module(name: str, *, sys_module: Path = SYS_MODULE) -> PrepStep:
    """``modprobe -q -- NAME`` unless the module is loaded already."""
    what = f"module {name}"
    if module_loaded(name, sys_module):
        return PrepStep(what)
    modprobe = system_tool("modprobe")
    if not modprobe:
        return PrepStep(what, error="modprobe not found")
    result = run([modprobe, "-q", "--", name], timeout=COMMAND_TIMEOUT)
    if not result.ok:
        return PrepStep(what, error=f"modprobe {name}: {result.summary()}")
    return PrepStep(what, done=f"loaded module {name}")


def statd_running(pidfile: Path = STATD_PIDFILE) -> bool:
    """True when the pid file names a live process (as start-statd itself checks)."""
    try:
        pid = int(pidfile.read_text().strip() or "0")
    except (OSError, ValueError):
        return False
    if pid <= 1:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def start_statd(*, pidfile: Path = STATD_PIDFILE) -> PrepStep:
    """Start rpc.statd the way mount.nfs would (``start-statd``: systemd's unit where
    systemd runs, ``rpc.statd --no-notify`` otherwise) unless it runs already."""
    what = "rpc.statd"
    if statd_running(pidfile):
        return PrepStep(what)
    starter = system_tool("start-statd")
    if not starter:
        return PrepStep(what, error="start-statd not found (install nfs-common)")
    result = run([starter], timeout=COMMAND_TIMEOUT)
    if not result.ok:
        return PrepStep(what, error=f"start-statd: {result.summary()}")
    return PrepStep(what, done="started rpc.statd")


def make_mount_point(path: str) -> PrepStep:
    """The mount point as a directory (an empty one made now; one that exists is left
    as it is, the mount checks it)."""
    what = f"mount point {path}"
    if os.path.isdir(path):
        return PrepStep(what)
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as exc:
        return PrepStep(what, error=f"{path}: {exc.strerror or exc}")
    return PrepStep(what, done=f"made mount point {path}")


def prepare_client(mount_point: str, fstype: str, options: Sequence[str]) -> list[PrepStep]:
    """Everything a mount of ``fstype`` with ``options`` on ``mount_point`` would wait
    for, made ready; one step each, in the order the mount would need them. Stops at
    the first step that fails: without the client modules, for one, a statd of no use
    would be started."""
    steps: list[PrepStep] = []
    for module in client_modules(fstype, options):
        steps.append(load_module(module))
        if steps[-1].error:
            return steps
    if needs_statd(fstype, options):
        steps.append(start_statd())
        if steps[-1].error:
            return steps
    steps.append(make_mount_point(mount_point))
    return steps


__all__ = [
    "PrepStep",
    "client_modules",
    "load_module",
    "make_mount_point",
    "needs_statd",
    "nfs_version",
    "prepare_client",
    "start_statd",
    "statd_running",
]
