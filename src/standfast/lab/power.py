"""Power for the netns lab's servers: everything of a server in one cgroup.

A netns server is a network namespace on this machine, not a machine: its daemon and
every application the daemon starts are ordinary processes here.  So that the lab's
power cut means what it means in the vm lab (the whole server gone at once), every
process of a server starts inside that server's own cgroup (cgroup v2, found in
/proc/self/mounts: /sys/fs/cgroup, or /sys/fs/cgroup/unified on a hybrid machine)
and a power cut writes ``cgroup.kill``: the kernel SIGKILLs the whole group in one
step, forks in flight included.  Where no writable cgroup v2 exists, the cut kills
every process in the server's network namespace instead, round after round until
none is left.  Both are bounded in time; both end with a check that nothing of the
server still runs.

Processes enter the cgroup before they run anything: :func:`wrap` puts a tiny
``python3 -I -c`` step in front of the argv (no shell) that writes its own pid to
``cgroup.procs`` and then execs the argv.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path

#: The step that enters the cgroup (argv[1]: its cgroup.procs) and execs the rest.
_ENTER = (
    "import os, sys\n"
    "with open(sys.argv[1], 'w') as f:\n"
    "    f.write(str(os.getpid()))\n"
    "os.execvp(sys.argv[2], sys.argv[2:])\n"
)
#: Parent of the lab's cgroups, under the cgroup v2 mount.
LAB_CGROUP = "standfast-lab"


def cgroup2_mount() -> Path | None:
    """The cgroup v2 mount point if this process may make groups there, else None."""
    try:
        lines = Path("/proc/self/mounts").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        parts = line.split()
        if len(parts) >= 3 and parts[2] == "cgroup2":
            mount = Path(parts[1])
            if os.access(mount, os.W_OK) and (mount / "cgroup.procs").exists():
                return mount
    return None


def make_cgroup(name: str) -> Path | None:
    """A fresh cgroup for server *name* (``LAB_CGROUP/name``), or None without v2.

    Idempotent: an existing empty group is reused.  A group that still has processes
    is killed first (they belong to an earlier lab that was not taken down)."""
    mount = cgroup2_mount()
    if mount is None:
        return None
    group = mount / LAB_CGROUP / name
    try:
        group.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    if not (group / "cgroup.kill").exists():
        return None  # kernel before 5.14: no atomic kill; the netns sweep does it
    if members(group):
        kill_cgroup(group)
    return group


def wrap(group: Path | None, argv: Sequence[str]) -> list[str]:
    """*argv*, started inside *group* (unchanged without a group)."""
    if group is None:
        return list(argv)
    return [sys.executable, "-I", "-c", _ENTER, str(group / "cgroup.procs"), *argv]


def members(group: Path) -> list[int]:
    """Pids in *group* (and its children); [] when it is gone."""
    out: list[int] = []
    for procs in [group / "cgroup.procs", *group.glob("**/cgroup.procs")]:
        with contextlib.suppress(OSError, ValueError):
            out += [int(x) for x in procs.read_text().split()]
    return sorted(set(out))


def kill_cgroup(group: Path) -> None:
    """SIGKILL everything in *group* at once (cgroup.kill)."""
    with contextlib.suppress(FileNotFoundError):
        (group / "cgroup.kill").write_text("1")


def remove_cgroup(group: Path, timeout: float = 5.0) -> bool:
    """Kill what is left in *group* and remove it; False if it could not be removed."""
    if not group.exists():
        return True
    kill_cgroup(group)
    deadline = time.monotonic() + timeout
    while True:
        try:
            for child in sorted(group.glob("**/"), key=lambda p: -len(p.parts)):
                if child != group:
                    child.rmdir()
            group.rmdir()
            return True
        except FileNotFoundError:
            return True
        except OSError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)


def _netns_inode(ns: str) -> int | None:
    try:
        return os.stat(f"/run/netns/{ns}").st_ino
    except OSError:
        return None


def netns_members(ns: str) -> list[int]:
    """Pids whose network namespace is *ns* (``ip netns`` name)."""
    inode = _netns_inode(ns)
    if inode is None:
        return []
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        with contextlib.suppress(OSError):
            if os.stat(f"/proc/{entry}/ns/net").st_ino == inode:
                out.append(int(entry))
    return out


def _alive(pid: int) -> bool:
    """Alive and not a zombie (a zombie holds nothing of the server)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def power_cut(group: Path | None, ns: str, timeout: float = 10.0) -> list[int]:
    """Kill every process of the server (cgroup *group* and network namespace *ns*)
    at once; returns the pids still alive after *timeout* s (normally none)."""
    deadline = time.monotonic() + timeout
    while True:
        if group is not None:
            kill_cgroup(group)
        left = [p for p in netns_members(ns) if _alive(p)]
        if group is not None:
            left += [p for p in members(group) if _alive(p) and p not in left]
        for pid in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if not left:
            return []
        for pid in left:  # reap our own children so they do not linger as zombies
            with contextlib.suppress(ChildProcessError, OSError):
                os.waitpid(pid, os.WNOHANG)
        if time.monotonic() >= deadline:
            return [p for p in left if _alive(p)]
        time.sleep(0.05)


__all__ = [
    "cgroup2_mount",
    "kill_cgroup",
    "make_cgroup",
    "members",
    "netns_members",
    "power_cut",
    "remove_cgroup",
    "wrap",
]
