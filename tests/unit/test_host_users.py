"""users.py against a fake /proc tree (symlinks and text files) and itself."""

from __future__ import annotations

import os
from pathlib import Path

from standfast.host.mounts import MountEntry, find_mount, parse_mountinfo
from standfast.host.users import processes_using, read_start_time, uses_of

MOUNTINFO = """\
22 1 254:0 / / rw - ext4 /dev/vda1 rw
41 22 0:40 / /mnt/nas rw - nfs 10.0.0.5:/export rw,addr=10.0.0.5
50 41 0:50 / /mnt/nas/inner rw - tmpfs t rw
"""
STAT = "{pid} (my (odd) comm) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 {start} 0 0\n"


def _proc(
    root: Path,
    pid: int,
    *,
    ns: str = "mnt:[1]",
    cwd: str = "/",
    fds: dict[int, tuple[str, int]] | None = None,
    maps: str = "",
    start: int = 100,
) -> None:
    d = root / str(pid)
    (d / "fd").mkdir(parents=True)
    (d / "fdinfo").mkdir()
    (d / "ns").mkdir()
    os.symlink(ns, d / "ns" / "mnt")
    os.symlink(cwd, d / "cwd")
    os.symlink("/", d / "root")
    os.symlink("/usr/bin/thing", d / "exe")
    (d / "comm").write_text("thing\n")
    (d / "stat").write_text(STAT.format(pid=pid, start=start))
    (d / "maps").write_text(maps)
    for fd, (target, mnt_id) in (fds or {}).items():
        os.symlink(target, d / "fd" / str(fd))
        (d / "fdinfo" / str(fd)).write_text(f"pos:\t0\nflags:\t02\nmnt_id:\t{mnt_id}\nino:\t5\n")


def _tree(tmp_path: Path) -> tuple[Path, list[MountEntry], MountEntry]:
    proc = tmp_path / "proc"
    (proc / "self" / "ns").mkdir(parents=True)
    os.symlink("mnt:[1]", proc / "self" / "ns" / "mnt")
    (proc / "self" / "mountinfo").write_text(MOUNTINFO)
    entries = parse_mountinfo(MOUNTINFO)
    nas = find_mount("/mnt/nas", entries)
    assert nas is not None
    return proc, entries, nas


def test_matches_cwd_fd_and_maps_only_in_our_namespace(tmp_path: Path) -> None:
    proc, entries, nas = _tree(tmp_path)
    _proc(proc, 100, cwd="/mnt/nas/work")
    _proc(proc, 101, fds={0: ("/dev/null", 22), 7: ("/mnt/nas/log (deleted)", 41)})
    _proc(proc, 102, maps="7f00-7f01 r-xp 00000000 00:28 12 /mnt/nas/lib.so\n")
    _proc(proc, 103, cwd="/mnt/nas/inner/x")  # on the submount, not ours
    _proc(proc, 104, cwd="/mnt/nas", ns="mnt:[2]")  # another namespace
    _proc(proc, 105, cwd="/mnt/nasty")  # a prefix, not a subdirectory
    _proc(proc, 106, fds={3: ("/mnt/nas/x", 50)})  # fd on the submount
    _proc(proc, 107, maps="7f00-7f01 r-xp 00000000 fe:00 12 /mnt/nas/other-dev\n")
    _proc(proc, 108, cwd="/mnt/nas", start=555)
    found = {u.pid: u for u in processes_using(nas, entries=entries, proc=proc, exclude={108})}
    assert sorted(found) == [100, 101, 102]
    assert found[100].uses == ("cwd",)
    assert found[100].comm == "thing"
    assert found[100].start_time == 100
    assert found[101].uses == ("fd 7",)
    assert found[102].uses == ("mmap",)
    assert uses_of(108, nas, entries, proc) == ("cwd",)
    assert read_start_time(108, proc) == 555


def test_mountinfo_is_read_from_proc_when_not_given(tmp_path: Path) -> None:
    proc, _, nas = _tree(tmp_path)
    _proc(proc, 200, cwd="/mnt/nas")
    assert [u.pid for u in processes_using(nas, proc=proc)] == [200]


def test_real_proc_scan_finds_nothing_on_an_unused_mount() -> None:
    fake = MountEntry(999999, 1, "0:9999", "/", "/standfast/none", ("rw",), "tmpfs", "x", ())
    assert processes_using(fake) == []
