"""Metrics and health of real daemons in the cluster tests' namespaces, scraped with curl
on the plain monitoring port (STANDFAST_METRICS_LISTEN) and read with prometheus-client's text
parser: a crash of the holder is counted by the survivor that took over, its histogram
holds the durations of the failover event, the per-hierarchy health endpoint moves
with the hierarchy, and ``standfast status`` exits 3 for the dead paths."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from standfast.lab.netns import NetCluster, Server, dump
from tests.cluster.test_failover import DEFAULTS, failover_event, make_app

pytestmark = [pytest.mark.root, pytest.mark.daemon]

PORT = 9464
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@dataclass
class MonitoredCluster(NetCluster):
    """Each daemon serves the plain monitoring port on its namespace's loopback (no
    HTTPS listener: not needed here, and its certificate costs start-up time)."""

    def env(self, srv: Server) -> dict[str, str]:
        env = super().env(srv)
        env.update(STANDFAST_REMOTE_LISTEN="off", STANDFAST_METRICS_LISTEN=f"127.0.0.1:{PORT}")
        return env

    def get(self, server: str, path: str) -> tuple[int, str]:
        """HTTP status and body of ``path`` on ``server``'s monitoring port, asked from
        inside its namespace (the host's routes to the test subnets may be another
        cluster's)."""
        argv = ["ip", "netns", "exec", self.servers[server].ns, "curl", "--silent"]
        argv += ["--max-time", "10", "--write-out", "\n%{http_code}"]
        r = subprocess.run(
            [*argv, f"http://127.0.0.1:{PORT}{path}"],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
        assert r.returncode == 0, r.stderr
        body, _, code = r.stdout.rpartition("\n")
        return int(code), body

    def scrape(self, server: str) -> Samples:
        status, text = self.get(server, "/metrics")
        assert status == 200, text
        out: Samples = {}
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                out[(s.name, tuple(sorted(s.labels.items())))] = s.value
        return out


@contextmanager
def monitored_cluster(work: Path) -> Iterator[MonitoredCluster]:
    c = MonitoredCluster(work, count=3, tag="m", defaults=DEFAULTS)
    try:
        c.up()
        c.start_all()
        yield c
    finally:
        c.down()


def histogram(m: Samples, phase: str) -> tuple[float, float, float]:
    """count, sum and the +Inf bucket of one failover duration phase."""
    labels = (("phase", phase),)
    name = "standfast_failover_duration_seconds"
    return (
        m[(f"{name}_count", labels)],
        m[(f"{name}_sum", labels)],
        m[(f"{name}_bucket", (("le", "+Inf"), *labels))],
    )


def in_service_answers(c: MonitoredCluster) -> dict[str, int]:
    return {s: c.get(s, "/hierarchies/app/in-service")[0] for s in c.running()}


def test_crash_failover_is_counted_and_timed(tmp_path: Path) -> None:
    with monitored_cluster(tmp_path / "c") as c:
        time.sleep(2.5)  # settle: every daemon has heard the others
        make_app(c)
        c.cli("server2", "resource", "in-service", "app")
        assert c.where("app") == ["server2"]
        failovers = ("standfast_failovers_total", (("tag", "app"),))
        before = c.scrape("server1")
        assert before.get(failovers, 0) == 0 and histogram(before, "restore")[0] == 0
        assert before[("standfast_comm_path_up", (("network", "net2"), ("peer", "server2")))]
        # Heartbeat round trips, measured by the peers' echoes, on every path: netns
        # veths over a bridge, far under a heartbeat interval.
        for peer in ("server2", "server3"):
            for net in ("net1", "net2"):
                rtt = before[
                    ("standfast_heartbeat_round_trip_seconds", (("network", net), ("peer", peer)))
                ]
                assert 0 < rtt < 0.3, (peer, net, rtt)
        assert in_service_answers(c) == {"server1": 503, "server2": 200, "server3": 503}
        assert c.cli("server1", "status", check=False).returncode == 0

        c.crash("server2")
        c.wait_for("app", "server1", timeout=10)
        data = failover_event(c, "server1", "app")
        after = c.scrape("server1")
        assert after[failovers] == 1, dump(c)
        count, total, inf = histogram(after, "detect_to_in_service")
        assert count == inf == 1
        assert total == pytest.approx(data["detect_to_in_service_seconds"], abs=0.001)
        count, total, _ = histogram(after, "outage")
        assert count == 1 and total == pytest.approx(data["outage_seconds"], abs=0.001)
        assert histogram(after, "restore")[0] == 1
        # The survivor that did not take over counted nothing.
        assert c.scrape("server3").get(failovers, 0) == 0
        # What is: server2 gone, its paths dead, quorum kept (2 of 3), app here.
        assert after[("standfast_server_alive", (("server", "server2"),))] == 0
        assert after[("standfast_comm_path_up", (("network", "net1"), ("peer", "server2")))] == 0
        assert after[("standfast_quorum", ())] == 1
        assert in_service_answers(c) == {"server1": 200, "server3": 503}
        assert c.get("server1", "/ready")[0] == 200
        r = c.cli("server1", "status", check=False)
        assert r.returncode == 3, (r.stdout, r.stderr)
        assert "status: comm path net1 to server2: DEAD" in r.stderr
