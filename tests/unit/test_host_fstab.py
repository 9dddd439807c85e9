"""fstab parsing and atomic rewriting (plain files in a temp dir)."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from standfast.host.fstab import (
    BACKUP_PREFIX,
    add_lines,
    entries_for_mount_point,
    entries_for_spec,
    escape,
    read_fstab,
    remove_entries,
)

FSTAB = (
    b"# /etc/fstab: static file system information.\n"
    b"#\n"
    b"UUID=1234-abcd  /               ext4    errors=remount-ro 0       1\n"
    b"\n"
    b"10.0.0.5:/export/test /test nfs rw,hard,intr,vers=3 0 0\n"
    b"   # indented comment with trailing spaces   \n"
    b"10.0.0.5:/export/test/ /test2 nfs4 defaults\n"
    b"/dev/sdb1\t/mnt/with\\040space\tauto\tnoauto,user\t0\t2\n"
    b"tmpfs /tmp tmpfs\n"
    b"broken-line\n"
    b"10.0.0.7:/other /other nfs rw 0 0"  # no final newline
)
NAS_LINE = "10.0.0.5:/export/test /test nfs rw,hard,intr,vers=3 0 0"


@pytest.fixture
def fstab(tmp_path: Path) -> Path:
    path = tmp_path / "etc" / "fstab"
    path.parent.mkdir()
    path.write_bytes(FSTAB)
    path.chmod(0o640)
    return path


def test_parse(fstab: Path) -> None:
    entries = read_fstab(fstab)
    assert [e.file for e in entries] == [
        "/",
        "/test",
        "/test2",
        "/mnt/with space",
        "/tmp",
        "/other",
    ]
    nas = entries[1]
    assert nas.spec == "10.0.0.5:/export/test"
    assert nas.vfstype == "nfs"
    assert nas.mntops == ("rw", "hard", "intr", "vers=3")
    assert (nas.freq, nas.passno, nas.line_no) == (0, 0, 5)
    assert nas.has_option("intr") and nas.has_option("vers")
    assert nas.raw == NAS_LINE
    assert entries[3].passno == 2 and entries[3].mntops == ("noauto", "user")
    tmp = entries[4]
    assert tmp.mntops == ("defaults",) and tmp.freq == 0 and tmp.passno == 0


def test_lookups(fstab: Path) -> None:
    entries = read_fstab(fstab)
    assert [e.file for e in entries_for_spec(entries, "10.0.0.5:/export/test")] == [
        "/test",
        "/test2",
    ]
    assert [e.spec for e in entries_for_mount_point(entries, "/mnt/with space/")] == ["/dev/sdb1"]
    assert entries_for_mount_point(entries, "/nope") == []


def test_missing_file_has_no_entries(tmp_path: Path) -> None:
    assert read_fstab(tmp_path / "none") == []
    change = remove_entries(tmp_path / "none", lambda e: True)
    assert not change.changed


def test_remove_keeps_other_lines_byte_for_byte_and_backs_up(fstab: Path, tmp_path: Path) -> None:
    ino = fstab.stat().st_ino
    backups = tmp_path / "backups"
    change = remove_entries(fstab, lambda e: e.file == "/test", backup_dir=backups)
    assert change.changed
    assert change.removed == (NAS_LINE,)
    assert FSTAB.replace(NAS_LINE.encode() + b"\n", b"") == fstab.read_bytes()
    assert change.backup is not None and change.backup.parent == backups
    assert BACKUP_PREFIX in change.backup.name
    assert change.backup.read_bytes() == FSTAB
    assert stat.S_IMODE(fstab.stat().st_mode) == 0o640
    assert fstab.stat().st_ino != ino  # replaced, not rewritten in place
    leftovers = [p.name for p in fstab.parent.iterdir() if p.name != "fstab"]
    assert leftovers == []

    # Putting the removed line back restores the file.
    again = add_lines(fstab, list(change.removed), backup_dir=backups)
    assert again.added == (NAS_LINE,)
    restored = fstab.read_bytes()
    assert sorted(restored.splitlines()) == sorted(FSTAB.splitlines())
    # Adding the same line again changes nothing.
    assert not add_lines(fstab, [NAS_LINE]).changed
    assert fstab.read_bytes() == restored


def test_remove_last_line_without_newline_and_default_backup_dir(fstab: Path) -> None:
    change = remove_entries(fstab, lambda e: e.file == "/other")
    assert change.removed == ("10.0.0.7:/other /other nfs rw 0 0",)
    assert change.backup is not None and change.backup.parent == fstab.parent
    assert fstab.read_bytes() == FSTAB[: FSTAB.rindex(b"\n") + 1]


def test_nothing_to_remove_writes_nothing(fstab: Path) -> None:
    before = fstab.stat()
    change = remove_entries(fstab, lambda e: e.file == "/absent")
    assert not change.changed and change.backup is None
    assert fstab.stat().st_mtime_ns == before.st_mtime_ns
    assert sorted(p.name for p in fstab.parent.iterdir()) == ["fstab"]


def test_add_to_file_without_final_newline_and_to_missing_file(fstab: Path, tmp_path: Path) -> None:
    change = add_lines(fstab, ["a /a tmpfs defaults 0 0"])
    assert fstab.read_bytes() == FSTAB + b"\na /a tmpfs defaults 0 0\n"
    assert change.backup is not None
    new = tmp_path / "new-fstab"
    assert add_lines(new, ["x /x tmpfs defaults 0 0"]).changed
    assert new.read_bytes() == b"x /x tmpfs defaults 0 0\n"
    with pytest.raises(ValueError):
        add_lines(new, ["two\nlines"])


def test_escape_roundtrip(tmp_path: Path) -> None:
    path = tmp_path / "fstab"
    line = f"{escape('srv:/a b')} {escape('/mnt/a b')} nfs defaults 0 0"
    add_lines(path, [line])
    (entry,) = read_fstab(path)
    assert entry.spec == "srv:/a b" and entry.file == "/mnt/a b"


CRASH = """
import os, signal, sys
from pathlib import Path
from standfast.host import fstab

