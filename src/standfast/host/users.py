"""Find the processes that use a mount, without touching the mount.

Only ``/proc`` is read: ``readlink`` of ``/proc/<pid>/{cwd,root,exe,fd/*}``
(answered from the kernel's dentry cache: ``d_path``, no call into the file
system), ``/proc/<pid>/fdinfo/<fd>`` (its ``mnt_id:`` field names the mount of
each open file exactly) and ``/proc/<pid>/maps`` (device and path of mapped
files). Nothing under the mount point is ever stat()ed or opened, so this works
while the NFS server hangs, unlike ``fuser -m``.

Only processes in the caller's mount namespace are considered: a process in
another namespace holds its own copy of the mount and does not keep ours busy.

How each use is matched:

- open files: exactly, by ``mnt_id`` from fdinfo;
- cwd, root, exe: by path (the longest mount point that is a prefix of the path
  must be the mount's); a process whose cwd is in a mount hidden under another
  mount at the same place is counted too (an over-approximation);
- memory maps: the ``major:minor`` device must be the mount's and the path must
  be under the mount point.

Per-thread working directories (``/proc/<pid>/task/<tid>/cwd`` of threads made
with ``unshare(CLONE_FS)``) are not scanned.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from standfast.host.mounts import MountEntry, containing_mount, is_under, read_mountinfo

PROC = Path("/proc")


@dataclass(frozen=True)
class ProcessUse:
    """A process and how it uses the mount (e.g. ``cwd``, ``fd 3``, ``mmap``)."""

    pid: int
    comm: str
    uses: tuple[str, ...]
    start_time: int = 0  # clock ticks after boot, from /proc/<pid>/stat (field 22)


def _readlink(path: Path) -> str | None:
    try:
        return os.readlink(path)
    except OSError:
        return None


def _read_text(path: Path) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as f:
            return f.read()
    except OSError:
        return None


def read_comm(pid: int, proc: Path = PROC) -> str:
    text = _read_text(proc / str(pid) / "comm")
    return text.rstrip("\n") if text is not None else "?"


def read_start_time(pid: int, proc: Path = PROC) -> int | None:
    """Field 22 of /proc/<pid>/stat: identifies a process across pid reuse."""
    text = _read_text(proc / str(pid) / "stat")
    if text is None:
        return None
    try:
        # comm (field 2) may contain spaces and parentheses: split after the last ")".
        rest = text[text.rindex(")") + 2 :].split()
        return int(rest[19])
    except (ValueError, IndexError):
        return None


def _strip_deleted(path: str) -> str:
    return path[: -len(" (deleted)")] if path.endswith(" (deleted)") else path


def _fdinfo_mnt_id(text: str) -> int | None:
    for line in text.splitlines():
        if line.startswith("mnt_id:"):
            try:
                return int(line.split(":", 1)[1].strip())
            except ValueError:
                return None
    return None


def _path_in_mount(path: str, mount: MountEntry, entries: list[MountEntry]) -> bool:
    if not path.startswith("/"):
        return False  # sockets, pipes, anon inodes, "(unreachable)" paths
    path = _strip_deleted(path)
    if not is_under(path, mount.mount_point):
        return False
    owner = containing_mount(path, entries)
    return owner is not None and owner.mount_point == mount.mount_point


def _maps_use(text: str, mount: MountEntry, entries: list[MountEntry]) -> bool:
    # Each line: address perms offset dev inode pathname
    major, _, minor = mount.device.partition(":")
    for line in text.splitlines():
        parts = line.split(None, 5)
        if len(parts) < 6:
            continue
        dev = parts[3]
        dmaj, _, dmin = dev.partition(":")
        try:
            same_dev = int(dmaj, 16) == int(major) and int(dmin, 16) == int(minor)
        except ValueError:
            continue
        if same_dev and _path_in_mount(parts[5], mount, entries):
            return True
    return False


def uses_of(
    pid: int, mount: MountEntry, entries: list[MountEntry], proc: Path = PROC
) -> tuple[str, ...]:
    """How process ``pid`` uses ``mount`` (empty if it does not, or is gone)."""
    base = proc / str(pid)
    uses: list[str] = []
    for link in ("cwd", "root", "exe"):
        target = _readlink(base / link)
        if target is not None and _path_in_mount(target, mount, entries):
            uses.append(link)
    fd_dir = base / "fd"
    try:
        fds = sorted(int(name) for name in os.listdir(fd_dir) if name.isdigit())
    except OSError:
        fds = []
    for fd in fds:
        info = _read_text(base / "fdinfo" / str(fd))
        mnt_id = _fdinfo_mnt_id(info) if info is not None else None
        if mnt_id is not None:
            if mnt_id == mount.mount_id:
                uses.append(f"fd {fd}")
            continue
        target = _readlink(fd_dir / str(fd))  # fdinfo without mnt_id: old kernel
        if target is not None and _path_in_mount(target, mount, entries):
            uses.append(f"fd {fd}")
    maps = _read_text(base / "maps")
    if maps and _maps_use(maps, mount, entries):
        uses.append("mmap")
    return tuple(uses)


def _pids(proc: Path) -> Iterable[int]:
    try:
        names = os.listdir(proc)
    except OSError:
        return []
    return sorted(int(n) for n in names if n.isdigit())


def processes_using(
    mount: MountEntry,
    *,
    exclude: set[int] | None = None,
    entries: list[MountEntry] | None = None,
    proc: Path = PROC,
) -> list[ProcessUse]:
    """Processes in our mount namespace that use ``mount``.

    ``exclude`` defaults to ``{os.getpid()}``; our own pid is always excluded.
    ``entries`` is the mount table to resolve paths against (default: read now).
    """
    skip = {os.getpid()} | (exclude or set())
    table = entries if entries is not None else read_mountinfo(proc / "self" / "mountinfo")
    our_ns = _readlink(proc / "self" / "ns" / "mnt")
    found: list[ProcessUse] = []
    for pid in _pids(proc):
        if pid in skip:
            continue
        ns = _readlink(proc / str(pid) / "ns" / "mnt")
        if ns is None or ns != our_ns:
            continue  # gone, a kernel thread, or another mount namespace
        start = read_start_time(pid, proc)
        uses = uses_of(pid, mount, table, proc)
        if uses and start is not None:
            with contextlib.suppress(OSError):
                found.append(ProcessUse(pid, read_comm(pid, proc), uses, start))
    return found
