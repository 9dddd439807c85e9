"""The file system kit's target-side checks before an extend, on real mounts."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from standfast.config.paths import Paths
from standfast.config.tunables import Tunables
from standfast.kits.base import ActionLog, KitContext
from standfast.kits.nas import FilesysKit
from standfast.messages import StandfastError
from standfast.model.resources import Resource

pytestmark = pytest.mark.root


def ctx(tmp: Path) -> KitContext:
    return KitContext("server2", Tunables(), Paths.from_env({}, home=tmp), ActionLog())


def fs(mount_point: str) -> Resource:
    return Resource(
        server="server2",
        tag="data-on-server1",
        kit="filesys",
        id=mount_point,
        props={"source": "10.0.0.5:/export", "fstype": "nfs"},
    )


def refusal(tmp: Path, mount_point: str) -> str:
    try:
        FilesysKit().can_extend(ctx(tmp), fs(mount_point))
    except StandfastError as exc:
        return exc.code
    return ""


def test_target_mount_point_checks(tmp_path: Path) -> None:
    absent = tmp_path / "absent"
    assert refusal(tmp_path, str(absent)) == ""
    empty = tmp_path / "empty"
    empty.mkdir()
    assert refusal(tmp_path, str(empty)) == ""
    full = tmp_path / "full"
    full.mkdir()
    (full / "file").write_text("x")
    assert refusal(tmp_path, str(full)) == "104903"
    assert refusal(tmp_path, "relative/path") == "104902"
    mounted = tmp_path / "mounted"
    mounted.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(mounted)], check=True, timeout=10)
    assert refusal(tmp_path, str(mounted)) == "104901"
