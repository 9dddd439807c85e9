"""The ip kit on real interfaces: two network namespaces joined by a veth pair.

Namespace ``sfip-a`` (interface ``sfipA``) is the cluster server: each test body
(forked by conftest.py into a private mount namespace) enters it with setns and
remounts /sys there, as ``ip netns exec`` does, then calls the kit in-process.
Namespace ``sfip-b`` (``sfipB``) is a peer on the same link: the assertions look
from there (ping, neighbour table). Only documentation addresses (192.0.2.0/24,
2001:db8::/32) are used, and only inside these namespaces, which the fixture
deletes in a finally.
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from standfast.config.paths import Paths
from standfast.config.tunables import Tunables
from standfast.host.commands import CommandResult, run
from standfast.kits import ip as ipkit
from standfast.kits.base import ActionLog, CreateRequest, KitContext
from standfast.kits.ip import IpKit
from standfast.messages import StandfastError
from standfast.model.config import ClusterConfig
from standfast.model.resources import Resource
from standfast.model.states import Switchback
from tests.host.hostsupport import check

pytestmark = pytest.mark.root

NS_A, NS_B = "sfip-a", "sfip-b"
IF_A, IF_B = "sfipA", "sfipB"
A4, B4 = "192.0.2.1/24", "192.0.2.2/24"
A6, B6 = "2001:db8:5f1::1/64", "2001:db8:5f1::2/64"
FLOAT4, FLOAT6 = "192.0.2.100", "2001:db8:5f1::100"
WRONG_MAC = "02:00:5e:00:53:99"
CLONE_NEWNET = 0x40000000
MNT_DETACH = 2

_libc = ctypes.CDLL(None, use_errno=True)


def sh(*argv: str, timeout: float = 10.0) -> CommandResult:
    return run(list(argv), timeout=timeout)


def must(*argv: str) -> str:
    result = sh(*argv)
    assert result.ok, f"{' '.join(argv)}: {result.summary()}"
    return result.stdout


def _delete_namespaces() -> None:
    for ns in (NS_A, NS_B):
        if Path("/run/netns", ns).exists():
            sh("ip", "netns", "del", ns)


@dataclass(frozen=True)
class Net:
    mac_a: str


@pytest.fixture
def net() -> Iterator[Net]:
    if os.geteuid() != 0:
        pytest.fail("needs root (network namespaces)")
    for tool in ("ip", "ping", "arping"):
        if shutil.which(tool) is None and shutil.which(tool, path="/usr/sbin:/usr/bin") is None:
            pytest.fail(
                f"{tool} is not installed (apt-get install iproute2 iputils-ping iputils-arping)"
            )
    _delete_namespaces()  # leftovers of an interrupted run
    try:
        must("ip", "netns", "add", NS_A)
        must("ip", "netns", "add", NS_B)
        must(
            "ip",
            "-n",
            NS_A,
            "link",
            "add",
            IF_A,
            "type",
            "veth",
            "peer",
            "name",
            IF_B,
            "netns",
            NS_B,
        )
        for ns, dev, v4, v6 in ((NS_A, IF_A, A4, A6), (NS_B, IF_B, B4, B6)):
            must("ip", "-n", ns, "link", "set", "lo", "up")
            must("ip", "-n", ns, "addr", "add", v4, "dev", dev)
            must("ip", "-n", ns, "addr", "add", v6, "dev", dev, "nodad")
            must("ip", "-n", ns, "link", "set", dev, "up")
        link = json.loads(must("ip", "-n", NS_A, "-j", "link", "show", "dev", IF_A))
        yield Net(mac_a=link[0]["address"])
    finally:
        _delete_namespaces()


def enter_a() -> None:
    """Move this (forked, single-threaded) test child into namespace A, /sys too."""
    fd = os.open(f"/run/netns/{NS_A}", os.O_RDONLY)
    try:
        check(_libc.setns(fd, CLONE_NEWNET), "setns")
    finally:
        os.close(fd)
    # sysfs shows the network namespace of whoever mounted it.
    check(_libc.umount2(b"/sys", MNT_DETACH), "umount /sys")
    check(_libc.mount(b"sysfs", b"/sys", b"sysfs", 0, None), "mount sysfs")
    assert Path("/sys/class/net", IF_A).exists()
    assert not Path("/sys/class/net", IF_B).exists()


def ctx(tmp_path: Path) -> KitContext:
    return KitContext("alpha", Tunables(), Paths.from_env({}, home=tmp_path), ActionLog())


def resource(address: str, **props: str | bool | float) -> Resource:
    kit = IpKit()
    full = kit.validate({"address": address, "interface": IF_A, **props})
    ip = address.split("/")[0]
    return Resource("alpha", "ip-test", "ip", ip, equiv="ip-test@alpha", props=full)


def b_reaches(address: str) -> bool:
    return sh("ip", "netns", "exec", NS_B, "ping", "-c", "1", "-W", "1", address, timeout=5).ok


def a_has(address: str) -> bool:
    data = json.loads(must("ip", "-n", NS_A, "-j", "addr", "show", "dev", IF_A))
    return any(a.get("local") == address for a in data[0].get("addr_info", []))


def b_neighbour_mac(address: str) -> str:
    out = must("ip", "-n", NS_B, "-j", "neigh", "show", address, "dev", IF_B)
    entries = json.loads(out or "[]")
    return str(entries[0].get("lladdr", "")) if entries else ""


def codes(c: KitContext) -> list[str]:
    return [n.code for n in c.log.notices]


def test_ipv4_restore_check_remove(net: Net, tmp_path: Path) -> None:
    enter_a()
    kit, c, res = IpKit(), ctx(tmp_path), resource(FLOAT4 + "/24")
    # B has a stale entry for the address: the gratuitous ARP must correct it.
    must(
        "ip",
        "-n",
        NS_B,
        "neigh",
        "replace",
        FLOAT4,
        "lladdr",
        WRONG_MAC,
        "dev",
        IF_B,
        "nud",
        "stale",
    )
    assert not b_reaches(FLOAT4)
    assert kit.quick_check(c, res).code == "190808"

    kit.restore(c, res)
    assert codes(c) == ["190813"]
    assert b_neighbour_mac(FLOAT4) == net.mac_a
    assert b_reaches(FLOAT4)
    assert kit.quick_check(c, res).ok

    started = time.monotonic()
    kit.restore(c, res)  # idempotent: already there, nothing done
    assert time.monotonic() - started < 1.0
    assert codes(c) == ["190813"]

    kit.remove(c, res)
    assert codes(c) == ["190813", "190814"]
    assert not a_has(FLOAT4)
    assert not b_reaches(FLOAT4)
    bad = kit.quick_check(c, res)
    assert (bad.ok, bad.code) == (False, "190808")
    assert bad.params["address"] == FLOAT4
    kit.remove(c, res)  # idempotent: absent is fine
    assert codes(c) == ["190813", "190814"]


def test_ipv4_conflict_refused(net: Net, tmp_path: Path) -> None:
    enter_a()
    must("ip", "-n", NS_B, "addr", "add", FLOAT4 + "/24", "dev", IF_B)
    kit, c, res = IpKit(), ctx(tmp_path), resource(FLOAT4 + "/24")
    with pytest.raises(StandfastError) as exc:
        kit.restore(c, res)
    assert exc.value.code == "190805"
    assert exc.value.params["method"] == "arping -D"
    assert not a_has(FLOAT4)
    assert kit.quick_check(c, res).code == "190808"
    # With the check turned off the administrator takes the risk: it is added.
    unchecked = resource(FLOAT4 + "/24", conflict_check=False, arp_announce=False)
    kit.restore(c, unchecked)
    assert a_has(FLOAT4)


def test_interface_down(net: Net, tmp_path: Path) -> None:
    enter_a()
    kit, c, res = IpKit(), ctx(tmp_path), resource(FLOAT4 + "/24", arp_announce=False)
    kit.restore(c, res)
    assert kit.quick_check(c, res).ok
    # The peer goes away (a pulled cable): carrier lost on A's side.
    must("ip", "-n", NS_B, "link", "set", IF_B, "down")
    bad = kit.quick_check(c, res)
    assert (bad.ok, bad.code) == (False, "190809")
    assert bad.params["state"] != "UP"
    must("ip", "-n", NS_B, "link", "set", IF_B, "up")
    assert kit.quick_check(c, res).ok
    # A's own interface administratively down.
    must("ip", "-n", NS_A, "link", "set", IF_A, "down")
    bad = kit.quick_check(c, res)
    assert (bad.ok, bad.code, bad.params["state"]) == (False, "190809", "DOWN")
    kit.remove(c, res)
    with pytest.raises(StandfastError) as exc:
        kit.restore(c, res)
    assert exc.value.code == "190809"
    assert not a_has(FLOAT4)


def test_ipv6_restore_announce_conflict(net: Net, tmp_path: Path) -> None:
    enter_a()
    kit, c = IpKit(), ctx(tmp_path)
    res = resource(FLOAT6 + "/64")
    must(
        "ip",
        "-n",
        NS_B,
        "-6",
        "neigh",
        "replace",
        FLOAT6,
        "lladdr",
        WRONG_MAC,
        "dev",
        IF_B,
        "nud",
        "stale",
    )
    kit.restore(c, res)
    assert codes(c) == ["190813"]
    assert b_neighbour_mac(FLOAT6) == net.mac_a  # the unsolicited NA was taken
    assert b_reaches(FLOAT6)
    assert kit.quick_check(c, res).ok
    kit.remove(c, res)
    assert not a_has(FLOAT6) and not b_reaches(FLOAT6)

    other = "2001:db8:5f1::200"
    must("ip", "-n", NS_B, "addr", "add", other + "/64", "dev", IF_B, "nodad")
    with pytest.raises(StandfastError) as exc:
        kit.restore(c, resource(other + "/64"))
    assert (exc.value.code, exc.value.params["method"]) == ("190805", "ping")
    assert not a_has(other)


def test_without_arping(net: Net, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No iputils arping: ping finds conflicts, the announce is skipped with a warning;
    without ping either, the restore is refused unless conflict_check is off."""
    enter_a()
    monkeypatch.setattr(ipkit, "iputils_arping", lambda: None)
    kit, c, res = IpKit(), ctx(tmp_path), resource(FLOAT4 + "/24")
    kit.restore(c, res)
    assert codes(c) == ["190813", "190810"]
    assert b_reaches(FLOAT4)
    kit.remove(c, res)

    must("ip", "-n", NS_B, "addr", "add", FLOAT4 + "/24", "dev", IF_B)
    with pytest.raises(StandfastError) as exc:
        kit.restore(c, res)
    assert (exc.value.code, exc.value.params["method"]) == ("190805", "ping")
    assert not a_has(FLOAT4)

    real_which = ipkit._which
    monkeypatch.setattr(ipkit, "_which", lambda t: None if t == "ping" else real_which(t))
    with pytest.raises(StandfastError) as exc:
        kit.restore(c, res)
    assert exc.value.code == "190811"
    assert not a_has(FLOAT4)