target, point = Path(sys.argv[1]), sys.argv[3]
real_replace, real_write = os.replace, os.write

def die():
    os.kill(os.getpid(), signal.SIGKILL)  # the machine dies here

def replace(src, dst):
    if point == "replace" and Path(dst) == target:
        die()
    real_replace(src, dst)

def write(fd, data):
    if point == "write" and "fstab" in os.readlink(f"/proc/self/fd/{fd}") and (
        fstab.BACKUP_PREFIX not in os.readlink(f"/proc/self/fd/{fd}")
    ):
        real_write(fd, bytes(data)[: len(data) // 2])  # half the new file is written
        die()
    return real_write(fd, data)

os.replace, os.write = replace, write
fstab.remove_entries(target, lambda e: e.file == "/test", backup_dir=Path(sys.argv[2]))
"""


@pytest.mark.parametrize("point", ["write", "replace"])
def test_crash_mid_rewrite_leaves_old_file_intact(fstab: Path, tmp_path: Path, point: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", CRASH, str(fstab), str(tmp_path / "bk"), point],
        timeout=30,
        capture_output=True,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert fstab.read_bytes() == FSTAB
    assert stat.S_IMODE(fstab.stat().st_mode) == 0o640
    # What the crash left is a hidden temporary file, never read as fstab.
    left = [p for p in fstab.parent.iterdir() if p.name != "fstab"]
    assert len(left) == 1 and left[0].name.startswith(".standfast-tmp-fstab.")
    assert len(left[0].read_bytes()) < len(FSTAB)
    assert [e.file for e in read_fstab(fstab)][1] == "/test"
    # The backup was complete before the rewrite started.
    (backup,) = (tmp_path / "bk").iterdir()
    assert backup.read_bytes() == FSTAB
    # A later rewrite still works.
    assert remove_entries(fstab, lambda e: e.file == "/test").removed == (NAS_LINE,)


def test_failure_during_replace_cleans_temp(
    fstab: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_replace = os.replace
    calls: list[str] = []

    def failing(src: str, dst: str) -> None:
        calls.append(str(dst))
        if Path(dst) == fstab:
            raise OSError(28, "No space left on device")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", failing)
    with pytest.raises(OSError):
        remove_entries(fstab, lambda e: e.file == "/test", backup_dir=tmp_path / "bk")
    assert fstab.read_bytes() == FSTAB
    assert sorted(p.name for p in fstab.parent.iterdir()) == ["fstab"]
    assert len(calls) == 2  # backup, then the failed replace of fstab
