"""Maintenance mode and standby with real daemons in namespaces (docs/maintenance.md):
in maintenance a failed application is left alone (no check, no ISU/OSF, no
failover) until maintenance ends; a standby server gives its hierarchy to the next
server by priority and takes nothing while in standby, and is eligible again after."""

from __future__ import annotations

import json
import re
import shlex
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from standfast.lab.netns import NetCluster, dump, net_cluster
from tests.cluster.test_failover import DEFAULTS, make_app

pytestmark = [pytest.mark.root, pytest.mark.daemon]

DOC = Path(__file__).resolve().parents[2] / "docs" / "maintenance.md"


@pytest.fixture
def cluster3(tmp_path: Path) -> Iterator[NetCluster]:
    with net_cluster(tmp_path / "c", count=3, tag="m", defaults=DEFAULTS) as c:
        c.start_all()
        yield c


def status(c: NetCluster, server: str) -> dict[str, object]:
    return dict(c.api(server, "GET", "/v1/status"))


def wait_until(what: str, fn: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not fn():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def kinds(c: NetCluster, server: str, tag: str) -> list[str]:
    events = json.loads(c.cli(server, "events", "--json", "--tag", tag).stdout)
    return [str(e["kind"]) for e in events]


def cluster_examples() -> list[list[str]]:
    """docs/maintenance.md's block marked '# example: cluster', as argv lists."""
    text = DOC.read_text()
    for body in re.findall(r"```sh\n(.*?)```", text, flags=re.S):
        lines = body.splitlines()
        if lines and lines[0].strip() == "# example: cluster":
            return [shlex.split(ln.split("  #", 1)[0]) for ln in lines[1:] if ln.strip()]
    raise AssertionError("no '# example: cluster' block in docs/maintenance.md")


def test_maintenance_then_standby(cluster3: NetCluster) -> None:
    c = cluster3
    time.sleep(2.5)  # settle
    make_app(c)
    assert c.where("app") == ["server1"]
    ((started, _),) = c.ledger_intervals("app")["server1"]

    # Maintenance of the hierarchy, asked on server2: replicated to server1.
    c.cli("server2", "maintenance", "on", "--hierarchy", "app")
    wait_until(
        "maintenance reached server1",
        lambda: status(c, "server1")["maintenance"] == {"cluster": False, "hierarchies": ["app"]},
    )
    r = c.cli("server1", "status")
    assert r.returncode == 0 and "MAINT" in r.stdout, r.stdout  # not a failure, but shown
    assert "MAINTENANCE mode on for hierarchy app" in r.stderr, r.stderr
    # Its server's daemon dies: no failover. Restarted, it finds the application
    # running and keeps it (in service, not stopped, not started again).
    c.crash("server1")
    time.sleep(2.5)  # the others declare server1 failed after 1.5 s
    assert c.where("app") == [], dump(c)
    c.start("server1")
    c.wait_for("app", "server1", timeout=10)
    assert c.ledger_intervals("app") == {"server1": [(pytest.approx(started), float("inf"))]}
    # The application dies: nothing happens (its check would fail within 0.5 s).
    c.ledger.with_name("app.server1.up").unlink()
    time.sleep(2.5)
    assert c.states("server1")["app"] == "ISP" and c.where("app") == ["server1"], dump(c)
    assert "check_failed" not in kinds(c, "server1", "app")
    # Off: checks resume at once, the failure is found and the hierarchy moves.
    c.cli("server1", "maintenance", "off", "--hierarchy", "app")
    took = c.wait_for("app", "server2", timeout=10)
    assert took < 6, took
    assert c.states("server1")["app"] == "OSF"
    assert "maintenance" in kinds(c, "server2", "app")  # logged where it was asked

    # Back on server1 by hand; then the documented standby example (server1 in standby).
    c.cli("server1", "resource", "in-service", "app")
    assert c.where("app") == ["server1"]
    for argv in cluster_examples():
        assert argv[0] == "standfast", argv
        c.cli("server3", *argv[1:])
    c.wait_for("app", "server2", timeout=10)  # the next server by priority
    srv = status(c, "server3")["cluster"]["servers"]  # type: ignore[index]
    assert srv["server1"]["standby"] and not srv["server2"]["standby"]
    # In standby it takes nothing: not by hand (198003) ...
    r = c.cli("server1", "resource", "in-service", "app", check=False)
    assert r.returncode != 0 and "198003" in r.stderr, r.stderr
    # ... nor when server2's application fails: server3 takes it, not server1.
    c.ledger.with_name("app.server2.up").unlink()
    c.wait_for("app", "server3", timeout=10)
    assert c.states("server1")["app"] == "OSU"
    # Standby of the last server able to run it is refused (198002), nothing changes.
    r = c.cli("server3", "server", "standby", "server3", check=False)
    assert r.returncode != 0 and "198002" in r.stderr, r.stderr
    # Unstandby: server1 is eligible again and takes it at the next failure.
    c.cli("server2", "server", "unstandby", "server1")
    wait_until(
        "unstandby reached server3",
        lambda: not status(c, "server3")["cluster"]["servers"]["server1"]["standby"],  # type: ignore[index]
    )
    c.ledger.with_name("app.server3.up").unlink()
    c.wait_for("app", "server1", timeout=10)
    assert c.overlaps("app") == [], dump(c)
