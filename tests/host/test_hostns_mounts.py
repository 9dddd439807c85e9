"""mountinfo, mount and umount against real tmpfs mounts (private namespace)."""

from __future__ import annotations

from pathlib import Path

import pytest

from standfast.host import mountops
from standfast.host.mounts import (
    containing_mount,
    find_mount,
    is_mounted,
    mounts_at,
    read_mountinfo,
)

pytestmark = pytest.mark.root


def test_tmpfs_at_path_with_space_is_parsed(tmp_path: Path) -> None:
    mp = tmp_path / "mount point\twith tab"
    mp.mkdir()
    res = mountops.mount(
        "sf test src", str(mp), fstype="tmpfs", options=["size=1m", "mode=0755"], timeout=10
    )
    assert res.ok, res
    entries = read_mountinfo()
    entry = find_mount(str(mp), entries)
    assert entry is not None
    assert entry.mount_point == str(mp)
    assert entry.fstype == "tmpfs"
    assert entry.source == "sf test src"
    assert "rw" in entry.options
    assert entry.option_value("size") == "1024k"
    assert entry.root == "/"
    assert is_mounted(str(mp))
    assert is_mounted(str(mp) + "/")  # trailing slash is the same mount point
    assert containing_mount(str(mp / "a" / "b"), entries) == entry
    assert not entry.is_nfs

    assert mountops.umount(str(mp), timeout=10).ok
    assert not is_mounted(str(mp))


def test_stacked_mounts_find_the_topmost(tmp_path: Path) -> None:
    mp = str(tmp_path)
    for size in ("1m", "2m", "3m"):
        assert mountops.mount("stack", mp, fstype="tmpfs", options=[f"size={size}"], timeout=10).ok
    stack = mounts_at(mp, read_mountinfo())
    assert [e.option_value("size") for e in stack] == ["1024k", "2048k", "3072k"]
    top = find_mount(mp, read_mountinfo())
    assert top is not None and top.option_value("size") == "3072k"
    assert mountops.umount(mp, timeout=10).ok
    top = find_mount(mp, read_mountinfo())
    assert top is not None and top.option_value("size") == "2048k"


def test_mount_failure_is_a_result_not_an_exception(tmp_path: Path) -> None:
    res = mountops.mount(
        "nowhere", str(tmp_path / "missing"), fstype="tmpfs", options=[], timeout=10
    )
    assert not res.ok and res.returncode != 0 and not res.timed_out
    assert res.stderr
    res = mountops.umount(str(tmp_path), timeout=10)
    assert not res.ok and mountops.is_not_mounted(res)
