"""Fence agents: stdin building, secrets masked, status exit codes, the definition's
agent form checked with numbered refusals, and power.fence driving an agent that reads
its stdin (a shell script here; the integration test uses Debian's fence_dummy)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from standfast.cli.main import cli
from standfast.cluster import fence_agent as fa
from standfast.cluster.definition import definition_from_dict, fence_config
from standfast.cluster.fencing import FenceConfig, fence_plan
from standfast.host import power
from standfast.messages import StandfastError
from standfast.messages.quorum_codes import FENCE_FAILED, FENCE_SUCCEEDED, FENCE_UNCONFIRMED

SECRET = "pw-Zq81-not-in-logs"


def doc(**fencing: Any) -> dict[str, Any]:
    return {
        "name": "c",
        "servers": {
            "s1": {"addresses": {"net1": "10.0.0.1"}},
            "s2": {"addresses": {"net1": "10.0.0.2"}},
        },
        "fencing": fencing,
    }


AGENT_FORM: dict[str, Any] = {
    "agent": "/usr/sbin/fence_ipmilan",
    "parameters": {"lanplus": True, "login": "admin", "passwd": SECRET, "plug": "{server}"},
    "per_server": {"s1": {"ipaddr": "10.0.9.1"}, "s2": {"ipaddr": "10.0.9.2", "port": 623}},
    "action": "off",
    "timeout": 20,
}


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("passwd", True),
        ("password", True),
        ("passwd_script", True),
        ("api-key", True),
        ("secret_key", True),
        ("community", True),
        ("hexadecimal_kg", True),
        ("token", True),
        ("login", False),
        ("ipaddr", False),
        ("plug", False),
        ("lanplus", False),
    ],
)
def test_secret_parameters_are_recognised(name: str, secret: bool) -> None:
    assert fa.is_secret(name) is secret


def test_stdin_is_action_nodename_then_parameters() -> None:
    stdin = fa.agent_stdin({"ipaddr": "10.0.9.2", "passwd": "x"}, "off", "s2")
    assert stdin == b"action=off\nnodename=s2\nipaddr=10.0.9.2\npasswd=x\n"


def test_parameters_are_checked_without_showing_a_secret() -> None:
    got = fa.check_parameters("p", {"lanplus": True, "port": 623, "off": False, "a-b": "x"})
    assert got == {"lanplus": "1", "port": "623", "off": "0", "a-b": "x"}
    bad: list[dict[str, object]] = [
        {"action": "off"},
        {"nodename": "s1"},
        {"-x": "1"},
        {"a b": "1"},
        {"login": ["a"]},
        {"login": None},
        {"passwd": SECRET + "\naction=on"},
        {"passwd": " " + SECRET},
    ]
    for params in bad:
        with pytest.raises(StandfastError) as info:
            fa.check_parameters("p", params)
        assert info.value.code == "192070"
        assert SECRET not in str(info.value) and SECRET not in info.value.text("ja")
    with pytest.raises(StandfastError):
        fa.check_parameters("p", ["login=a"])


def test_masking_of_text_and_of_the_fencing_section() -> None:
    assert fa.mask(f"Ignoring 'passwd={SECRET}'", [SECRET]) == "Ignoring 'passwd=***'"
    assert fa.secret_values({"passwd": "ab", "secret": "abc", "login": "ab"}) == ("abc", "ab")
    shown = fa.public_fencing(AGENT_FORM)
    assert SECRET not in json.dumps(shown)
    assert shown["parameters"] == {**AGENT_FORM["parameters"], "passwd": "***"}
    assert shown["per_server"] == AGENT_FORM["per_server"]
    command_form = {"command": ["/bin/true"], "per_server": {"s1": ["/bin/false"]}}
    assert fa.public_fencing(command_form) == command_form


def test_status_exit_codes() -> None:
    assert [fa.status_word(c) for c in (0, 1, 2, 3)] == ["on", "unknown", "off", "unknown"]


def test_metadata_parameters() -> None:
    xml = (
        '<?xml version="1.0" ?><resource-agent name="fence_x"><parameters>'
        '<parameter name="ip" obsoletes="ipaddr"/><parameter name="status_file"/>'
        "</parameters></resource-agent>"
    )
    assert fa.metadata_parameters(xml) == {"ip", "ipaddr", "status_file"}
    for bad in ("not xml", "<other/>"):
        with pytest.raises(ValueError):
            fa.metadata_parameters(bad)


def test_the_agent_form_is_read_with_per_server_parameters() -> None:
    config = fence_config(definition_from_dict(doc(**AGENT_FORM)))
    assert config is not None and config.agent == "/usr/sbin/fence_ipmilan"
    assert config.command_for("s2") == ("/usr/sbin/fence_ipmilan",)
    assert config.agent_parameters("s2") == {
        "lanplus": "1",
        "login": "admin",
        "passwd": SECRET,
        "plug": "s2",
        "ipaddr": "10.0.9.2",
        "port": "623",
    }
    assert SECRET not in repr(config)
    plan = fence_plan("s2", config)
    assert plan is not None and plan.argv == ("/usr/sbin/fence_ipmilan",)
    assert plan.stdin is not None and plan.confirm_stdin is not None
    lines = plan.stdin.decode().splitlines()
    assert lines[:2] == ["action=off", "nodename=s2"] and "ipaddr=10.0.9.2" in lines
    assert f"passwd={SECRET}" in lines and "plug=s2" in lines
    assert plan.confirm_stdin.decode().startswith("action=status\nnodename=s2\n")
    assert plan.confirm_codes == {2} and plan.confirm_poll and plan.secrets == (SECRET,)
    assert SECRET not in repr(plan) and "10.0.9.1" not in plan.stdin.decode()
    reboot = fence_config(definition_from_dict(doc(**{**AGENT_FORM, "action": "reboot"})))
    assert reboot is not None
    again = fence_plan("s1", reboot)
    assert again is not None and again.confirm_codes == {0, 2} and not again.confirm_poll


@pytest.mark.parametrize(
    ("fencing", "code"),
    [
        ({**AGENT_FORM, "command": ["/bin/true"]}, "192070"),
        ({**AGENT_FORM, "agent": "fence_ipmilan"}, "192070"),
        ({**AGENT_FORM, "agent": "/usr/sbin/fence_{server}"}, "192070"),
        ({**AGENT_FORM, "action": "on"}, "192070"),
        ({**AGENT_FORM, "parameters": {"action": "on"}}, "192070"),
        ({**AGENT_FORM, "per_server": {"s2": ["/bin/true"]}}, "192070"),
        ({**AGENT_FORM, "per_server": {"s9": {"ipaddr": "1"}}}, "192062"),
        ({"command": ["/bin/true"], "parameters": {"login": "a"}}, "192070"),
        ({**AGENT_FORM, "paramters": {}}, "193028"),
    ],
)
def test_bad_agent_settings_are_refused(fencing: dict[str, Any], code: str) -> None:
    with pytest.raises(StandfastError) as info:
        definition_from_dict(doc(**fencing))
    assert info.value.code == code and SECRET not in str(info.value)


def agent_script(tmp_path: Path, status_codes: str) -> str:
    """A stand-in agent: records stdin, echoes it to stderr (as fence-agents' "Ignoring
    unknown option" warnings do), answers ``status`` with the next of ``status_codes``."""
    path = tmp_path / "fence_test"
    path.write_text(
        "#!/bin/sh\n"
        f"input=$(cat); printf '%s\\n--\\n' \"$input\" >> {tmp_path}/stdin.log\n"
        'echo "got: $input" >&2\n'
        'case "$input" in action=status*)\n'
        f"  n=$(cat {tmp_path}/n 2>/dev/null || echo 1); echo $((n+1)) > {tmp_path}/n\n"
        f"  exit $(echo {status_codes} | cut -d, -f$n) ;;\n"
        "esac\nexit 0\n"
    )
    path.chmod(0o755)
    return str(path)


def test_power_fence_polls_status_until_off_and_masks_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(power, "CONFIRM_INTERVAL", 0.05)
    agent = agent_script(tmp_path, "0,1,2")
    config = FenceConfig(
        agent=agent,
        parameters={"passwd": SECRET},
        server_parameters={"s2": {"ipaddr": "10.0.9.2"}},
        timeout=5,
        confirm_timeout=5,
    )
    plan = fence_plan("s2", config)
    assert plan is not None
    result = power.fence(plan)
    assert result.ok and result.code == FENCE_SUCCEEDED and result.confirmed is True
    assert len(result.history) == 4 and "[confirm, 3 runs]" in result.output
    recorded = (tmp_path / "stdin.log").read_text().split("\n--\n")
    assert recorded[0] == f"action=off\nnodename=s2\nipaddr=10.0.9.2\npasswd={SECRET}"
    assert recorded[1].startswith("action=status\nnodename=s2\n")
    shown = result.output + result.detail + "".join(r.stderr + r.stdout for r in result.history)
    assert "got: action=off" in shown and SECRET not in shown and "passwd=***" in shown


def test_power_fence_without_off_in_time_is_unconfirmed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(power, "CONFIRM_INTERVAL", 0.05)
    agent = agent_script(tmp_path, ",".join(["0"] * 200))
    config = FenceConfig(agent=agent, parameters={"passwd": SECRET}, confirm_timeout=0.6)
    plan = fence_plan("s2", config)
    assert plan is not None
    result = power.fence(plan)
    assert not result.ok and result.code == FENCE_UNCONFIRMED and result.confirmed is False
    assert "still says on" in result.detail and result.elapsed < plan.deadline
    assert SECRET not in caplog.text + result.output
    failing = FenceConfig(agent=str(tmp_path / "fence_missing"), attempts=1)
    missed = fence_plan("s2", failing)
    assert missed is not None
    assert power.fence(missed).code == FENCE_FAILED


def cli_run(home: Path, *args: str) -> Result:
    runner = CliRunner(env={"STANDFAST_HOME": str(home), "COLUMNS": "200", "LANG": "C.UTF-8"})
    return runner.invoke(cli, ["--home", str(home), *args], catch_exceptions=True)


def test_cluster_check_reads_the_agent_metadata(tmp_path: Path) -> None:
    agent = tmp_path / "fence_meta"
    agent.write_text(
        '#!/bin/sh\n[ "$2" = metadata ] || exit 1\n'
        'echo \'<resource-agent name="fence_meta"><parameters>'
        '<parameter name="ip" obsoletes="ipaddr"/><parameter name="passwd"/>'
        "</parameters></resource-agent>'\n"
    )
    agent.chmod(0o755)
    home = tmp_path / "sf"
    good = tmp_path / "good.json"
    fencing = {"agent": str(agent), "parameters": {"passwd": SECRET}}
    good.write_text(json.dumps(doc(**fencing, per_server={"s2": {"ipaddr": "10.0.9.2"}})))
    r = cli_run(home, "cluster", "check", "--file", str(good))
    assert r.exit_code == 0 and "valid" in r.output, r.output
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc(**fencing, per_server={"s2": {"ipadr": "10.0.9.2"}})))
    r = cli_run(home, "cluster", "check", "--file", str(bad))
    assert r.exit_code != 0 and "192071" in r.output and "ipadr" in r.output, r.output
    assert SECRET not in r.output


