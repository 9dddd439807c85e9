"""The fault campaign's other findings, each reproduced with real daemons:

- a daemon killed while its application runs, restarted after its hierarchy was taken
  over elsewhere, stops its leftover copy (it used to report it OSU and leave it
  running, and a later restore adopted the orphan);
- an operator's ``in-service`` on a server without quorum is refused (it used to be
  accepted and run the hierarchy twice);
- a daemon that did not run for a while (SIGSTOP) restores nothing before it has heard
  its peers again.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from standfast.lab.netns import dump, net_cluster
from tests.cluster.test_failover import DEFAULTS, make_app

pytestmark = [pytest.mark.root, pytest.mark.daemon]


def ledger(c, server: str) -> list[str]:  # type: ignore[no-untyped-def]
    return [
        line.split()[3]
        for line in c.ledger.read_text().splitlines()
        if line.split()[1:3] == [server, "app"]
    ]


def test_a_restarted_daemon_stops_its_leftover_copy(tmp_path: Path) -> None:
    with net_cluster(tmp_path / "c", count=3, tag="r", defaults=DEFAULTS) as c:
        c.start_all()
        time.sleep(2.5)
        make_app(c)
        marker = c.ledger.with_name("app.server1.up")
        c.crash("server1")  # the daemon only: its application's marker stays
        c.wait_for("app", "server2", timeout=15)
        assert marker.exists() and ledger(c, "server1") == ["start"]
        c.start("server1")
        deadline = time.monotonic() + 15
        while marker.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not marker.exists(), dump(c)
        assert ledger(c, "server1") == ["start", "stop"]
        assert "193024" in c.servers["server1"].log_file.read_text()
        assert c.where("app") == ["server2"]
        # Brought back by the operator, it starts for real (no orphan adopted).
        c.cli("server1", "resource", "in-service", "app")
        assert c.where("app") == ["server1"]
        assert ledger(c, "server1") == ["start", "stop", "start"]


def test_in_service_without_quorum_is_refused(tmp_path: Path) -> None:
    with net_cluster(tmp_path / "c", count=3, tag="q", defaults=DEFAULTS) as c:
        c.start_all()
        time.sleep(2.5)
        make_app(c)
        for net in ("net1", "net2"):
            c.cut("server3", net)
        time.sleep(3.0)  # server3 has lost its peers and its quorum
        r = c.cli("server3", "resource", "in-service", "app", check=False)
        assert r.returncode != 0 and r.stderr.startswith("193022:"), (r.stdout, r.stderr)
        assert ledger(c, "server3") == []
        assert c.overlaps("app") == [], dump(c)
        assert c.where("app") == ["server1"]


def test_a_daemon_that_did_not_run_waits_to_hear_its_peers(tmp_path: Path) -> None:
    """A daemon stopped (SIGSTOP) for longer than failure detection wakes with a stale
    view of its peers: it says so (193027) and restores nothing until it has heard them
    again, so the holder keeps the hierarchy and nothing runs twice."""
    with net_cluster(tmp_path / "c", count=2, tag="p", defaults=DEFAULTS, quorum="none") as c:
        c.start_all()
        time.sleep(c.settle_seconds())
        c.cli("server1", "resource", "create", "--kit", "app", "--tag", "app", *c.app_props("app"))
        c.cli("server1", "resource", "extend", "app", "--target", "server2")
        c.hang("server2")
        time.sleep(3.0)  # peers declare a server failed after 1.5 s here
        c.unhang("server2")
        time.sleep(c.settle_seconds() + 1.0)
        text = c.servers["server2"].log_file.read_text()
        assert "193027" in text, dump(c)
        events = c.api("server2", "GET", "/v1/events")
        [stall] = [e for e in events if e["kind"] == "stall"]
        assert float(stall["data"]["seconds"]) >= 2.5
        assert c.where("app") == ["server1"], dump(c)
        assert c.overlaps("app") == [], dump(c)
