"""The ocf kit's pure parts: agent names, meta-data to schema (from the real meta-data
of the agents the resource-agents package installs), exit codes to outcomes, the
OCF environment, and parameter validation."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from standfast.kits.ocf import KIT_SPECS, _validate_offline
from standfast.kits.ocf_exec import Kind, OcfCode, agent_env, classify, env_value, meaning
from standfast.kits.ocf_metadata import (
    AgentName,
    parse_agent_name,
    parse_metadata,
    parse_time,
)
from standfast.kits.schema import validate_props
from standfast.messages import CATALOGUE, StandfastError

HEARTBEAT = Path("/usr/lib/ocf/resource.d/heartbeat")


def real_metadata(agent: str) -> str:
    """The agent's own meta-data text (resource-agents is installed by scripts/bootstrap)."""
    return subprocess.run(
        [str(HEARTBEAT / agent), "meta-data"],
        env={"OCF_ROOT": "/usr/lib/ocf", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
        capture_output=True,
        text=True,
        timeout=10,
        check=True,
    ).stdout


@pytest.mark.parametrize(
    "text",
    [
        "heartbeat:Dummy",
        "lsb:foo",
        "ocf:heartbeat",
        "ocf:heartbeat:Dummy:x",
        "ocf:..:Dummy",
        "ocf:heartbeat:..",
        "ocf:heart/beat:Dummy",
        "ocf:heartbeat:Dum my",
        "ocf::Dummy",
        "ocf:heartbeat:\x00",
        "",
        5,
    ],
)
def test_bad_agent_names_are_numbered(text: object) -> None:
    with pytest.raises(StandfastError) as exc:
        parse_agent_name(text)
    assert exc.value.code == "195001"


def test_agent_name_and_path() -> None:
    name = parse_agent_name("ocf:heartbeat:IPaddr2")
    assert name == AgentName("heartbeat", "IPaddr2")
    assert str(name) == "ocf:heartbeat:IPaddr2"
    assert name.path("/usr/lib/ocf") == HEARTBEAT / "IPaddr2"


def test_dummy_metadata_becomes_the_schema() -> None:
    meta = parse_metadata("ocf:heartbeat:Dummy", real_metadata("Dummy"))
    assert meta.shortdesc == "Example stateless resource agent"
    by_name = {p.name: p for p in meta.params}
    assert set(by_name) == {"state", "fake"}
    assert by_name["state"].unique and not by_name["state"].required
    assert by_name["state"].default == "/run/resource-agents/Dummy-RESOURCE_ID.state"
    assert meta.timeout("start") == 20.0 and meta.timeout("meta-data") == 5.0
    assert meta.deep_depth == 0 and meta.has_action("validate-all")
    # Defaults are shown, never stored: the agent applies its own.
    assert {s.name: s.default for s in meta.specs()} == {"state": None, "fake": None}
    shown = {s.name: s.default for s in meta.specs(show_default=True)}
    assert shown["fake"] == "dummy"


def test_ipaddr2_types_required_and_validation() -> None:
    meta = parse_metadata("ocf:heartbeat:IPaddr2", real_metadata("IPaddr2"))
    by_name = {p.name: p for p in meta.params}
    assert by_name["ip"].required and by_name["ip"].type == "str"
    assert by_name["lvs_support"].type == "bool"
    assert by_name["arp_count"].type == "int"
    schema = KIT_SPECS + meta.specs()
    agent = "ocf:heartbeat:IPaddr2"
    ok = validate_props(
        agent, schema, {"agent": agent, "ip": "10.0.0.5", "cidr_netmask": "24", "arp_count": "3"}
    )
    assert ok["arp_count"] == 3 and ok["recover"] is True
    assert "lvs_support" not in ok  # the agent's default stays the agent's
    for given, code in [
        ({"agent": agent}, "190013"),  # ip is required
        ({"agent": agent, "ip": "10.0.0.5", "nosuch": "1"}, "190012"),
        ({"agent": agent, "ip": "10.0.0.5", "arp_count": "many"}, "190011"),
        ({"agent": agent, "ip": "10.0.0.5", "lvs_support": "perhaps"}, "190011"),
        ({"agent": agent, "ip": "10.0.0.5", "timeout_start": "0"}, "190011"),
    ]:
        with pytest.raises(StandfastError) as exc:
            validate_props(agent, schema, given)
        assert exc.value.code == code, given


def test_deepest_check_level_and_its_timeout() -> None:
    # nginx offers OCF_CHECK_LEVEL 0, 10, 20 and 30 (resource-agents 4.12).
    meta = parse_metadata("ocf:heartbeat:nginx", real_metadata("nginx"))
    assert meta.deep_depth == 30
    assert meta.monitor_timeout(30) >= meta.monitor_timeout(0)


def test_every_installed_agent_metadata_parses() -> None:
    agents = sorted(p.name for p in HEARTBEAT.iterdir() if p.is_file())
    assert len(agents) > 100
    for name in ("Dummy", "IPaddr2", "Filesystem", "apache"):
        meta = parse_metadata(f"ocf:heartbeat:{name}", real_metadata(name))
        assert meta.params and meta.has_action("start") and meta.has_action("monitor")


@pytest.mark.parametrize(
    "text",
    ["not xml", "<other/>", "<resource-agent><parameters>", "x" * (300 * 1024)],
)
def test_bad_metadata_is_numbered(text: str) -> None:
    with pytest.raises(StandfastError) as exc:
        parse_metadata("ocf:x:y", text)
    assert exc.value.code == "195004"


def test_metadata_odd_parts() -> None:
    doc = """<resource-agent name="x"><parameters>
      <parameter name="bad-name"><content type="string"/></parameter>
      <parameter name="mode"><content type="select" default="a">
        <option value="a"/><option value="b"/></content></parameter>
      <parameter name="mode"><content type="integer"/></parameter>
      <parameter name="n"><content type="integer" default="-5"/></parameter>
    </parameters><actions>
      <action name="start" timeout="2m"/><action name="stop"/>
      <action name="monitor" depth="0" timeout="10s"/>
      <action name="monitor" depth="20" timeout="90s"/>
    </actions></resource-agent>"""
    meta = parse_metadata("ocf:x:y", doc)
    assert [p.name for p in meta.params] == ["mode", "n"]  # bad-name cannot be env
    assert meta.params[0].choices == ("a", "b")
    assert meta.timeout("start") == 120.0 and meta.timeout("stop") == 20.0
    assert meta.deep_depth == 20 and meta.monitor_timeout(20) == 90.0
    schema = meta.specs()
    assert validate_props("y", schema, {"n": "-7"}) == {"n": -7}


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("20s", 20.0), ("2m", 120.0), ("500ms", 0.5), ("30", 30.0), ("1h", 3600.0)],
)
def test_parse_time(text: str, seconds: float) -> None:
    assert parse_time(text) == seconds


