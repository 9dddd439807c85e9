"""The ip kit's pure parts: addresses, interface names, ``ip -j`` output, the NA
packet, the schema and the create plan (which only reads this host)."""

from __future__ import annotations

import ipaddress
import json
import string
import struct
from pathlib import Path

import pytest

from standfast.config.paths import Paths
from standfast.config.tunables import Tunables
from standfast.kits.base import ActionLog, CreateRequest, KitContext
from standfast.kits.ip import IpKit
from standfast.kits.ip_address import (
    NA_FLAG_OVERRIDE,
    ND_NEIGHBOR_ADVERT,
    FloatingAddress,
    check_interface_name,
    parse_address,
    parse_link_json,
    unsolicited_na,
)
from standfast.messages import CATALOGUE, Severity, StandfastError
from standfast.messages.ip_codes import IP_MESSAGES
from standfast.model.config import ClusterConfig
from standfast.model.resources import Resource
from standfast.model.states import Switchback


@pytest.mark.parametrize(
    ("text", "ip", "prefix", "tag"),
    [
        ("10.0.0.100/24", "10.0.0.100", 24, "ip-10.0.0.100"),
        (" 192.168.1.5/255.255.255.0 ", "192.168.1.5", 24, "ip-192.168.1.5"),
        ("10.0.0.7/32", "10.0.0.7", 32, "ip-10.0.0.7"),
        ("10.0.0.0/31", "10.0.0.0", 31, "ip-10.0.0.0"),
        ("FD00:0::0100/64", "fd00::100", 64, "ip-fd00--100"),
        ("2001:db8::1/128", "2001:db8::1", 128, "ip-2001-db8--1"),
    ],
)
def test_parse_address(text: str, ip: str, prefix: int, tag: str) -> None:
    a = parse_address(text)
    assert (a.id, a.prefixlen, a.default_tag()) == (ip, prefix, tag)
    assert str(a) == f"{ip}/{prefix}"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("10.0.0.100", "prefix length is missing"),
        ("fd00::1", "prefix length is missing"),
        ("10.0.0.300/24", "not an IPv4 or IPv6"),
        ("10.0.0.1/33", "not an IPv4 or IPv6"),
        ("host.example/24", "not an IPv4 or IPv6"),
        ("fe80::1%eth0/64", "scope"),
        ("0.0.0.0/0", "unspecified"),
        ("127.0.0.2/8", "loopback"),
        ("::1/128", "loopback"),
        ("224.0.0.5/24", "multicast"),
        ("ff02::1/64", "multicast"),
        ("fe80::5/64", "link-local"),
        ("10.0.0.0/24", "network or broadcast"),
        ("10.0.0.255/24", "network or broadcast"),
        ("", "prefix length is missing"),
    ],
)
def test_parse_address_refuses(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_address(text)


@pytest.mark.parametrize("name", ["eth1", "sfipA", "bond0.100", "enp0s31f6", "a" * 15])
def test_interface_names(name: str) -> None:
    assert check_interface_name(name) == name


@pytest.mark.parametrize("name", ["", "a" * 16, "eth0:1", "../x", "a b", ".", "..", "x\0"])
def test_bad_interface_names(name: str) -> None:
    with pytest.raises(ValueError):
        check_interface_name(name)


IP_J = [
    {
        "ifindex": 7,
        "ifname": "sfipA",
        "flags": ["BROADCAST", "MULTICAST", "UP", "LOWER_UP"],
        "operstate": "UP",
        "address": "6a:26:7c:f8:38:53",
        "addr_info": [
            {"family": "inet", "local": "10.231.0.1", "prefixlen": 24},
            {"family": "inet", "local": "10.231.0.101", "prefixlen": 24, "secondary": True},
            {"family": "inet6", "local": "fd00:5f1::100", "prefixlen": 64},
            {"family": "inet6", "local": "fe80::6826:7cff:fef8:3853", "prefixlen": 64},
            {"family": "inet", "local": "garbage", "prefixlen": 24},
        ],
    }
]


def test_parse_link_json() -> None:
    link = parse_link_json(json.dumps(IP_J), "sfipA")
    assert (link.name, link.index, link.operstate, link.mac) == (
        "sfipA",
        7,
        "UP",
        "6a:26:7c:f8:38:53",
    )
    assert link.up
    assert link.prefix_of(ipaddress.ip_address("10.231.0.101")) == 24
    assert link.prefix_of(ipaddress.ip_address("fd00:5f1::100")) == 64
    assert link.prefix_of(ipaddress.ip_address("10.231.0.102")) is None
    assert len(link.addresses) == 4  # the unparsable entry is skipped


@pytest.mark.parametrize(
    ("state", "up"),
    [
        ("UP", True),
        ("UNKNOWN", True),
        ("DOWN", False),
        ("LOWERLAYERDOWN", False),
        ("DORMANT", False),
    ],
)
def test_link_up_states(state: str, up: bool) -> None:
    data = [{"ifindex": 1, "ifname": "x", "operstate": state}]
    link = parse_link_json(json.dumps(data), "x")
    assert link.up is up and link.addresses == ()


@pytest.mark.parametrize("text", ["", "{", "{}", "[]", '[{"ifname": "other"}]'])
def test_parse_link_json_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        parse_link_json(text, "sfipA")


def test_unsolicited_na_packet() -> None:
    target = ipaddress.IPv6Address("fd00:5f1::100")
    pkt = unsolicited_na(target, "6a:26:7C:f8:38:53")
    assert len(pkt) == 32
    kind, code, checksum, flags = struct.unpack("!BBHI", pkt[:8])
    assert (kind, code, checksum, flags) == (ND_NEIGHBOR_ADVERT, 0, 0, NA_FLAG_OVERRIDE)
    assert pkt[8:24] == target.packed
    assert pkt[24:26] == b"\x02\x01"  # target link-layer address, 8 octets
    assert pkt[26:] == bytes.fromhex("6a267cf83853")
    with pytest.raises(ValueError):
        unsolicited_na(target, "6a:26:7c:f8:38")


def _ctx(tmp_path: Path) -> KitContext:
    return KitContext("s1", Tunables(), Paths.from_env({}, home=tmp_path), ActionLog())


def test_schema_defaults_and_normalisation() -> None:
    kit = IpKit()
    props = kit.validate({"address": "10.0.0.100/255.255.255.0", "interface": "eth1"})
    assert props == {
        "address": "10.0.0.100/24",
        "interface": "eth1",
        "arp_announce": True,
        "conflict_check": True,
        "check_timeout": 5.0,
    }
    specs = {s.name: s for s in kit.schema}
    assert specs["address"].required and not specs["address"].mutable
    assert specs["interface"].required and specs["interface"].mutable


@pytest.mark.parametrize(
    ("given", "code"),
    [
        ({"interface": "eth1"}, "190013"),
        ({"address": "10.0.0.1/24"}, "190013"),
        ({"address": "10.0.0.1", "interface": "eth1"}, "190801"),
        ({"address": "10.0.0.1/24", "interface": "eth1:0"}, "190803"),
        ({"address": "10.0.0.1/24", "interface": "eth1", "check_timeout": "0"}, "190011"),
        ({"address": "10.0.0.1/24", "interface": "eth1", "arp_announce": "maybe"}, "190011"),
    ],
)
def test_schema_refusals(given: dict[str, str], code: str) -> None:
    with pytest.raises(StandfastError) as exc:
        IpKit().validate(given)
    assert exc.value.code == code


def test_edit_refuses_a_new_address_and_checks_the_interface() -> None:
    kit = IpKit()
    props = kit.validate({"address": "10.0.0.100/24", "interface": "eth1"})
    res = Resource("s1", "ip-10.0.0.100", "ip", "10.0.0.100", props=props)
    assert kit.validate_edit(res, {"interface": "eth2"})["interface"] == "eth2"
    with pytest.raises(StandfastError) as exc:
        kit.validate_edit(res, {"address": "10.0.0.101/24"})
    assert exc.value.code == "190017"
    with pytest.raises(StandfastError) as exc:
        kit.validate_edit(res, {"interface": "bad name"})
    assert exc.value.code == "190803"


def _req(props: dict[str, str], rid: str | None = None, tag: str | None = None) -> CreateRequest:
    return CreateRequest("ip", tag, rid, Switchback.INTELLIGENT, props)


def test_plan_create(tmp_path: Path) -> None:
    """On the loopback interface (it always exists); reads the host, changes nothing."""
    kit = IpKit()
    plan = kit.plan_create(
        _ctx(tmp_path), _req({"address": "192.0.2.77/24", "interface": "lo"}), ClusterConfig()
    )
    (res,) = plan.resources
    assert plan.root == res.tag == "ip-192.0.2.77"
    assert (res.id, res.kit, res.server, res.equiv) == (
        "192.0.2.77",
        "ip",
        "s1",
        "ip-192.0.2.77@s1",
    )
    assert res.props["address"] == "192.0.2.77/24"
    assert plan.dependencies == ()
    v6 = kit.plan_create(
        _ctx(tmp_path),
        _req({"address": "2001:db8::77/64", "interface": "lo"}, rid="2001:DB8::77", tag="vip6"),
        ClusterConfig(),
    )
    assert (v6.root, v6.resources[0].id) == ("vip6", "2001:db8::77")
    # The same address again on this server is refused (tag or kit+id taken).
    taken = ClusterConfig.of(1, [res], [])
    with pytest.raises(StandfastError) as exc:
        kit.plan_create(
            _ctx(tmp_path),
            _req({"address": "192.0.2.77/24", "interface": "lo"}, tag="other"),
            taken,
        )
    assert exc.value.code == "000014"


@pytest.mark.parametrize(
    ("props", "rid", "code"),
    [
        ({"address": "192.0.2.77/24", "interface": "sfipnosuch0"}, None, "190802"),
        ({"address": "192.0.2.77/24", "interface": "lo"}, "192.0.2.78", "190816"),
        ({"address": "192.0.2.77", "interface": "lo"}, None, "190801"),
    ],
)
def test_plan_create_refusals(
    tmp_path: Path, props: dict[str, str], rid: str | None, code: str
) -> None:
    with pytest.raises(StandfastError) as exc:
        IpKit().plan_create(_ctx(tmp_path), _req(props, rid=rid), ClusterConfig())
    assert exc.value.code == code


def test_default_tag(tmp_path: Path) -> None:
    kit = IpKit()
    assert kit.default_tag(_ctx(tmp_path), _req({"address": "fd00::1/64"})) == "ip-fd00--1"
    assert kit.default_tag(_ctx(tmp_path), _req({}, rid="10.1.2.3/8")) == "ip-10.1.2.3"


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


@pytest.mark.parametrize("m", IP_MESSAGES, ids=lambda m: m.code)
def test_messages(m: object) -> None:
    from standfast.messages import MessageDef

    assert isinstance(m, MessageDef)
    assert 190801 <= int(m.code) <= 190899
    assert CATALOGUE[m.code] is m
    assert _fields(m.en) == _fields(m.ja)
    assert _fields(m.action_en) == _fields(m.action_ja) <= _fields(m.en)
    assert bool(m.action_en) == bool(m.action_ja)
    assert isinstance(m.severity, Severity)


def test_check_result_for_a_missing_interface(tmp_path: Path) -> None:
    props = IpKit().validate({"address": "192.0.2.77/24", "interface": "sfipnosuch0"})
    res = Resource("s1", "ip-192.0.2.77", "ip", "192.0.2.77", props=props)
    result = IpKit().quick_check(_ctx(tmp_path), res)
    assert (result.ok, result.code) == (False, "190802")
    IpKit().remove(_ctx(tmp_path), res)  # nothing to remove: succeeds
    with pytest.raises(StandfastError) as exc:
        IpKit().restore(_ctx(tmp_path), res)
    assert exc.value.code == "190802"


def test_floating_address_version() -> None:
    assert FloatingAddress(ipaddress.ip_address("10.0.0.1"), 8).version == 4
