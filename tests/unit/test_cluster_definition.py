"""The cluster definition's witness settings are checked when it is read: a bad one is
refused with 193001 (and so never starts a daemon that silently lacks its witness)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from standfast.cli.main import cli
from standfast.cluster.definition import definition_from_dict, fence_config
from standfast.messages import StandfastError


def data(**witness: Any) -> dict[str, Any]:
    return {
        "name": "c",
        "quorum": "storage_witness",
        "witness": witness,
        "servers": {
            "s1": {"addresses": {"net1": "10.0.0.1"}},
            "s2": {"addresses": {"net1": "10.0.0.2"}},
        },
    }


def test_a_sound_storage_witness_is_accepted() -> None:
    d = definition_from_dict(data(lease_path="/nas/lease", ttl=6.0, io_timeout=2.0))
    assert d.quorum == "storage_witness" and d.witness["ttl"] == 6.0


@pytest.mark.parametrize(
    ("witness", "words"),
    [
        ({"lease_path": "nas/lease"}, "absolute lease_path"),
        ({"lease_path": "/nas/lease", "ttl": 3.0, "io_timeout": 2.0}, "at least twice"),
        ({"lease_path": "/nas/lease", "io_timeout": 0}, "at least twice"),
        ({"lease_path": "/nas/lease", "ttl": "soon"}, "soon"),
    ],
)
def test_a_bad_storage_witness_is_refused(witness: dict[str, Any], words: str) -> None:
    with pytest.raises(StandfastError) as exc:
        definition_from_dict(data(**witness))
    assert exc.value.code == "193001"
    assert words in exc.value.text("en")


def plain(**extra: Any) -> dict[str, Any]:
    return {
        "name": "c",
        "servers": {
            "s1": {"addresses": {"net1": "10.0.0.1"}},
            "s2": {"addresses": {"net1": "10.0.0.2"}},
        },
        **extra,
    }


@pytest.mark.parametrize(
    ("doc", "key", "hint"),
    [
        (plain(quorm="none"), "quorm", "did you mean quorum?"),
        (plain(heartbeat={"intervall": 0.3}), "intervall", "did you mean interval?"),
        (plain(fencing={"command": ["/bin/true"], "timout": 5}), "timout", "timeout?"),
        (plain(confirm_failover={"defaults": "block"}), "defaults", "default?"),
        (plain(witness={"lease": "/x"}), "lease", ""),
        (
            {"name": "c", "servers": {"s1": {"addresses": {"n": "10.0.0.1"}, "prio": 1}}},
            "prio",
            "",
        ),
    ],
)
def test_an_unknown_setting_is_refused_by_name(doc: dict[str, Any], key: str, hint: str) -> None:
    """A misspelt setting would otherwise do nothing at all (issue 14)."""
    with pytest.raises(StandfastError) as exc:
        definition_from_dict(doc)
    assert exc.value.code == "193028"
    assert exc.value.params["key"] == key
    assert hint in exc.value.text("en")


@pytest.mark.parametrize(
    "extra",
    [
        {"peer_port": 0},
        {"peer_port": 65536},
        {"heartbeat_port": "7800"},
        {"heartbeat_port": True},
        {"heartbeat_port": 17810.7},
        {"heartbeat_port": -1},
        {"heartbeat_port": 70000},
        {"heartbeat_port": 7900, "peer_port": 7900},
    ],
)
def test_ports_are_checked(extra: dict[str, Any]) -> None:
    with pytest.raises(StandfastError) as exc:
        definition_from_dict(plain(**extra))
    assert exc.value.code == "193029"


def test_per_server_fence_commands_are_read() -> None:
    d = definition_from_dict(
        plain(
            fencing={
                "command": ["/usr/sbin/fence_ipmilan", "--ip", "{server}-bmc"],
                "per_server": {"s2": ["/usr/sbin/fence_apc", "--plug", "7"]},
                "confirm_timeout": 12,
            }
        )
    )
    config = fence_config(d)
    assert config is not None
    assert config.per_server == {"s2": ("/usr/sbin/fence_apc", "--plug", "7")}
    assert config.confirm_timeout == 12.0
    # A fence command for a server not in the cluster is a mistake, not a no-op.
    with pytest.raises(StandfastError) as exc:
        definition_from_dict(plain(fencing={"per_server": {"s9": ["/bin/true"]}}))
    assert exc.value.code == "192062" and "s9" in exc.value.text("en")
    # Only per-server commands is enough.
    only = definition_from_dict(plain(fencing={"per_server": {"s1": ["/bin/true"]}}))
    assert fence_config(only) is not None


def test_a_written_definition_reads_back_the_same() -> None:
    d = definition_from_dict(plain(quorum="none", fencing={"command": ["/bin/true"]}))
    assert definition_from_dict(d.to_dict()) == d


def cli_run(home: Path, *args: str) -> Result:
    runner = CliRunner(env={"STANDFAST_HOME": str(home), "COLUMNS": "200", "LANG": "C.UTF-8"})
    return runner.invoke(cli, ["--home", str(home), *args], catch_exceptions=True)


def test_cluster_check_names_the_bad_setting_and_import_refuses_it(tmp_path: Path) -> None:
    home = tmp_path / "sf"
    r = cli_run(home, "cluster", "init", "c", "--server", "s1", "--address", "net1=10.0.0.1")
    assert r.exit_code == 0, r.output
    r = cli_run(home, "cluster", "check")
    assert r.exit_code == 0 and "valid" in r.output, r.output
    bad = tmp_path / "bad.json"
    doc = plain(quorm="none")
    bad.write_text(json.dumps(doc))
    r = cli_run(home, "cluster", "check", "--file", str(bad))
    assert r.exit_code != 0 and "193028" in r.output and "quorum" in r.output, r.output
    garbled = tmp_path / "garbled.json"
    garbled.write_text('{"name": ')
    before = (home / "lib" / "cluster.json").read_text()
    key = home / "lib" / "cluster.key"
    for path in (bad, garbled):
        r = cli_run(home, "cluster", "import", str(path), "--key", str(key))
        assert (r.exit_code != 0 and r.exception is None) or isinstance(r.exception, SystemExit)
        assert "193028" in r.output or "193001" in r.output, r.output
        assert "Traceback" not in r.output
    assert (home / "lib" / "cluster.json").read_text() == before  # nothing changed


@pytest.mark.parametrize("port", ["70000", "-1", "0"])
def test_cluster_init_refuses_a_port_out_of_range_and_writes_nothing(
    tmp_path: Path, port: str
) -> None:
    home = tmp_path / "sf"
    args = ["cluster", "init", "c", "--server", "s1", "--address", "net1=10.0.0.1"]
    r = cli_run(home, *args, "--heartbeat-port", port)
    assert r.exit_code != 0 and "Traceback" not in r.output, r.output
    assert "193029" in r.output, r.output
    assert not (home / "lib" / "cluster.json").exists()


@pytest.mark.parametrize("value", ["false", 0, None])
def test_failover_blocked_must_be_true_or_false(value: object) -> None:
    doc = plain()
    doc["servers"]["s2"]["failover_blocked"] = value
    with pytest.raises(StandfastError) as exc:
        definition_from_dict(doc)
    assert exc.value.code == "193001" and "failover_blocked" in exc.value.text("en")