@pytest.mark.parametrize("text", [None, "", "soon", "0s", "-1s"])
def test_parse_time_unreadable(text: str | None) -> None:
    assert parse_time(text) is None


@pytest.mark.parametrize(
    ("action", "code", "kind"),
    [
        ("start", 0, Kind.OK),
        ("monitor", 0, Kind.OK),
        ("monitor", OcfCode.NOT_RUNNING, Kind.STOPPED),
        ("stop", OcfCode.NOT_RUNNING, Kind.OK),
        ("monitor", OcfCode.DEGRADED, Kind.DEGRADED),
        ("monitor", OcfCode.RUNNING_PROMOTED, Kind.OK),
        ("start", OcfCode.ERR_GENERIC, Kind.FAILED),
        ("start", OcfCode.ERR_UNIMPLEMENTED, Kind.FAILED),
        ("start", OcfCode.ERR_INSTALLED, Kind.NOT_HERE),
        ("monitor", OcfCode.ERR_PERM, Kind.NOT_HERE),
        ("start", OcfCode.ERR_CONFIGURED, Kind.CONFIG),
        ("validate-all", OcfCode.ERR_ARGS, Kind.CONFIG),
        ("monitor", 42, Kind.FAILED),
        ("monitor", -9, Kind.FAILED),
    ],
)
def test_exit_codes_map_to_outcomes(action: str, code: int, kind: Kind) -> None:
    assert classify(action, code, False) == kind
    assert classify(action, code, True) == Kind.TIMEOUT


