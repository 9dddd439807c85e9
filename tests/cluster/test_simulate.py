"""``standfast simulate`` against the real outcome of the same fault: what it predicts
from the live snapshot is what the cluster then does."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from standfast.lab.netns import dump, net_cluster
from tests.cluster.test_failover import fenced_cluster, make_app

pytestmark = [pytest.mark.root, pytest.mark.daemon]


def test_simulated_failure_matches_the_real_failover(tmp_path: Path) -> None:
    work = tmp_path / "c"
    with fenced_cluster(work, "s") as c:
        time.sleep(2.5)
        make_app(c)
        time.sleep(1.0)  # every server has heard who holds it
        before = c.states("server1")
        r = c.cli("server3", "simulate", "fail", "server1", "--json")
        predicted = {h["tag"]: h for h in json.loads(r.stdout)["hierarchies"]}["app"]
        assert predicted["before"] == ["server1"]
        assert predicted["after"] == ["server2"]
        assert predicted["action"] == "fails over"
        assert predicted["fence"] == "server1"
        # Asking changed nothing.
        assert c.states("server1") == before and c.where("app") == ["server1"]
        human = c.cli("server3", "simulate", "fail", "server1").stdout
        assert "fence server1" in human and "server2" in human

        # The same fault for real: server1's daemon hangs; it is fenced, server2 takes over.
        c.hang("server1")
        c.wait_for("app", "server2", timeout=15)
        fenced = (work / "fenced").read_text().split()
        assert fenced[1] == "server1"
        assert c.overlaps("app", ignore={"server1": float(fenced[0])}) == [], dump(c)
        assert c.where("app") == ["server2"]


def test_simulate_refuses_an_unknown_server(tmp_path: Path) -> None:
    with net_cluster(tmp_path / "c", count=2, tag="u", defaults="", quorum="none") as c:
        c.start_all()
        r = c.cli("server1", "simulate", "fail", "nosuch", check=False)
        assert r.returncode != 0 and r.stderr.startswith("193002:")
