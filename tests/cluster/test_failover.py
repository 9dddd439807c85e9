"""Several real daemons, each in its own network namespace with two comm paths:
extend, switchover, failover on crash and hang, switchback, quorum loss, and an
observer that proves from the application's own ledger that it never ran twice."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from standfast.lab.netns import NetCluster, dump, net_cluster

pytestmark = [pytest.mark.root, pytest.mark.daemon]

DEFAULTS = "SF_QUICKCHECK_INTERVAL=0.5\n"


@pytest.fixture
def cluster3(tmp_path: Path) -> Iterator[NetCluster]:
    with net_cluster(tmp_path / "c", count=3, tag="a", defaults=DEFAULTS) as c:
        c.start_all()
        yield c


@contextmanager
def fenced_cluster(work: Path, tag: str) -> Iterator[NetCluster]:
    """Three servers with fencing: the fence agent records ``time server`` in
    ``work/fenced`` and SIGKILLs that server's daemon (a power switch's effect; like
    one, it succeeds when the daemon is gone already)."""
    work.mkdir(parents=True)
    agent = work / "fence-agent"
    agent.write_text(
        f'#!/bin/sh\necho "$(date +%s.%N) $1" >> {work}/fenced\n'
        f'kill -9 "$(cat {work}/$1.pid)" 2>/dev/null\nexit 0\n'
    )
    agent.chmod(0o755)
    extra = {"fencing": {"command": [str(agent), "{server}"], "timeout": 10}}
    with net_cluster(work, count=3, tag=tag, defaults=DEFAULTS, definition_extra=extra) as c:
        c.start_all()
        for name in c.servers:
            (work / f"{name}.pid").write_text(str(c.pid(name)))
        yield c


def make_app(c: NetCluster, tag: str = "app") -> None:
    c.cli("server1", "resource", "create", "--kit", "app", "--tag", tag, *c.app_props(tag))
    for target in ("server2", "server3"):
        r = c.cli("server1", "resource", "extend", tag, "--target", target)
        assert "Pre Extend checks were successful" in r.stdout


def failover_event(c: NetCluster, server: str, tag: str, timeout: float = 5.0) -> dict[str, Any]:
    """The data of the latest failover event of *tag* on *server* (it is recorded just
    after the hierarchy is in service, so it may lag the state by a moment)."""
    deadline = time.monotonic() + timeout
    while True:
        events = json.loads(c.cli(server, "events", "--json").stdout)
        found = [e for e in events if e["kind"] == "failover" and e["tag"] == tag]
        if found:
            return dict(found[-1]["data"])
        assert time.monotonic() < deadline, [
            (e["kind"], e["tag"], e["detail"])
            for e in events
            if e["tag"] == tag or e["kind"] != "state"
        ][-10:]
        time.sleep(0.1)


def test_extend_switchover_and_crash_failover(cluster3: NetCluster) -> None:
    c = cluster3
    time.sleep(2.5)  # settle: every daemon has heard the others
    make_app(c)
    status = c.cli("server3", "status", "--json")
    assert '"server2"' in status.stdout
    # The replicated configuration reached every server.
    for s in ("server2", "server3"):
        deadline = time.monotonic() + 5
        while "app" not in c.states(s) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert c.states(s)["app"] == "OSU"
    assert c.where("app") == ["server1"]

    # Switchover: in service on server2 takes it from server1.
    c.cli("server2", "resource", "in-service", "app")
    assert c.where("app") == ["server2"]

    # Crash server2 (SIGKILL of its daemon): the best remaining priority takes over.
    crashed_at = time.time()
    c.crash("server2")
    took = c.wait_for("app", "server1", timeout=10)
    assert took < 5, took
    data = failover_event(c, "server1", "app")
    # The outage as the cluster saw it: the last heartbeat heard from server2 (before
    # the crash, at most one interval) to in service here; detection then takeover.
    assert data["last_heard_at"] <= crashed_at + 0.05, data
    assert crashed_at - data["last_heard_at"] < 0.3 + 0.1, data
    assert data["last_heard_at"] < data["detected_at"] <= data["decision_at"] + 0.001, data
    detection = data["outage_seconds"] - data["detect_to_in_service_seconds"]
    assert 0.3 * 4 <= detection <= 0.3 * 6, data  # miss count 5 x interval 0.3 s
    assert c.overlaps("app", ignore={"server2": crashed_at}) == [], dump(c)


def test_failure_of_a_resource_moves_the_hierarchy(cluster3: NetCluster) -> None:
    c = cluster3
    time.sleep(2.5)
    make_app(c)
    marker = c.ledger.with_name("app.server1.up")
    marker.unlink()  # the application dies on server1
    c.wait_for("app", "server2", timeout=10)
    assert c.states("server1")["app"] == "OSF"
    assert c.overlaps("app") == [], dump(c)


def test_one_comm_path_cut_is_not_a_failure(cluster3: NetCluster) -> None:
    c = cluster3
    time.sleep(2.5)
    make_app(c)
    c.cut("server1", "net1")
    time.sleep(3)
    assert c.where("app") == ["server1"]
    st = c.api("server2", "GET", "/v1/status")["cluster"]["servers"]["server1"]
    assert st["alive"] and st["paths"]["net1"] == "DEAD" and st["paths"]["net2"] == "ALIVE"
    c.heal("server1", "net1")


def test_isolated_primary_loses_quorum_and_releases(cluster3: NetCluster) -> None:
    c = cluster3
    time.sleep(2.5)
    make_app(c)
    c.cut("server1", "net1")
    c.cut("server1", "net2")
    c.wait_for("app", "server2", timeout=10)
    c.wait_for("app", "server1", timeout=10, state="OSU")
    status = c.api("server1", "GET", "/v1/status")["cluster"]["quorum"]
    assert status["has_quorum"] is False
    # Quorum is configured: the application must never have run on two servers.
    assert c.overlaps("app") == [], dump(c)
    c.heal("server1", "net1")
    c.heal("server1", "net2")
    time.sleep(3)
    assert c.where("app") == ["server2"], dump(c)  # intelligent switchback: it stays


def test_automatic_switchback_and_unextend(tmp_path: Path) -> None:
    with net_cluster(tmp_path / "c", count=2, tag="b", defaults=DEFAULTS, quorum="none") as c:
        c.start_all()
        time.sleep(2.5)
        c.cli(
            "server1",
            "resource",
            "create",
            "--kit",
            "app",
            "--tag",
            "app",
            "--switchback",
            "automatic",
            *c.app_props("app"),
        )
        c.cli("server1", "resource", "extend", "app", "--target", "server2")
        c.crash("server1")
        c.wait_for("app", "server2", timeout=10)
        c.start("server1")
        c.wait_for("app", "server1", timeout=15)
        assert c.where("app") == ["server1"]
        r = c.cli("server2", "resource", "unextend", "app", "--server", "server1", check=False)
        assert r.returncode != 0 and "193011" in r.stderr  # in service there
        r = c.cli("server1", "resource", "unextend", "app", "--server", "server2")
        assert "Target Server = server2" in r.stdout
        time.sleep(1)
        assert "app" not in c.states("server2")


def test_hung_primary_is_fenced_then_replaced(tmp_path: Path) -> None:
    """A hung (SIGSTOPped) daemon looks exactly like a crashed one from outside; only
    fencing makes taking over its hierarchies safe, so this test configures it, with
    quorum, and the observer must find the application never ran twice."""
    work = tmp_path / "c"
    with fenced_cluster(work, "h") as c:
        time.sleep(2.5)
        make_app(c)
        c.hang("server1")
        c.wait_for("app", "server2", timeout=15)
        fenced_at = float((work / "fenced").read_text().split()[0])
        assert c.overlaps("app", ignore={"server1": fenced_at}) == [], dump(c)
        assert c.where("app") == ["server2"]


def test_delete_removes_every_copy(cluster3: NetCluster) -> None:
    c = cluster3
    time.sleep(2.5)
    make_app(c)
    r = c.cli("server2", "resource", "delete", "app", check=False)
    assert r.returncode != 0 and r.stderr.startswith("190016:")  # in service on server1
    c.cli("server2", "resource", "out-of-service", "app")
    assert c.where("app") == []
    c.cli("server2", "resource", "delete", "app")
    deadline = time.monotonic() + 5
    while any("app" in c.states(s) for s in c.servers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert all("app" not in c.states(s) for s in c.servers)


def test_switchover_back_to_a_server_whose_copy_failed(tmp_path: Path) -> None:
    """After a resource failure moved the hierarchy away, the operator brings it back
    to the (repaired) server: the holder must not take it back in between."""
    with net_cluster(tmp_path / "c", count=2, tag="o", defaults=DEFAULTS, quorum="none") as c:
        c.start_all()
        time.sleep(c.settle_seconds())
        c.cli("server1", "resource", "create", "--kit", "app", "--tag", "app", *c.app_props("app"))
        c.cli("server1", "resource", "extend", "app", "--target", "server2")
        c.ledger.with_name("app.server1.up").unlink()  # the application dies on server1
        c.wait_for("app", "server2", timeout=10)
        assert c.states("server1")["app"] == "OSF"
        c.cli("server1", "resource", "in-service", "app")
        time.sleep(3)  # anything the old holder would wrongly do, it does by now
        assert c.where("app") == ["server1"], dump(c)
        assert c.overlaps("app") == [], dump(c)
