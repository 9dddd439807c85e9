"""Parsing /proc/self/mountinfo text (no mounts needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from standfast.host.mounts import (
    MountinfoError,
    containing_mount,
    find_by_id,
    find_mount,
    is_mounted,
    mounts_at,
    nfs_mounts,
    parse_mountinfo,
    read_mountinfo,
    unescape,
)

SAMPLE = """\
22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda1 rw,errors=remount-ro
30 22 0:26 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw
41 22 0:40 / /mnt/nas\\040share rw shared:20 - nfs 10.0.0.5:/ex/a\\040b rw,vers=3,hard,addr=10.0.0.5
42 22 0:41 / /test rw,relatime shared:21 master:3 - nfs4 10.0.0.6:/ rw,vers=4.2,addr=10.0.0.6
43 42 0:42 / /test rw,relatime - tmpfs over rw,size=1024k
44 43 0:43 / /test rw - tmpfs top rw
45 22 0:44 /sub/dir /bind rw - ext4 /dev/vda1 rw
46 22 0:45 / /tab\\011and\\134back\\012nl rw - tmpfs  rw
"""


def test_fields_and_escapes() -> None:
    entries = parse_mountinfo(SAMPLE)
    assert len(entries) == 8
    nas = entries[2]
    assert nas.mount_id == 41 and nas.parent_id == 22 and nas.device == "0:40"
    assert nas.mount_point == "/mnt/nas share"
    assert nas.source == "10.0.0.5:/ex/a b"
    assert nas.fstype == "nfs"
    assert nas.options == ("rw",)
    assert nas.optional == ("shared:20",)
    assert nas.option_value("addr") == "10.0.0.5"
    assert nas.has_option("hard") and not nas.has_option("soft")
    assert entries[3].optional == ("shared:21", "master:3")
    assert entries[6].root == "/sub/dir"
    odd = entries[7]
    assert odd.mount_point == "/tab\tand\\back\nnl"
    assert odd.source == ""  # an empty source field is kept, not shifted


def test_unescape_utf8() -> None:
    # The kernel escapes only space, tab, newline and backslash; UTF-8 is raw.
    assert unescape("/m\\303\\251") == "/mé"
    assert unescape("/plain") == "/plain"


def test_find_mount_takes_topmost_of_stack() -> None:
    entries = parse_mountinfo(SAMPLE)
    stack = mounts_at("/test", entries)
    assert [e.mount_id for e in stack] == [42, 43, 44]
    top = find_mount("/test/", entries)
    assert top is not None and top.mount_id == 44
    # Order in the file must not matter.
    top = find_mount("/test", list(reversed(entries)))
    assert top is not None and top.mount_id == 44
    assert find_mount("/nothing", entries) is None
    assert find_by_id(43, entries) is not None


def test_nfs_mounts_and_containing() -> None:
    entries = parse_mountinfo(SAMPLE)
    assert [e.mount_id for e in nfs_mounts(entries)] == [41, 42]
    inner = containing_mount("/mnt/nas share/x/y", entries)
    assert inner is not None and inner.mount_id == 41
    root = containing_mount("/mnt/nas sharex", entries)
    assert root is not None and root.mount_id == 22
    top = containing_mount("/test/file", entries)
    assert top is not None and top.mount_id == 44


@pytest.mark.parametrize(
    "line",
    ["", "1 2 3", "x 1 0:1 / /a rw - tmpfs t rw", "1 2 0:1 / /a rw no separator here"],
)
def test_malformed_lines_raise(line: str) -> None:
    if not line:
        assert parse_mountinfo(line) == []
        return
    with pytest.raises(MountinfoError):
        parse_mountinfo(line)


def test_read_from_file_and_is_mounted(tmp_path: Path) -> None:
    path = tmp_path / "mountinfo"
    path.write_text(SAMPLE)
    assert len(read_mountinfo(path)) == 8
    assert is_mounted("/mnt/nas share", mountinfo=path)
    assert not is_mounted("/mnt", mountinfo=path)


def test_real_mountinfo_parses() -> None:
    entries = read_mountinfo()
    assert find_mount("/", entries) is not None
