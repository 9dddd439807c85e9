"""Read and change ``/etc/fstab`` safely.

Every change is an atomic rewrite: a temporary file in the same directory is
written, fsynced and given the original mode and owner, then ``os.replace``d
over the original, and the directory is fsynced
(:func:`standfast.host.atomic.write_atomic`). A crash at any point leaves
either the old file or the new one, never a truncated file. Lines that are not
removed are kept byte for byte (comments, spacing, line endings). Before a
change, a timestamped backup copy is written (also atomically).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from standfast.host.atomic import write_atomic
from standfast.host.mounts import normalize
from standfast.host.mounts import unescape as _unescape

FSTAB = Path("/etc/fstab")
BACKUP_PREFIX = ".standfast-backup-"
#: Attempts when the file changes under us while we rewrite it.
_REWRITE_ATTEMPTS = 5


@dataclass(frozen=True)
class FstabEntry:
    spec: str
    file: str
    vfstype: str
    mntops: tuple[str, ...]
    freq: int
    passno: int
    line_no: int  # 1-based
    raw: str = ""  # the line as in the file, without its line ending

    def has_option(self, name: str) -> bool:
        return any(o == name or o.startswith(name + "=") for o in self.mntops)


@dataclass(frozen=True)
class FstabChange:
    path: Path
    changed: bool
    removed: tuple[str, ...] = ()  # raw lines removed, without line endings
    added: tuple[str, ...] = ()
    backup: Path | None = None


class FstabChangedError(RuntimeError):
    """The file kept changing while we tried to rewrite it."""


def escape(field: str) -> str:
    """Escape a field for fstab (space, tab, newline, backslash)."""
    out = field.replace("\\", "\\134")
    return out.replace(" ", "\\040").replace("\t", "\\011").replace("\n", "\\012")


def parse_line(line: str, line_no: int) -> FstabEntry | None:
    """Parse one line; None for blank lines, comments and malformed lines."""
    text = line.rstrip("\r\n")
    stripped = text.strip()
    if not stripped or stripped.startswith("#"):
        return None
    fields = stripped.split()
    if len(fields) < 3:
        return None

    def _int(i: int) -> int:
        if len(fields) <= i:
            return 0
        try:
            return int(fields[i])
        except ValueError:
            return 0

    mntops = fields[3] if len(fields) > 3 else "defaults"
    return FstabEntry(
        spec=_unescape(fields[0]),
        file=_unescape(fields[1]),
        vfstype=fields[2],
        mntops=tuple(_unescape(o) for o in mntops.split(",")),
        freq=_int(4),
        passno=_int(5),
        line_no=line_no,
        raw=text,
    )


def _lines(data: bytes) -> list[bytes]:
    """Split keeping line endings; only ``\\n`` ends a line."""
    parts = data.split(b"\n")
    out = [p + b"\n" for p in parts[:-1]]
    if parts[-1]:
        out.append(parts[-1])
    return out


def _decode(line: bytes) -> str:
    return line.decode("utf-8", errors="surrogateescape")


def parse_fstab(data: bytes) -> list[FstabEntry]:
    entries: list[FstabEntry] = []
    for i, line in enumerate(_lines(data), start=1):
        entry = parse_line(_decode(line), i)
        if entry is not None:
            entries.append(entry)
    return entries


def read_fstab(path: Path | str = FSTAB) -> list[FstabEntry]:
    """Entries of an fstab file; a missing file has none."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        return []
    return parse_fstab(data)


def entries_for_spec(entries: Iterable[FstabEntry], spec: str) -> list[FstabEntry]:
    """Entries for a device/export spec (``server:/export`` ignores a trailing /)."""

    def norm(s: str) -> str:
        return s.rstrip("/") if len(s) > 1 and not s.endswith(":/") else s

    want = norm(spec)
    return [e for e in entries if norm(e.spec) == want]


def entries_for_mount_point(entries: Iterable[FstabEntry], path: str) -> list[FstabEntry]:
    want = normalize(path)
    return [e for e in entries if e.file.startswith("/") and normalize(e.file) == want]