def test_meanings_name_the_ocf_codes() -> None:
    assert meaning(7).startswith("OCF_NOT_RUNNING")
    assert meaning(6).startswith("OCF_ERR_CONFIGURED")
    assert "not an OCF code" in meaning(42)


def test_environment_is_the_ocf_one() -> None:
    base = {"PATH": "/bin", "OCF_RESKEY_leak": "x", "OCF_ROOT": "/elsewhere", "HOME": "/root"}
    env = agent_env(
        base,
        root="/usr/lib/ocf",
        provider="heartbeat",
        kind="Dummy",
        instance="d1",
        params={"state": "/tmp/s", "flag": True, "n": 3},
        timeout=20.0,
        check_level=10,
    )
    assert env["OCF_ROOT"] == "/usr/lib/ocf" and env["OCF_RESOURCE_INSTANCE"] == "d1"
    assert env["OCF_RESOURCE_TYPE"] == "Dummy" and env["OCF_RESOURCE_PROVIDER"] == "heartbeat"
    assert env["OCF_RESKEY_state"] == "/tmp/s" and env["OCF_RESKEY_flag"] == "true"
    assert env["OCF_RESKEY_n"] == "3" and env["OCF_RESKEY_CRM_meta_timeout"] == "20000"
    assert env["OCF_CHECK_LEVEL"] == "10" and env["HOME"] == "/root"
    assert "OCF_RESKEY_leak" not in env
    assert env["HA_LOGFACILITY"] == "none"
    assert env_value(False) == "false" and env_value(2.0) == "2"


def test_offline_validation_checks_name_and_own_properties() -> None:
    good = {"agent": "ocf:heartbeat:Dummy", "fake": "x", "timeout_start": "5"}
    assert _validate_offline(good)["timeout_start"] == 5.0
    for bad, code in [
        ({"fake": "x"}, "190013"),
        ({"agent": "lsb:x"}, "195001"),
        ({"agent": "ocf:heartbeat:Dummy", "bad-name": "x"}, "190012"),
        ({"agent": "ocf:heartbeat:Dummy", "fake": "a\x00b"}, "190011"),
        ({"agent": "ocf:heartbeat:Dummy", "recover": "maybe"}, "190011"),
    ]:
        with pytest.raises(StandfastError) as exc:
            _validate_offline(bad)
        assert exc.value.code == code, bad


def test_ocf_messages_in_both_languages() -> None:
    codes = [c for c in CATALOGUE if c.startswith("1950")]
    assert len(codes) >= 12
    for c in codes:
        assert CATALOGUE[c].en and CATALOGUE[c].ja


def test_timeouts_from_metadata_overrides_and_outer_deadlines(tmp_path: Path) -> None:
    from standfast.config.paths import Paths
    from standfast.config.tunables import Tunables
    from standfast.kits.base import ActionLog, KitContext
    from standfast.kits.ocf import OcfKit, _Agent
    from standfast.model.resources import Resource

    meta = parse_metadata("ocf:heartbeat:Dummy", real_metadata("Dummy"))
    agent = _Agent(AgentName("heartbeat", "Dummy"), meta, "/usr/lib/ocf")

    def timeout(tunables: Tunables, props: dict[str, object], action: str) -> float:
        ctx = KitContext("s1", tunables, Paths.from_env({}, home=tmp_path), ActionLog())
        res = Resource(server="s1", tag="d", kit="ocf", id="d", props=props)  # type: ignore[arg-type]
        return OcfKit()._timeout(ctx, res, agent, action)

    assert timeout(Tunables(), {}, "start") == 20.0  # the agent's advice
    assert timeout(Tunables(), {"timeout_start": 3.5}, "start") == 3.5
    assert timeout(Tunables(SF_ACTION_TIMEOUT=10.0), {}, "stop") == 9.0
    assert timeout(Tunables(LKNFSTIMEOUT=10, LKNFSSYSCALLTO=1), {}, "monitor") == 14.0
    assert timeout(Tunables(SF_ACTION_TIMEOUT=0.5), {}, "start") == 0.1
