"""A daemon stopped cleanly (SIGTERM: ``systemctl stop`` or ``restart``) on the server
that holds a hierarchy, with real daemons in network namespaces and the application's
own ledger as the judge (engine/leave.py).

It takes the hierarchy out of service before it exits and says so in its last
heartbeats; a peer then takes it over at once, as a switchover: no fence (fencing is
configured), no overlap in the ledger, 198205 "left" and not 191007 "failed". A
hierarchy in maintenance stays running across the restart and is never started twice.
A remove that fails leaves the server a suspect: its peers fence it before they take
the hierarchy over, as after a crash.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from standfast.lab.netns import NetCluster, dump, net_cluster
from tests.cluster.test_failover import DEFAULTS, fenced_cluster, make_app

pytestmark = [pytest.mark.root, pytest.mark.daemon]


def events(c: NetCluster, server: str) -> list[dict[str, object]]:
    return list(json.loads(c.cli(server, "events", "--json").stdout))


def wait_events(c: NetCluster, server: str, *wanted: tuple[str, str]) -> list[tuple[str, str]]:
    """(kind, tag) of ``server``'s events once each of ``wanted`` is there (an event is
    recorded a cycle after what it tells of)."""
    deadline = time.monotonic() + 5
    while True:
        kinds = [(str(e["kind"]), str(e["tag"])) for e in events(c, server)]
        if all(w in kinds for w in wanted):
            return kinds
        assert time.monotonic() < deadline, kinds
        time.sleep(0.1)


def wait_log(c: NetCluster, server: str, text: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while True:
        log = c.servers[server].log_file.read_text()
        if text in log:
            return log
        assert time.monotonic() < deadline, f"{text!r} not in {server}'s log\n" + dump(c)
        time.sleep(0.1)


def fences(work: Path) -> list[str]:
    path = work / "fenced"
    return path.read_text().splitlines() if path.exists() else []


def test_a_stopped_holder_hands_its_hierarchy_over_without_fence_or_overlap(
    tmp_path: Path,
) -> None:
    work = tmp_path / "c"
    with fenced_cluster(work, "l") as c:
        time.sleep(c.settle_seconds())
        make_app(c)
        c.wait_for("app", "server1", timeout=10)
        began = time.monotonic()
        c.stop("server1")
        stopped = time.monotonic() - began
        proc = c.servers["server1"].proc
        assert proc is not None and proc.returncode == 0
        c.wait_for("app", "server2", timeout=10)
        moved = time.monotonic() - began
        print(f"\nstop took {stopped:.2f} s; in service on server2 {moved:.2f} s after SIGTERM")
        # At the defaults a crash takes 1.5 s to detect, then the fence: a hand-over
        # needs neither.
        assert moved < 3.0, dump(c)
        log1 = c.servers["server1"].log_file.read_text()
        assert "198201" in log1 and "198202" in log1, log1[-3000:]
        log2 = wait_log(c, "server2", "198205: Server server1 left the cluster", 10)
        assert "191007" not in log2, log2[-3000:]
        assert fences(work) == [], "a server that handed everything over is never fenced"
        assert c.overlaps("app") == [], dump(c)
        kinds = wait_events(c, "server2", ("switchover", "app"), ("server_left", "server1"))
        assert ("failover", "app") not in kinds and ("server_failed", "server1") not in kinds
        # Back again: it rejoins, nothing moves (intelligent switchback), nothing twice.
        c.start("server1")
        time.sleep(c.settle_seconds() + 1.0)
        assert c.where("app") == ["server2"]
        assert c.overlaps("app") == [], dump(c)


def test_a_hierarchy_in_maintenance_keeps_running_across_a_restart(tmp_path: Path) -> None:
    with net_cluster(tmp_path / "c", count=3, tag="k", defaults=DEFAULTS) as c:
        c.start_all()
        time.sleep(c.settle_seconds())
        make_app(c)
        c.wait_for("app", "server1", timeout=10)
        c.cli("server1", "maintenance", "on")
        time.sleep(1.0)  # every server has the mode
        c.stop("server1")
        assert "198204" in c.servers["server1"].log_file.read_text()
        time.sleep(4.0)  # well past detection: nobody takes it in maintenance
        runs = c.ledger_intervals("app")
        assert list(runs) == ["server1"] and runs["server1"][-1][1] == float("inf"), runs
        c.start("server1")
        c.wait_for("app", "server1", timeout=20)
        c.cli("server1", "maintenance", "off")
        time.sleep(2.0)
        assert c.where("app") == ["server1"]
        runs = c.ledger_intervals("app")
        assert list(runs) == ["server1"] and len(runs["server1"]) == 1, runs  # never restarted
        assert c.overlaps("app") == [], dump(c)


def test_a_failed_remove_on_stop_leaves_a_suspect_that_is_fenced_first(
    tmp_path: Path,
) -> None:
    work = tmp_path / "c"
    with fenced_cluster(work, "f") as c:
        time.sleep(c.settle_seconds())
        props = c.app_props("app")
        props[props.index(next(p for p in props if p.startswith("remove=")))] = "remove=/bin/false"
        c.cli("server1", "resource", "create", "--kit", "app", "--tag", "app", *props)
        for target in ("server2", "server3"):
            c.cli("server1", "resource", "extend", "app", "--target", target)
        c.wait_for("app", "server1", timeout=10)
        c.stop("server1")
        assert "198203" in c.servers["server1"].log_file.read_text(), dump(c)
        c.wait_for("app", "server2", timeout=30)
        fenced = fences(work)
        assert [line.split()[1] for line in fenced] == ["server1"], fenced
        fenced_at = float(fenced[0].split()[0])
        starts = [
            float(line.split()[0])
            for line in c.ledger.read_text().splitlines()
            if line.split()[1:] == ["server2", "app", "start"]
        ]
        assert starts and starts[0] > fenced_at, (starts, fenced_at)
        # The fence stands for a power switch: server1's application is dead from then.
        assert c.overlaps("app", ignore={"server1": fenced_at}) == [], dump(c)
