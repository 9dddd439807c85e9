"""Backup and restore with real daemons in namespaces (docs/backup.md): a server rebuilt
from nothing but its backup archive rejoins the cluster and catches up on what changed
after the backup; a backup of another cluster or of a newer format changes nothing."""

from __future__ import annotations

import base64
import io
import json
import shutil
import tarfile
import time
from pathlib import Path

import pytest

from standfast.cluster.keyring import fingerprint, new_key
from standfast.config import backup_archive as ba
from standfast.lab.netns import NetCluster, dump, net_cluster
from tests.cluster.test_replication import config_of, wait_same_config

pytestmark = [pytest.mark.root, pytest.mark.daemon]

SERVERS = ["server1", "server2", "server3"]


def names(path: Path) -> list[str]:
    with tarfile.open(path, "r:gz") as tar:
        return tar.getnames()


def alive_on_others(c: NetCluster, server: str) -> bool:
    for other in SERVERS:
        if other != server:
            seen = c.api(other, "GET", "/v1/status")["cluster"]["servers"].get(server, {})
            if not seen.get("alive"):
                return False
    return True


def wait_alive(c: NetCluster, server: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not alive_on_others(c, server):
        assert time.monotonic() < deadline, f"{server} is not alive on the others\n{dump(c)}"
        time.sleep(0.1)


def foreign(archive: Path, out: Path) -> Path:
    """The same archive as another cluster of the same name would make: another key."""
    got = ba.parse_archive(archive.read_bytes(), str(archive))
    key = new_key()
    files = {n: b for n, b in got.files.items() if n != ba.MANIFEST}
    files[ba.KEY] = base64.b64encode(key) + b"\n"
    m = got.manifest
    out.write_bytes(
        ba.build_archive(
            server=m.server,
            cluster=m.cluster,
            members=m.members,
            key_fingerprints=[fingerprint(key)],
            created=time.time(),
            files=files,
        )
    )
    return out


def newer(archive: Path, out: Path) -> Path:
    """The archive as a later Standfast (format 3) would write it."""
    buffer = io.BytesIO()
    with (
        tarfile.open(archive, "r:gz") as src,
        tarfile.open(fileobj=buffer, mode="w:gz") as dst,
    ):
        for info in src:
            f = src.extractfile(info)
            assert f is not None
            body = f.read()
            if info.name == ba.MANIFEST:
                body = json.dumps({**json.loads(body), "format": 3}).encode()
                info.size = len(body)
            dst.addfile(info, io.BytesIO(body))
    out.write_bytes(buffer.getvalue())
    return out


def files_of(home: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in sorted(home.rglob("*")) if p.is_file()}


def test_a_rebuilt_server_rejoins_from_its_backup_and_catches_up(tmp_path: Path) -> None:
    with net_cluster(tmp_path / "c", count=3, tag="k", defaults="") as c:
        c.start_all()
        time.sleep(c.settle_seconds())
        c.cli("server1", "resource", "create", "--kit", "app", "--tag", "app", *c.app_props("app"))
        c.cli("server1", "resource", "extend", "app", "--target", "server2")
        wait_same_config(c, SERVERS, timeout=10)

        # The backups of server2: without the key, then with it (and the warning).
        plain = tmp_path / "server2-plain.tgz"
        r = c.cli("server2", "config", "backup", str(plain))
        assert "198111" not in r.stderr and ba.KEY not in names(plain)
        archive = tmp_path / "server2.tgz"
        r = c.cli("server2", "config", "backup", str(archive), "--include-key")
        assert "198111" in r.stderr and ba.KEY in names(archive)
        assert archive.stat().st_mode & 0o077 == 0
        manifest = ba.parse_archive(archive.read_bytes(), str(archive)).manifest
        assert (manifest.cluster, manifest.server, manifest.members) == (
            "lab",
            "server2",
            tuple(SERVERS),
        )

        # A change made after the backup was taken.
        c.cli("server1", "resource", "set", "app", "--prop", "check_timeout=7")
        wanted = wait_same_config(c, ["server1", "server3"], timeout=10)

        # Another cluster's backup and a newer format, on a member: nothing changes.
        home1 = c.servers["server1"].home
        before = (home1 / "lib" / "cluster.json").read_bytes()
        for bad, code in (
            (foreign(archive, tmp_path / "f.tgz"), "198103"),
            (newer(archive, tmp_path / "n.tgz"), "198102"),
        ):
            for extra in ([], ["--server-files"]):
                r = c.cli("server1", "config", "restore", str(bad), *extra, check=False)
                assert r.returncode == 1 and r.stderr.startswith(f"{code}:"), r.stderr
        assert (home1 / "lib" / "cluster.json").read_bytes() == before
        assert config_of(c, "server1") == wanted

        # server2 is lost: its daemon, database, cluster files and defaults.
        c.stop("server2")
        home2 = c.servers["server2"].home
        shutil.rmtree(home2 / "lib")
        (home2 / "defaults").unlink()
        # A newer archive and a resource restore without the cluster files are refused
        # on the rebuilt server, and write nothing.
        left = files_of(home2)
        r = c.cli(
            "server2", "config", "restore", str(tmp_path / "n.tgz"), "--server-files", check=False
        )
        assert r.returncode == 1 and r.stderr.startswith("198102:"), r.stderr
        r = c.cli("server2", "config", "restore", str(archive), check=False)
        assert r.returncode == 1 and r.stderr.startswith("198109:"), r.stderr
        assert files_of(home2) == left

        # Rebuilt: the server files back, then the daemon.
        r = c.cli("server2", "config", "restore", str(archive), "--server-files")
        assert "198108" in r.stderr, r.stderr
        assert (home2 / "lib" / "cluster.key").stat().st_mode & 0o077 == 0
        c.start("server2")
        wait_alive(c, "server2", timeout=15)
        got = wait_same_config(c, SERVERS, timeout=15)
        assert got == wanted
        # server2's own copy, and the change made on server1 after the backup.
        shown = config_of(c, "server2")
        copies = {r["server"]: r for r in shown["resources"]}  # type: ignore[union-attr]
        assert sorted(copies) == ["server1", "server2"] and copies["server2"]["tag"] == "app"
        assert copies["server1"]["props"]["check_timeout"] == 7.0
