"""OCF resource agents (the Debian resource-agents package) between two real daemons in
network namespaces: bad parameters refused with numbered messages, a failed monitor
recovered in place or failed over as configured, an agent missing on the target
refusing the extend, and ``ocf:heartbeat:Dummy`` and ``ocf:heartbeat:IPaddr2`` (on the
test's own bridge) failing over when their holder crashes."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from standfast.lab.netns import NetCluster, dump, net_cluster
from tests.support.ocf import PROBE, make_ocf_root

pytestmark = [pytest.mark.root, pytest.mark.daemon]

VIP = "10.249.1.101"
BASE = "SF_QUICKCHECK_INTERVAL=0.5\nSF_DEEPCHECK_INTERVAL=2\n"


def has_address(c: NetCluster, server: str, addr: str) -> bool:
    out = subprocess.run(
        ["ip", "-n", c.servers[server].ns, "-o", "addr", "show", "dev", "eth1"],
        capture_output=True,
        text=True,
        timeout=5,
        check=True,
    ).stdout
    return f" {addr}/" in out


def refused(c: NetCluster, *args: str) -> str:
    r = c.cli("server1", *args, check=False)
    assert r.returncode != 0, r.stdout
    return r.stdout + r.stderr


def events(c: NetCluster, server: str, kind: str, tag: str) -> list[dict[str, object]]:
    rows = c.api(server, "GET", "/v1/events")
    return [e for e in rows if e["kind"] == kind and e["tag"] == tag]


def wait_until(what: str, fn: object, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if fn():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError(f"not within {timeout}s: {what}")


def start(c: NetCluster, tmp_path: Path) -> None:
    """server1 has the Probe agent installed, server2 does not (each its own OCF_ROOT,
    both with the real heartbeat agents)."""
    for name, probe in (("server1", True), ("server2", False)):
        root = make_ocf_root(tmp_path / f"ocf-{name}", probe=probe)
        c.defaults = BASE + f"SF_OCF_ROOT={root}\n"
        c.start(name)
    time.sleep(c.settle_seconds())


def create(c: NetCluster, tag: str, agent: str, *props: str) -> None:
    args = ["resource", "create", "--kit", "ocf", "--agent", agent, "--tag", tag]
    c.cli("server1", *args, *[a for p in props for a in ("--prop", p)])


def test_ocf_agents_recover_fail_over_and_refuse(tmp_path: Path) -> None:
    with net_cluster(tmp_path / "c", count=2, tag="o", quorum="none") as c:
        start(c, tmp_path)
        c.host_address(1)
        kits = json.loads(c.cli("server1", "kits", "--json").stdout)
        agents = next(k for k in kits if k["name"] == "ocf")["agents"]
        assert "ocf:heartbeat:IPaddr2" in agents and PROBE in agents

        # Every bad parameter is a numbered refusal that creates nothing.
        create_bad = ("resource", "create", "--kit", "ocf", "--tag", "bad")
        ipaddr2 = ("--agent", "ocf:heartbeat:IPaddr2")
        assert "190013" in refused(c, *create_bad, *ipaddr2)
        assert "190012" in refused(
            c, *create_bad, *ipaddr2, "--prop", "ip=10.0.0.1", "--prop", "x=1"
        )
        assert "190011" in refused(
            c, *create_bad, *ipaddr2, "--prop", f"ip={VIP}", "--prop", "arp_count=many"
        )
        assert "195010" in refused(c, *create_bad, *ipaddr2, "--prop", "ip=not-an-address")
        assert "195002" in refused(c, *create_bad, "--agent", "ocf:heartbeat:Missing")
        assert "bad" not in c.states("server1")
        assert c.api("server1", "GET", "/v1/config")["resources"] == []

        # A missing agent on the target refuses the extend, numbered.
        create(c, "probe", PROBE, f"dir={tmp_path}")
        out = refused(c, "resource", "extend", "probe", "--target", "server2")
        assert "195002" in out and "server2" in out, out

        # OCF_ERR_CONFIGURED from its monitor: no restart in place, and the hierarchy is
        # no longer wanted in service, so no server tries it until the operator acts.
        (tmp_path / "monitor.rc").write_text("6")
        c.wait_for("probe", "server1", timeout=10, state="OSF")
        assert events(c, "server1", "unwanted", "probe")
        assert not events(c, "server1", "recovered", "probe")
        equiv = c.api("server1", "GET", "/v1/resources/probe")["equiv"]
        target = c.api("server1", "GET", "/v1/config")["targets"].get(equiv, {})
        assert target.get("in_service") is False, target

        # Dummy whose monitor fails is restarted in place (recover is on by default).
        state = tmp_path / "d.state"
        create(c, "d", "ocf:heartbeat:Dummy", f"state={state}")
        c.cli("server1", "resource", "extend", "d", "--target", "server2")
        assert state.exists() and c.states("server1")["d"] == "ISP"
        state.unlink()
        wait_until("d recovered", lambda: events(c, "server1", "recovered", "d"), 10)
        assert state.exists() and c.states("server1")["d"] == "ISP"

        # With recover=false the same failure fails over to server2.
        state2 = tmp_path / "d2.state"
        create(c, "d2", "ocf:heartbeat:Dummy", f"state={state2}", "recover=false")
        c.cli("server1", "resource", "extend", "d2", "--target", "server2")
        state2.unlink()
        c.wait_for("d2", "server2", timeout=15)
        assert c.states("server1")["d2"] == "OSF" and state2.exists()

        # IPaddr2 on the test's bridge.
        create(c, "vip", "ocf:heartbeat:IPaddr2", f"ip={VIP}", "cidr_netmask=24", "nic=eth1")
        c.cli("server1", "resource", "extend", "vip", "--target", "server2")
        assert has_address(c, "server1", VIP) and not has_address(c, "server2", VIP)

        # Power cut: Dummy and the address move to the survivor.
        c.crash("server1")
        c.cut("server1", "net1")
        c.cut("server1", "net2")
        c.wait_for("d", "server2", timeout=15)
        c.wait_for("vip", "server2", timeout=15)
        assert has_address(c, "server2", VIP), dump(c)


def test_an_agent_that_cannot_run_here_moves_the_hierarchy_to_the_next_server(
    tmp_path: Path,
) -> None:
    """OCF_ERR_INSTALLED (5) from the start of a local recovery: the kit says the agent
    cannot run on this server (195015) and the next server by priority takes the
    hierarchy over. Each server's copy has its own behaviour directory."""
    with net_cluster(tmp_path / "c", count=2, tag="oi", quorum="none") as c:
        for name in ("server1", "server2"):
            root = make_ocf_root(tmp_path / f"ocf-{name}", probe=True)
            c.defaults = BASE + f"SF_OCF_ROOT={root}\n"
            c.start(name)
        time.sleep(c.settle_seconds())
        one, two = tmp_path / "one", tmp_path / "two"
        one.mkdir()
        two.mkdir()
        create(c, "p", PROBE, f"dir={one}")
        c.cli("server1", "resource", "extend", "p", "--target", "server2")
        c.cli("server2", "resource", "set", "p", "--prop", f"dir={two}")
        assert (one / "running").exists() and not (two / "running").exists()
        (one / "start.rc").write_text("5")
        (one / "running").unlink()  # monitor: not running (7); the restart's start: 5
        c.wait_for("p", "server2", timeout=30)
        assert (two / "running").exists() and c.states("server1")["p"] == "OSF"
        log = c.servers["server1"].log_file.read_text()
        assert "195015" in log and "the next server is tried" in log, log[-3000:]
