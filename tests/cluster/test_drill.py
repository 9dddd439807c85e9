"""The switchover drill with real daemons: ``standfast drill TAG`` visits every server
holding a copy, in priority order, deep-checks it there and brings it back, the
application's own ledger showing each move and never two servers at once; an unhealthy
hierarchy is refused (193030) and nothing moves."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from standfast.lab.netns import dump, net_cluster
from tests.cluster.test_failover import DEFAULTS, make_app

pytestmark = [pytest.mark.root, pytest.mark.daemon]


def starts(c, name: str) -> list[str]:  # type: ignore[no-untyped-def]
    return [
        line.split()[1]
        for line in c.ledger.read_text().splitlines()
        if line.split()[2:4] == [name, "start"]
    ]


def test_the_drill_visits_every_copy_in_priority_order_and_comes_back(tmp_path: Path) -> None:
    with net_cluster(tmp_path / "c", count=3, tag="d", defaults=DEFAULTS) as c:
        c.start_all()
        time.sleep(c.settle_seconds())
        make_app(c)
        r = c.cli("server1", "drill", "app", "--json", check=False, timeout=120)
        report = json.loads(r.stdout)["result"]
        assert r.returncode == 0, (r.stdout, r.stderr, dump(c))
        assert report["ok"] and report["start"] == "server1"
        assert [s["server"] for s in report["steps"]] == ["server2", "server3", "server1"]
        for step in report["steps"]:
            assert step["ok"] and step["seconds"] > 0
            assert [ch["tag"] for ch in step["checks"]] == ["app"]
        # From outside: the application itself ran on each server in turn, once at a time.
        assert starts(c, "app") == ["server1", "server2", "server3", "server1"]
        assert c.overlaps("app") == [], dump(c)
        assert c.where("app") == ["server1"]
        events = json.loads(c.cli("server1", "events", "--kind", "drill", "--json").stdout)
        assert [e["data"]["ok"] for e in events] == [True]

        # Unhealthy: a server with a copy is down. Refused, nothing moved.
        c.crash("server3")
        time.sleep(c.settle_seconds() + 0.5)  # declared failed by then
        r = c.cli("server1", "drill", "app", check=False)
        assert r.returncode != 0 and r.stderr.startswith("193030:"), (r.stdout, r.stderr)
        assert starts(c, "app") == ["server1", "server2", "server3", "server1"]
