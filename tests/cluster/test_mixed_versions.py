"""Clusters of two releases, each server running its own checkout (issue 14, upgrades):
a server of the previous release beside servers of this one forms one cluster with
them, replicates, fails over and switches over both ways; a server of a release that
speaks another cluster protocol is refused (191013), never misread, and counts for
nothing.

The earlier releases come from this repository's history (``git archive`` of a landed
commit), so this tier needs a full clone. The daemons share this machine's Python
environment; each runs its own ``src`` tree.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from standfast.lab.netns import NetCluster, dump

pytestmark = [pytest.mark.root, pytest.mark.daemon]

ROOT = Path(__file__).resolve().parents[2]
#: The release landed before this one (stop 20): cluster protocol 2, as this one.
PREVIOUS = "75345157e0260682575faae3ae133fad6a65caf1"
#: The last landed release of cluster protocol 1 (before the sealed bodies).
PROTOCOL_1 = "ffed436a0f2f2ecafaff82bfa62909343c78b120"


def release_tree(commit: str, dest: Path) -> Path:
    """The ``src`` tree of ``commit``, unpacked under ``dest``."""
    # safe.directory: the checkout may belong to another user than the tests' root.
    git = ["git", "-c", "safe.directory=*", "-C", str(ROOT)]
    r = subprocess.run(
        [*git, "archive", "--format=tar", commit, "src"],
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert r.returncode == 0, (
        f"release {commit[:7]} is not in this checkout's history (a full clone is needed):"
        f" {r.stderr.decode(errors='replace')}"
    )
    dest.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(r.stdout)) as tar:
        tar.extractall(dest, filter="data")
    return dest / "src"


def imported_from(c: NetCluster, server: str) -> str:
    """Where ``server``'s Python finds the standfast package (its release's tree)."""
    r = subprocess.run(
        [sys.executable, "-c", "import standfast; print(standfast.__file__)"],
        env=c.env(c.servers[server]),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return r.stdout.strip()


@pytest.fixture
def mixed(tmp_path: Path) -> Iterator[NetCluster]:
    old = release_tree(PREVIOUS, tmp_path / "previous")
    c = NetCluster(tmp_path / "lab", tag="mv", sources={"server3": old})
    try:
        c.up()
        c.start_all()
        yield c
    finally:
        print(dump(c)[-6000:])
        for name in c.servers:
            c.stop(name)
        c.down()


def alive(c: NetCluster, asker: str) -> set[str]:
    cluster = c.api(asker, "GET", "/v1/status")["cluster"]
    return {name for name, s in cluster["servers"].items() if s["alive"]}


def wait_alive(c: NetCluster, asker: str, wanted: set[str], timeout: float = 20) -> set[str]:
    deadline = time.monotonic() + timeout
    seen = alive(c, asker)
    while seen != wanted and time.monotonic() < deadline:
        time.sleep(0.2)
        seen = alive(c, asker)
    return seen


def no_tracebacks(c: NetCluster) -> None:
    for srv in c.servers.values():
        text = (srv.home / "daemon.out").read_text(errors="replace")
        assert "Traceback" not in text, f"{srv.name}:\n{text[-4000:]}"


def test_previous_release_works_beside_this_one(mixed: NetCluster) -> None:
    c = mixed
    assert "/previous/src/standfast/" in imported_from(c, "server3")
    assert "/previous/" not in imported_from(c, "server1")
    everyone = {"server1", "server2", "server3"}
    for asker in ("server1", "server3"):
        assert wait_alive(c, asker, everyone) == everyone, asker
    # Made on this release, extended to both: the previous release's pre-extend
    # checks, configuration push and copy.
    c.cli("server1", "resource", "create", "--kit", "app", "--tag", "app", *c.app_props("app"))
    c.wait_for("app", "server1", 20)
    c.cli("server1", "resource", "extend", "app", "--target", "server3")
    c.cli("server1", "resource", "extend", "app", "--target", "server2")
    c.wait_for("app", "server3", 20, state="OSU")
    # A power cut of the new holder: the previous release (priority 10) takes over.
    crashed_at = time.time()
    c.crash("server1")
    c.wait_for("app", "server3", 30)
    # Made on the previous release, extended to this one: replication the other way.
    c.cli("server3", "resource", "create", "--kit", "app", "--tag", "web", *c.app_props("web"))
    c.wait_for("web", "server3", 20)
    c.cli("server3", "resource", "extend", "web", "--target", "server2")
    c.wait_for("web", "server2", 20, state="OSU")
    # An operator's switchover from this release, released by the previous one.
    c.cli("server2", "resource", "in-service", "app")
    c.wait_for("app", "server2", 30)
    c.wait_for("app", "server3", 20, state="OSU")
    # The server of this release comes back and catches up with both changes.
    c.start("server1")
    assert wait_alive(c, "server3", everyone) == everyone
    c.wait_for("web", "server2", 20, state="OSU")
    configs = {s: c.api(s, "GET", "/v1/config")["version"] for s in everyone}
    deadline = time.monotonic() + 20
    while len(set(configs.values())) != 1 and time.monotonic() < deadline:
        time.sleep(0.3)
        configs = {s: c.api(s, "GET", "/v1/config")["version"] for s in everyone}
    assert len(set(configs.values())) == 1, configs
    # server1 holds no copy of web, but its configuration has it.
    assert '"web"' in json.dumps(c.api("server1", "GET", "/v1/config"))
    # Safety, from the applications' own ledger: never on two servers at once (the
    # crashed daemon's copy counts as dead from the crash: SIGKILL of it alone leaves
    # the test's application's ledger open).
    assert c.overlaps("app", ignore={"server1": crashed_at}) == []
    assert c.overlaps("web") == []
    no_tracebacks(c)


def test_a_release_of_another_cluster_protocol_is_refused(tmp_path: Path) -> None:
    old = release_tree(PROTOCOL_1, tmp_path / "protocol1")
    c = NetCluster(tmp_path / "lab", tag="mp", sources={"server3": old})
    try:
        c.up()
        c.start_all()
        time.sleep(c.settle_seconds())
        # This release's servers hear each other, and refuse what server3 sends.
        assert wait_alive(c, "server1", {"server1", "server2"}) == {"server1", "server2"}
        time.sleep(2.0)  # every heartbeat of server3 so far refused, none misread
        assert alive(c, "server1") == {"server1", "server2"}
        log = (c.servers["server1"].home / "log/standfast.log").read_text(errors="replace")
        assert "191013" in log and "protocol 1" in log, log[-3000:]
        # It counts for nothing: no extension to it, quorum from the two others alone.
        c.cli("server1", "resource", "create", "--kit", "app", "--tag", "app", *c.app_props("app"))
        c.wait_for("app", "server1", 20)
        r = c.cli("server1", "resource", "extend", "app", "--target", "server3", check=False)
        assert r.returncode != 0 and "193010" in r.stderr + r.stdout, r.stderr
        quorum = c.api("server1", "GET", "/v1/status")["cluster"]["quorum"]
        assert quorum["has_quorum"] and quorum["votes"] == 2, json.dumps(quorum)
        assert c.overlaps("app") == []
        for name in ("server1", "server2"):
            text = (c.servers[name].home / "daemon.out").read_text(errors="replace")
            assert "Traceback" not in text, f"{name}:\n{text[-4000:]}"
    finally:
        print(dump(c)[-6000:])
        for name in c.servers:
            c.stop(name)
        c.down()
