"""write_atomic: content, modes, no clobbering, clean failure (no root needed)."""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from standfast.host import atomic
from standfast.host.atomic import fsync_directory, write_atomic


def _names(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


@pytest.fixture
def umask_077() -> Iterator[None]:
    old = os.umask(0o077)
    yield
    os.umask(old)


def test_write_replace_and_exact_mode(tmp_path: Path, umask_077: None) -> None:
    path = tmp_path / "file"
    write_atomic(path, b"one\n", mode=0o640)
    assert path.read_bytes() == b"one\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640  # the umask does not apply
    write_atomic(str(path), b"two\n", mode=0o600)
    assert path.read_bytes() == b"two\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert _names(tmp_path) == ["file"]


def test_no_mode_is_0644_under_the_umask(tmp_path: Path, umask_077: None) -> None:
    write_atomic(tmp_path / "file", b"x")
    assert stat.S_IMODE((tmp_path / "file").stat().st_mode) == 0o600


def test_owner_is_given_when_allowed(tmp_path: Path) -> None:
    write_atomic(tmp_path / "file", b"x", owner=(os.getuid(), os.getgid()))
    st = (tmp_path / "file").stat()
    assert (st.st_uid, st.st_gid) == (os.getuid(), os.getgid())


def test_no_overwrite_never_clobbers(tmp_path: Path) -> None:
    path = tmp_path / "key"
    write_atomic(path, b"first", overwrite=False)
    with pytest.raises(FileExistsError):
        write_atomic(path, b"second", overwrite=False)
    assert path.read_bytes() == b"first"
    assert _names(tmp_path) == ["key"]


def test_a_failure_before_the_rename_leaves_the_file_and_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "file"
    path.write_bytes(b"old")

    def no_space(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", no_space)
    with pytest.raises(OSError):
        write_atomic(path, b"new")
    assert path.read_bytes() == b"old"
    assert _names(tmp_path) == ["file"]


def test_temp_name_is_hidden_and_tagged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []
    real = os.replace

    def replace(src: str, dst: str) -> None:
        seen.append(os.path.basename(src))
        real(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    write_atomic(tmp_path / "lease.json", b"{}", tag="server1")
    (name,) = seen
    assert name.startswith(atomic.TEMP_PREFIX + "lease.json.server1.")


def test_directory_fsync_skips_what_the_file_system_cannot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fsync_directory(tmp_path / "missing")  # cannot be opened: skipped

    def refuse(fd: int) -> None:
        raise OSError(errno.EINVAL, "Invalid argument")

    monkeypatch.setattr(os, "fsync", refuse)
    fsync_directory(tmp_path)

    def broken(fd: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "fsync", broken)
    with pytest.raises(OSError):
        fsync_directory(tmp_path)