def test_create_extend_and_address_elsewhere(net: Net, tmp_path: Path) -> None:
    enter_a()
    kit, c = IpKit(), ctx(tmp_path)
    req = CreateRequest(
        "ip", None, None, Switchback.INTELLIGENT, {"address": FLOAT4 + "/24", "interface": IF_A}
    )
    plan = kit.plan_create(c, req, ClusterConfig())
    assert plan.root == "ip-192.0.2.100"
    missing = CreateRequest(
        "ip", None, None, Switchback.INTELLIGENT, {"address": FLOAT4 + "/24", "interface": IF_B}
    )
    with pytest.raises(StandfastError) as exc:
        kit.plan_create(c, missing, ClusterConfig())
    assert exc.value.code == "190802"  # sfipB lives in the other namespace

    res = resource(FLOAT4 + "/24", arp_announce=False)
    kit.can_extend(c, res)
    with pytest.raises(StandfastError) as exc:
        kit.can_extend(c, res.with_props(interface="sfipnosuch"))
    assert exc.value.code == "190802"

    # The address held by another interface of this server: refused everywhere.
    must("ip", "-n", NS_A, "link", "add", "sfipC", "type", "veth", "peer", "name", "sfipD")
    must("ip", "-n", NS_A, "addr", "add", FLOAT4 + "/32", "dev", "sfipC")
    for action in (
        lambda: kit.plan_create(c, req, ClusterConfig()),
        lambda: kit.restore(c, res),
        lambda: kit.can_extend(c, res),
    ):
        with pytest.raises(StandfastError) as exc:
            action()
        assert (exc.value.code, exc.value.params["other"]) == ("190804", "sfipC")
    assert not a_has(FLOAT4)
