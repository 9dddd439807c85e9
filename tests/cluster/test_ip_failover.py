"""A floating IP address and the application using it move together on failover."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from standfast.lab.netns import dump, net_cluster

pytestmark = [pytest.mark.root, pytest.mark.daemon]

VIP = "10.249.1.100"


def answers(addr: str) -> bool:
    r = subprocess.run(
        ["ping", "-c", "1", "-W", "1", addr], capture_output=True, timeout=5, check=False
    )
    return r.returncode == 0


def neighbour_mac(addr: str) -> str:
    out = subprocess.run(
        ["ip", "neigh", "show", addr], capture_output=True, text=True, timeout=5, check=False
    ).stdout
    parts = out.split()
    return parts[parts.index("lladdr") + 1] if "lladdr" in parts else ""


def ns_mac(ns: str, dev: str) -> str:
    out = subprocess.run(
        ["ip", "-n", ns, "-o", "link", "show", dev],
        capture_output=True,
        text=True,
        timeout=5,
        check=True,
    ).stdout
    parts = out.split()
    return parts[parts.index("link/ether") + 1]


def test_ip_and_app_fail_over_together(tmp_path: Path) -> None:
    with net_cluster(
        tmp_path / "c", count=2, tag="i", quorum="none", defaults="SF_QUICKCHECK_INTERVAL=0.5\n"
    ) as c:
        c.host_address(1)  # this host on net1, to reach the floating address
        c.start_all()
        time.sleep(c.settle_seconds())
        c.cli(
            "server1",
            "resource",
            "create",
            "--kit",
            "ip",
            "--tag",
            "vip",
            "--prop",
            f"address={VIP}/24",
            "--prop",
            "interface=eth1",
        )
        c.cli("server1", "resource", "create", "--kit", "app", "--tag", "app", *c.app_props("app"))
        c.cli("server1", "dependency", "create", "--parent", "app", "--child", "vip")
        c.cli("server1", "resource", "extend", "app", "--target", "server2")
        assert answers(VIP)
        assert neighbour_mac(VIP) == ns_mac(c.servers["server1"].ns, "eth1")

        # Power cut: the daemon dies and the server drops off both networks.
        crashed_at = time.time()
        c.crash("server1")
        c.cut("server1", "net1")
        c.cut("server1", "net2")
        c.wait_for("app", "server2", timeout=15)
        assert c.states("server2")["vip"] == "ISP"
        deadline = time.monotonic() + 5
        while not answers(VIP) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert answers(VIP)
        # The gratuitous ARP moved this host's cache to server2's interface.
        assert neighbour_mac(VIP) == ns_mac(c.servers["server2"].ns, "eth1"), dump(c)
        assert c.overlaps("app", ignore={"server1": crashed_at}) == [], dump(c)