# -- atomic rewriting --------------------------------------------------------


def _write_atomic(path: Path, data: bytes, like: os.stat_result | None) -> None:
    """Write ``data`` to ``path`` atomically, copying mode/owner from ``like``."""
    if like is None:
        write_atomic(path, data, mode=0o644)
    else:
        write_atomic(path, data, mode=stat.S_IMODE(like.st_mode), owner=(like.st_uid, like.st_gid))


def _backup(path: Path, data: bytes, st: os.stat_result, backup_dir: Path | None) -> Path:
    directory = backup_dir if backup_dir is not None else path.parent
    directory.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    base = f"{path.name}{BACKUP_PREFIX}{stamp}"
    target = directory / base
    n = 1
    while target.exists():
        target = directory / f"{base}.{n}"
        n += 1
    _write_atomic(target, data, st)
    return target


def _same_file_state(a: os.stat_result, b: os.stat_result) -> bool:
    return (a.st_ino, a.st_size, a.st_mtime_ns) == (b.st_ino, b.st_size, b.st_mtime_ns)


def _rewrite(
    path: Path,
    transform: Callable[[list[bytes]], tuple[list[bytes], tuple[str, ...], tuple[str, ...]]],
    backup_dir: Path | None,
    *,
    create: bool = False,
) -> FstabChange:
    for _ in range(_REWRITE_ATTEMPTS):
        try:
            st: os.stat_result | None = os.stat(path)
            data = path.read_bytes()
        except FileNotFoundError:
            if not create:
                return FstabChange(path=path, changed=False)
            st, data = None, b""
        new_lines, removed, added = transform(_lines(data))
        if not removed and not added:
            return FstabChange(path=path, changed=False)
        backup = _backup(path, data, st, backup_dir) if st is not None else None
        # Detect a concurrent writer between our read and our replace.
        try:
            now: os.stat_result | None = os.stat(path)
        except FileNotFoundError:
            now = None
        if (st is None) != (now is None) or (
            st is not None and now is not None and not _same_file_state(st, now)
        ):
            continue
        _write_atomic(path, b"".join(new_lines), st)
        return FstabChange(path=path, changed=True, removed=removed, added=added, backup=backup)
    raise FstabChangedError(f"{path} kept changing while it was being rewritten")


def remove_entries(
    path: Path | str,
    predicate: Callable[[FstabEntry], bool],
    *,
    backup_dir: Path | None = None,
) -> FstabChange:
    """Remove every entry for which ``predicate`` is true; keep all else byte for byte."""
    p = Path(path)

    def transform(
        lines: list[bytes],
    ) -> tuple[list[bytes], tuple[str, ...], tuple[str, ...]]:
        kept: list[bytes] = []
        removed: list[str] = []
        for i, line in enumerate(lines, start=1):
            entry = parse_line(_decode(line), i)
            if entry is not None and predicate(entry):
                removed.append(entry.raw)
            else:
                kept.append(line)
        return kept, tuple(removed), ()

    return _rewrite(p, transform, backup_dir)


def add_lines(
    path: Path | str,
    lines: Sequence[str],
    *,
    backup_dir: Path | None = None,
) -> FstabChange:
    """Append ``lines`` (without line endings) unless an identical line is there."""
    p = Path(path)
    for line in lines:
        if "\n" in line or "\r" in line:
            raise ValueError(f"fstab line contains a line break: {line!r}")

    def transform(
        existing: list[bytes],
    ) -> tuple[list[bytes], tuple[str, ...], tuple[str, ...]]:
        present = {_decode(x).rstrip("\r\n") for x in existing}
        out = list(existing)
        added: list[str] = []
        for line in lines:
            if line in present:
                continue
            if out and not out[-1].endswith(b"\n"):
                out[-1] = out[-1] + b"\n"
            out.append(line.encode("utf-8", errors="surrogateescape") + b"\n")
            present.add(line)
            added.append(line)
        return out, (), tuple(added)

    return _rewrite(p, transform, backup_dir, create=True)
