"""Fencing, a TCP witness and failover confirmation among real daemons."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from standfast.lab.netns import NetCluster, dump, net_cluster

pytestmark = [pytest.mark.root, pytest.mark.daemon]

DEFAULTS = "SF_QUICKCHECK_INTERVAL=0.5\n"


def fence_script(workdir: Path, *, works: bool) -> Path:
    """A fence agent for the test bed: 'powers off' a server by SIGKILL of its daemon
    (the pid file the test writes) and records when."""
    script = workdir / "fence-agent"
    workdir.mkdir(parents=True, exist_ok=True)
    body = f'#!/bin/sh\necho "$(date +%s.%N) $1" >> {workdir}/fenced\n' + (
        f'kill -9 "$(cat {workdir}/$1.pid)"\n' if works else "exit 1\n"
    )
    script.write_text(body)
    script.chmod(0o755)
    return script


def test_hung_server_is_fenced_before_takeover(tmp_path: Path) -> None:
    work = tmp_path / "c"
    agent = fence_script(work, works=True)
    extra = {"fencing": {"command": [str(agent), "{server}"], "timeout": 10, "attempts": 2}}
    with net_cluster(
        work, count=2, tag="f", defaults=DEFAULTS, quorum="none", definition_extra=extra
    ) as c:
        c.start_all()
        for name in c.servers:
            (work / f"{name}.pid").write_text(str(c.pid(name)))
        time.sleep(2.5)
        c.cli("server1", "resource", "create", "--kit", "app", "--tag", "app", *c.app_props("app"))
        c.cli("server1", "resource", "extend", "app", "--target", "server2")
        c.hang("server1")  # hung, not dead: only fencing makes the takeover safe
        c.wait_for("app", "server2", timeout=15)
        assert (work / "fenced").exists(), c.cli("server2", "events").stdout + dump(c)
        fenced = (work / "fenced").read_text().split()
        fenced_at, who = float(fenced[0]), fenced[1]
        assert who == "server1"
        assert c.servers["server1"].proc is not None
        assert c.servers["server1"].proc.wait(5) == -9  # really powered off
        starts = [
            float(ln.split()[0])
            for ln in c.ledger.read_text().splitlines()
            if " server2 app start" in ln
        ]
        assert starts and starts[0] > fenced_at  # fenced first, then taken over
        assert c.overlaps("app", ignore={"server1": fenced_at}) == [], dump(c)
        events = c.cli("server2", "events", "--json").stdout
        assert '"fenced"' in events


def test_failed_fencing_blocks_takeover(tmp_path: Path) -> None:
    work = tmp_path / "c"
    agent = fence_script(work, works=False)
    extra = {"fencing": {"command": [str(agent), "{server}"], "timeout": 5, "attempts": 1}}
    with net_cluster(
        work, count=2, tag="g", defaults=DEFAULTS, quorum="none", definition_extra=extra
    ) as c:
        c.start_all()
        time.sleep(2.5)
        c.cli("server1", "resource", "create", "--kit", "app", "--tag", "app", *c.app_props("app"))
        c.cli("server1", "resource", "extend", "app", "--target", "server2")
        c.crash("server1")
        time.sleep(5)
        assert c.states("server2")["app"] == "OSU"
        assert '"fence_failed"' in c.cli("server2", "events", "--json").stdout


def test_tcp_witness_breaks_the_tie_in_two_servers(tmp_path: Path) -> None:
    work = tmp_path / "c"
    extra = {"witness": {"host": "10.249.1.1", "port": 7802, "timeout": 1.0}}
    with net_cluster(
        work, count=2, tag="w", defaults=DEFAULTS, quorum="tcp_witness", definition_extra=extra
    ) as c:
        c.start_witness(grant_ttl=3.0)
        c.start_all()
        time.sleep(3.5)
        c.cli("server1", "resource", "create", "--kit", "app", "--tag", "app", *c.app_props("app"))
        c.cli("server1", "resource", "extend", "app", "--target", "server2")
        q = c.api("server1", "GET", "/v1/status")["cluster"]["quorum"]
        assert q["has_quorum"] and q["mode"] == "tcp_witness"
        # Losing the witness alone changes nothing: both servers still hold 2 of 3 votes.
        c.stop_witness()
        time.sleep(3)
        for name in ("server1", "server2"):
            assert c.api(name, "GET", "/v1/status")["cluster"]["quorum"]["has_quorum"]
        assert c.where("app") == ["server1"]
        c.start_witness(grant_ttl=3.0)
        time.sleep(2)
        # Isolate server1 from server2 and from the witness (both on its links).
        c.cut("server1", "net1")
        c.cut("server1", "net2")
        c.wait_for("app", "server2", timeout=15)
        c.wait_for("app", "server1", timeout=10, state="OSU")
        assert c.api("server1", "GET", "/v1/status")["cluster"]["quorum"]["has_quorum"] is False
        assert c.overlaps("app") == [], dump(c)


def test_failover_waits_for_confirmation(tmp_path: Path) -> None:
    work = tmp_path / "c"
    extra = {"confirm_failover": {"timeout": 60, "default": "block"}}
    with net_cluster(
        work, count=2, tag="k", defaults=DEFAULTS, quorum="none", definition_extra=extra
    ) as c:
        c.start_all()
        time.sleep(2.5)
        c.cli("server1", "resource", "create", "--kit", "app", "--tag", "app", *c.app_props("app"))
        c.cli("server1", "resource", "extend", "app", "--target", "server2")
        c.crash("server1")
        time.sleep(4)
        assert c.states("server2")["app"] == "OSU"
        pending = c.api("server2", "GET", "/v1/status")["cluster"]["pending_confirmations"]
        assert [p["tag"] for p in pending] == ["app"]
        c.cli("server2", "failover-answer", "app", "proceed")
        c.wait_for("app", "server2", timeout=5)


def quorum_of(c: NetCluster, server: str) -> dict[str, Any]:
    return dict(c.api(server, "GET", "/v1/status")["cluster"]["quorum"])


def test_storage_witness_keeps_one_side_in_two_servers(tmp_path: Path) -> None:
    """Two servers and a lease file both reach (the storage witness). Cut off from each
    other, only the lease holder keeps quorum: the other side releases, or never takes
    over a hierarchy it can no longer see, so nothing ever runs twice."""
    work = tmp_path / "c"
    work.mkdir(parents=True)
    lease = work / "witness-lease"
    extra = {"witness": {"lease_path": str(lease), "ttl": 3.0, "io_timeout": 1.0}}
    with net_cluster(
        work, count=2, tag="s", defaults=DEFAULTS, quorum="storage_witness", definition_extra=extra
    ) as c:
        # server2 starts first and takes the lease; server1 joins without it.
        c.start("server2")
        deadline = time.monotonic() + 10
        while quorum_of(c, "server2")["votes"] < 2:
            assert time.monotonic() < deadline, quorum_of(c, "server2")
            time.sleep(0.2)
        c.start("server1")
        time.sleep(c.settle_seconds() + 1.0)
        assert quorum_of(c, "server1")["has_quorum"] and quorum_of(c, "server2")["votes"] == 3
        assert quorum_of(c, "server1")["votes"] == 2  # itself and server2, not the lease
        c.cli("server1", "resource", "create", "--kit", "app", "--tag", "app", *c.app_props("app"))
        c.cli("server1", "resource", "extend", "app", "--target", "server2")
        assert c.where("app") == ["server1"]

        # server1, holding the application but not the lease, is cut off: it loses
        # quorum and releases; server2 (lease) takes over.
        c.cut("server1", "net1")
        c.cut("server1", "net2")
        c.wait_for("app", "server2", timeout=15)
        c.wait_for("app", "server1", timeout=10, state="OSU")
        assert quorum_of(c, "server1")["has_quorum"] is False
        assert quorum_of(c, "server2")["has_quorum"] is True
        assert c.overlaps("app") == [], dump(c)

        # Healed, then server2 (application and lease) is cut off: it keeps both;
        # server1 sees server2 fail but, without quorum, never takes the application.
        c.heal("server1", "net1")
        c.heal("server1", "net2")
        deadline = time.monotonic() + 15
        while not quorum_of(c, "server1")["has_quorum"]:
            assert time.monotonic() < deadline, dump(c)
            time.sleep(0.2)
        time.sleep(c.settle_seconds())
        assert c.where("app") == ["server2"]
        c.cut("server2", "net1")
        c.cut("server2", "net2")
        watch_until = time.monotonic() + 8.0  # beyond detection (1.5 s) and a lease ttl
        while time.monotonic() < watch_until:
            assert c.states("server1")["app"] != "ISP", dump(c)
            time.sleep(0.1)
        assert c.where("app") == ["server2"]
        assert quorum_of(c, "server1")["has_quorum"] is False
        assert quorum_of(c, "server2")["has_quorum"] is True
        assert c.overlaps("app") == [], dump(c)
