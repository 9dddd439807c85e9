"""``GET /v1/nfs-mounts``: the NFS mounts a NAS hierarchy can be created from, each with
the root tag the NAS kit would give it on this server (the GUI's create wizard shows
it as the default).

The daemon reads a mountinfo file of our own (``STANDFAST_MOUNTINFO``): no mount needed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from standfast.kits.nfs_source import default_filesys_tag
from tests.support.daemon import Daemon

pytestmark = [pytest.mark.daemon]

MOUNTINFO = """\
22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda1 rw,errors=remount-ro
41 22 0:40 / /mnt/data rw shared:20 - nfs 10.0.0.5:/export/data rw,vers=3,hard,addr=10.0.0.5
42 22 0:41 / /tmp/mnt rw shared:21 - nfs4 10.0.0.6:/ rw,vers=4.2,addr=10.0.0.6
43 22 0:42 / /test rw shared:22 - nfs 10.0.0.5:/export/test rw,vers=3,addr=10.0.0.5
44 22 0:43 / /scratch rw - tmpfs tmpfs rw
"""


@pytest.fixture
def mounted_daemon(tmp_path: Path) -> Iterator[Daemon]:
    info = tmp_path / "mountinfo"
    info.write_text(MOUNTINFO)
    d = Daemon(
        tmp_path / "sf", server="tom.brown.com", extra_env={"STANDFAST_MOUNTINFO": str(info)}
    ).start()
    yield d
    d.stop()


def test_nfs_mounts_reply_carries_the_kits_default_tag(mounted_daemon: Daemon) -> None:
    reply = mounted_daemon.api("GET", "/v1/nfs-mounts")
    assert reply == [
        {
            "mount_point": "/mnt/data",
            "source": "10.0.0.5:/export/data",
            "fstype": "nfs",
            "protected": "false",
            "default_tag": "mnt/data-on-tom.brown.com",
        },
        {
            "mount_point": "/tmp/mnt",
            "source": "10.0.0.6:/",
            "fstype": "nfs4",
            "protected": "false",
            # The reference guide's own example.
            "default_tag": "tmp/mnt-on-tom.brown.com",
        },
        {
            "mount_point": "/test",
            "source": "10.0.0.5:/export/test",
            "fstype": "nfs",
            "protected": "false",
            "default_tag": "test-on-tom.brown.com",
        },
    ]
    # The very function the NAS kit names its file system resource with.
    for row in reply:
        assert row["default_tag"] == default_filesys_tag(row["mount_point"], "tom.brown.com")


def test_cli_nfs_mounts_json_has_default_tag(mounted_daemon: Daemon) -> None:
    rows = mounted_daemon.cli_json("nfs-mounts")
    assert [r["default_tag"] for r in rows] == [
        "mnt/data-on-tom.brown.com",
        "tmp/mnt-on-tom.brown.com",
        "test-on-tom.brown.com",
    ]
