"""A non-transitive partition (the fault campaign's first finding): server1 loses net1
and server3 loses net2, so they no longer hear each other while both still hear
server2. Each used to count 2 of 3 votes and both ran the hierarchy; with an agreed
membership only one side keeps quorum, and the application's own ledger shows it
never ran twice."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from standfast.lab.netns import dump, net_cluster
from tests.cluster.test_failover import DEFAULTS, make_app

pytestmark = [pytest.mark.root, pytest.mark.daemon]


@pytest.mark.parametrize("together", [True, False], ids=["one-fault", "two-faults"])
def test_non_transitive_split_runs_nothing_twice(tmp_path: Path, together: bool) -> None:
    with net_cluster(tmp_path / "c", count=3, tag="p", defaults=DEFAULTS) as c:
        c.start_all()
        time.sleep(2.5)
        make_app(c)
        c.cli("server3", "resource", "in-service", "app")  # the holder is on the side that loses
        assert c.where("app") == ["server3"]
        c.cut("server1", "net1")
        if not together:
            time.sleep(3.0)  # a single cut: nothing moves
            assert c.where("app") == ["server3"]
        c.cut("server3", "net2")
        time.sleep(10.0)
        holders = c.where("app")
        assert len(holders) == 1, (holders, dump(c))
        assert c.overlaps("app") == [], dump(c)
        c.heal("server1", "net1")
        c.heal("server3", "net2")
        time.sleep(4.0)
        assert len(c.where("app")) == 1
        assert c.overlaps("app") == [], dump(c)