def test_cluster_show_masks_the_agent_secrets(tmp_path: Path) -> None:
    home = tmp_path / "sf"
    r = cli_run(home, "cluster", "init", "c", "--server", "s1", "--address", "net1=10.0.0.1")
    assert r.exit_code == 0, r.output
    path = home / "lib" / "cluster.json"
    data = json.loads(path.read_text())
    data["fencing"] = {**AGENT_FORM, "per_server": {"s1": {"ipaddr": "10.0.9.1"}}}
    path.write_text(json.dumps(data))
    for args in (("cluster", "show", "--json"), ("cluster", "show")):
        r = cli_run(home, *args)
        assert r.exit_code == 0 and SECRET not in r.output, r.output
    shown = json.loads(cli_run(home, "cluster", "show", "--json").output)
    assert shown["fencing"]["parameters"]["passwd"] == "***"
    assert shown["fencing"]["per_server"] == {"s1": {"ipaddr": "10.0.9.1"}}
    assert SECRET in path.read_text()  # the file itself (mode 0600) keeps it


def test_the_docs_example_is_valid_and_gives_the_stdin_shown() -> None:
    text = (Path(__file__).parents[2] / "docs" / "cluster.md").read_text()
    section = text.split("### Fence agents", 1)[1]
    example = json.loads(section.split("```json\n", 1)[1].split("```", 1)[0])
    servers = {
        "server1": {"addresses": {"n": "10.0.0.1"}},
        "server2": {"addresses": {"n": "10.0.0.2"}},
    }
    config = fence_config(definition_from_dict({"name": "c", "servers": servers, **example}))
    plan = fence_plan("server1", config) if config else None
    shown = section.split("stdin:\n\n```\n", 1)[1].split("```", 1)[0]
    assert plan is not None and plan.stdin is not None and plan.stdin.decode() == shown


