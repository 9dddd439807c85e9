"""The mount table, read from ``/proc/self/mountinfo``.

Reading mountinfo is answered by the kernel from its own mount tree: it never
calls into the mounted file systems, so it is safe while an NFS server hangs.
Nothing in this module stats, opens or lists a mount point.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

MOUNTINFO = Path("/proc/self/mountinfo")
NFS_TYPES = frozenset({"nfs", "nfs4"})

_OCTAL = re.compile(r"\\([0-7]{3})")


class MountinfoError(ValueError):
    """A mountinfo line that does not have the documented shape."""


def unescape(field: str) -> str:
    """Decode the kernel's octal escapes (``\\040`` space, ``\\011`` tab, ...)."""
    if "\\" not in field:
        return field
    raw = _OCTAL.sub(lambda m: chr(int(m.group(1), 8)), field)
    # The kernel escapes bytes; re-read them as UTF-8 where they form it.
    try:
        return raw.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return raw


def normalize(path: str) -> str:
    """Pure string normalisation of a mount point (never touches the disk)."""
    if not path:
        return path
    norm = os.path.normpath(path)
    # normpath keeps a leading "//" (POSIX): mountinfo never shows one.
    if norm.startswith("//"):
        norm = "/" + norm.lstrip("/")
    return norm


@dataclass(frozen=True)
class MountEntry:
    """One line of mountinfo (see proc(5))."""

    mount_id: int
    parent_id: int
    device: str  # "major:minor"
    root: str
    mount_point: str
    options: tuple[str, ...]
    fstype: str
    source: str
    super_options: tuple[str, ...]
    optional: tuple[str, ...] = ()  # propagation fields: shared:N, master:N, ...

    @property
    def is_nfs(self) -> bool:
        return self.fstype in NFS_TYPES

    @property
    def read_only(self) -> bool:
        return "ro" in self.options

    def has_option(self, name: str) -> bool:
        """True if ``name`` (or ``name=...``) is a mount or super-block option."""
        for opt in (*self.options, *self.super_options):
            if opt == name or opt.startswith(name + "="):
                return True
        return False

    def option_value(self, name: str) -> str | None:
        for opt in (*self.options, *self.super_options):
            if opt.startswith(name + "="):
                return opt.split("=", 1)[1]
        return None


def parse_mountinfo_line(line: str) -> MountEntry:
    fields = line.rstrip("\n").split(" ")
    try:
        sep = fields.index("-", 6)
    except ValueError:
        raise MountinfoError(f"no separator in mountinfo line: {line!r}") from None
    if sep + 3 > len(fields) or len(fields) < 10:
        raise MountinfoError(f"short mountinfo line: {line!r}")
    try:
        mount_id, parent_id = int(fields[0]), int(fields[1])
    except ValueError:
        raise MountinfoError(f"bad ids in mountinfo line: {line!r}") from None
    super_opts = " ".join(fields[sep + 3 :])  # never contains spaces; be lenient
    return MountEntry(
        mount_id=mount_id,
        parent_id=parent_id,
        device=fields[2],
        root=unescape(fields[3]),
        mount_point=unescape(fields[4]),
        options=tuple(fields[5].split(",")) if fields[5] else (),
        fstype=unescape(fields[sep + 1]),
        source=unescape(fields[sep + 2]),
        super_options=tuple(unescape(o) for o in super_opts.split(",")) if super_opts else (),
        optional=tuple(f for f in fields[6:sep] if f),
    )


def parse_mountinfo(text: str) -> list[MountEntry]:
    """Parse mountinfo text; malformed lines raise :class:`MountinfoError`."""
    return [parse_mountinfo_line(line) for line in text.splitlines() if line.strip()]


def read_mountinfo(path: Path | str = MOUNTINFO) -> list[MountEntry]:
    """Read and parse a mountinfo file (default: this process's)."""
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        return parse_mountinfo(f.read())


def mounts_at(mount_point: str, entries: Iterable[MountEntry]) -> list[MountEntry]:
    """Every mount at exactly ``mount_point``, bottom first."""
    target = normalize(mount_point)
    here = [e for e in entries if e.mount_point == target]
    ids = {e.mount_id for e in here}
    ordered: list[MountEntry] = []
    # Start from those whose parent is not at the same place, then climb.
    by_parent = {e.parent_id: e for e in here}
    for start in (e for e in here if e.parent_id not in ids):
        cur: MountEntry | None = start
        while cur is not None and cur not in ordered:
            ordered.append(cur)
            cur = by_parent.get(cur.mount_id)
    ordered.extend(e for e in here if e not in ordered)
    return ordered


def find_mount(mount_point: str, entries: Iterable[MountEntry]) -> MountEntry | None:
    """The visible (topmost) mount at ``mount_point``, or None."""
    stack = mounts_at(mount_point, entries)
    return stack[-1] if stack else None


def find_by_id(mount_id: int, entries: Iterable[MountEntry]) -> MountEntry | None:
    return next((e for e in entries if e.mount_id == mount_id), None)


def containing_mount(path: str, entries: Iterable[MountEntry]) -> MountEntry | None:
    """The mount whose mount point is the longest prefix of ``path`` (string only)."""
    target = normalize(path)
    best: MountEntry | None = None
    candidates = list(entries)
    for e in candidates:
        if is_under(target, e.mount_point) and (
            best is None or len(e.mount_point) > len(best.mount_point)
        ):
            best = e
    if best is None:
        return None
    return find_mount(best.mount_point, candidates)


def is_under(path: str, mount_point: str) -> bool:
    """True if ``path`` is ``mount_point`` or inside it (string comparison)."""
    if mount_point == "/":
        return path.startswith("/")
    return path == mount_point or path.startswith(mount_point + "/")


def nfs_mounts(entries: Iterable[MountEntry]) -> list[MountEntry]:
    return [e for e in entries if e.is_nfs]


def is_mounted(path: str, *, mountinfo: Path | str = MOUNTINFO) -> bool:
    """True if something is mounted at exactly ``path``."""
    return find_mount(path, read_mountinfo(mountinfo)) is not None