@pytest.mark.parametrize(
    ("argv", "secrets"),
    [
        (["/usr/sbin/fence_ipmilan", "-a", "10.0.9.2", "-l", "admin", "-p", SECRET], (SECRET,)),
        (["fence_apc", "--ip", "pdu1", "--password", SECRET, "--plug", "{server}"], (SECRET,)),
        (["fence_x", f"--password={SECRET}", "--api-key", "k-123"], (SECRET, "k-123")),
        (["fence_ipmilan", "-P", "-a", "h", "-S", "/usr/local/bin/pw"], ()),  # lanplus
        (["/usr/local/sbin/fence-ipmi", "{server}"], ()),
        (["fence_x", "-p"], ()),  # nothing after it
    ],
)
def test_secrets_in_the_command_form(argv: list[str], secrets: tuple[str, ...]) -> None:
    assert fa.command_secrets(argv) == secrets
    shown = fa.public_command(argv)
    assert len(shown) == len(argv)
    assert not any(s in " ".join(shown) for s in secrets)


def test_the_command_form_is_masked_in_cluster_show_and_in_the_fence_result(
    tmp_path: Path,
) -> None:
    command = ["/bin/sh", "-c", 'echo "login failed for $1"; exit 1', "fence", "-p", SECRET]
    section = {"command": command, "per_server": {"s1": ["/bin/x", "--password", SECRET]}}
    shown = fa.public_fencing(section)
    assert SECRET not in json.dumps(shown)
    assert shown["command"] == [*command[:-1], "***"]
    assert shown["per_server"] == {"s1": ["/bin/x", "--password", "***"]}
    plan = fence_plan("s2", FenceConfig(command=tuple(command), timeout=5, attempts=1))
    assert plan is not None and plan.secrets == (SECRET,)
    result = power.fence(plan)
    assert not result.ok
    everything = result.output + result.detail + repr(result.history)
    assert SECRET not in everything and "***" in everything
