"""A real daemon and the real CLI: app hierarchies in and out of service, refusals."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from tests.support.daemon import Daemon

pytestmark = pytest.mark.daemon


def app_props(d: Path, name: str, check: bool = True) -> list[str]:
    """An application that is 'up' while its marker file exists."""
    marker = d / f"{name}.up"
    props = [
        "--prop",
        f"restore=/usr/bin/touch {marker}",
        "--prop",
        f"remove=/bin/rm -f {marker}",
    ]
    if check:
        props += ["--prop", f"quick_check=/usr/bin/test -e {marker}"]
    return props


def test_create_status_and_service_cycle(daemon: Daemon, tmp_path: Path) -> None:
    r = daemon.cli(
        "resource", "create", "--kit", "app", "--tag", "web", *app_props(tmp_path, "web")
    )
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "web.up").exists()  # created hierarchies come into service
    r = daemon.cli("resource", "create", "--kit", "app", "--tag", "db", *app_props(tmp_path, "db"))
    assert r.returncode == 0, r.stderr
    r = daemon.cli("dependency", "create", "--parent", "web", "--child", "db")
    assert r.returncode == 0, r.stderr

    status = daemon.cli_json("status")
    assert status["server"] == "server1"
    [tree] = status["hierarchies"]
    assert tree["tag"] == "web" and tree["children"][0]["tag"] == "db"
    assert daemon.states() == {"web": "ISP", "db": "ISP"}
    human = daemon.cli("status")
    assert human.returncode == 0 and "web" in human.stdout and "ISP" in human.stdout

    # Out of service of the child takes its parent down first.
    r = daemon.cli("resource", "out-of-service", "db", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["result"]["out_of_service"] == ["web", "db"]
    assert daemon.states() == {"web": "OSU", "db": "OSU"}
    assert not (tmp_path / "web.up").exists() and not (tmp_path / "db.up").exists()

    # In service of the parent brings its child up first.
    r = daemon.cli("resource", "in-service", "web", "--json")
    assert json.loads(r.stdout)["result"]["in_service"] == ["db", "web"]
    assert daemon.states() == {"web": "ISP", "db": "ISP"}

    log = daemon.log_file.read_text()
    assert 'restore: BEGIN restore of "db" on server "server1"' in log
    assert 'create: END successful creation of "web" on server "server1"' in log


def test_refusals_are_numbered_and_change_nothing(daemon: Daemon, tmp_path: Path) -> None:
    assert (
        daemon.cli(
            "resource", "create", "--kit", "app", "--tag", "a", *app_props(tmp_path, "a")
        ).returncode
        == 0
    )
    before = daemon.cli_json("status")

    cases = [
        (["resource", "create", "--kit", "app", "--tag", "a", *app_props(tmp_path, "x")], "000014"),
        (
            ["resource", "create", "--kit", "app", "--tag", ".bad", *app_props(tmp_path, "x")],
            "190002",
        ),
        (["resource", "create", "--kit", "nope", "--tag", "b"], "190010"),
        (
            [
                "resource",
                "create",
                "--kit",
                "app",
                "--tag",
                "b",
                "--prop",
                "restore=/no/such/cmd",
                "--prop",
                "remove=/bin/true",
            ],
            "190603",
        ),
        (
            ["resource", "create", "--kit", "app", "--tag", "b", "--prop", "restore=/bin/true"],
            "190013",
        ),
        (["resource", "create", "--kit", "app", "--tag", "b", "--prop", "colour=red"], "190012"),
        (
            [
                "resource",
                "create",
                "--kit",
                "app",
                "--tag",
                "b",
                "--switchback",
                "never",
                *app_props(tmp_path, "b"),
            ],
            "190014",
        ),
        (["resource", "show", "missing"], "000019"),
        (["resource", "in-service", "missing"], "000019"),
        (["resource", "delete", "a"], "190016"),  # in service
        (["resource", "set", "a", "--priority", "0"], "190005"),
        (["resource", "set", "a", "--prop", "restore_timeout=soon"], "190011"),
        (["dependency", "create", "--parent", "a", "--child", "a"], "190007"),
        (["dependency", "delete", "--parent", "a", "--child", "zz"], "190009"),
        (["resource", "set", "a", "--prop", "broken"], "000002"),
    ]
    for args, code in cases:
        r = daemon.cli(*args)
        assert r.returncode != 0, (args, r.stdout)
        assert r.stderr.startswith(code + ":"), (args, r.stderr)
    after = daemon.cli_json("status")
    assert after == before


def test_failed_restore_rolls_back_and_create_backs_out(daemon: Daemon, tmp_path: Path) -> None:
    r = daemon.cli(
        "resource",
        "create",
        "--kit",
        "app",
        "--tag",
        "bad",
        "--prop",
        "restore=/bin/false",
        "--prop",
        "remove=/bin/true",
    )
    assert r.returncode != 0
    assert "000024:" in r.stderr
    assert daemon.cli_json("status")["hierarchies"] == []


def test_check_failure_without_backup_goes_osf(daemon: Daemon, tmp_path: Path) -> None:
    assert (
        daemon.cli(
            "resource", "create", "--kit", "app", "--tag", "svc", *app_props(tmp_path, "svc")
        ).returncode
        == 0
    )
    os.unlink(tmp_path / "svc.up")  # the application dies behind the cluster's back
    elapsed = daemon.wait_state("svc", "OSF", timeout=10)
    assert elapsed < 5  # quick check every 0.5 s
    events = daemon.cli_json("events")
    assert any(e["kind"] == "failed" and e["tag"] == "svc" for e in events)
    # An operator can bring it back once fixed.
    assert daemon.cli("resource", "in-service", "svc").returncode == 0
    assert daemon.states()["svc"] == "ISP"


def test_local_recovery_runs_before_failing(daemon: Daemon, tmp_path: Path) -> None:
    marker = tmp_path / "rec.up"
    assert (
        daemon.cli(
            "resource",
            "create",
            "--kit",
            "app",
            "--tag",
            "rec",
            *app_props(tmp_path, "rec"),
            "--prop",
            f"recover=/usr/bin/touch {marker}",
        ).returncode
        == 0
    )
    os.unlink(marker)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not marker.exists():
        time.sleep(0.05)
    assert marker.exists()
    time.sleep(1.5)
    assert daemon.states()["rec"] == "ISP"
    assert any(e["kind"] == "recovered" for e in daemon.cli_json("events"))


def test_state_survives_daemon_restart(daemon: Daemon, tmp_path: Path) -> None:
    assert (
        daemon.cli(
            "resource", "create", "--kit", "app", "--tag", "keep", *app_props(tmp_path, "keep")
        ).returncode
        == 0
    )
    daemon.stop()
    os.unlink(tmp_path / "keep.up")
    daemon.start()
    daemon.wait_state("keep", "ISP", timeout=10)
    assert (tmp_path / "keep.up").exists()  # restored, not just believed


def test_delete_hierarchy(daemon: Daemon, tmp_path: Path) -> None:
    assert (
        daemon.cli(
            "resource", "create", "--kit", "app", "--tag", "gone", *app_props(tmp_path, "gone")
        ).returncode
        == 0
    )
    assert daemon.cli("resource", "out-of-service", "gone").returncode == 0
    r = daemon.cli("resource", "delete", "gone", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["result"]["deleted"] == ["gone"]
    assert daemon.cli_json("status")["hierarchies"] == []


def test_second_daemon_on_same_socket_refused(daemon: Daemon) -> None:
    r = daemon.cli("daemon", timeout=30)
    assert r.returncode != 0
    assert "190205" in r.stderr


def test_cli_without_daemon_says_so(tmp_path: Path) -> None:
    d = Daemon(tmp_path / "none")
    r = d.cli("status")
    assert r.returncode != 0 and r.stderr.startswith("190201:")


def test_config_backup_and_restore(daemon: Daemon, tmp_path: Path) -> None:
    assert (
        daemon.cli(
            "resource", "create", "--kit", "app", "--tag", "keep", *app_props(tmp_path, "keep")
        ).returncode
        == 0
    )
    backup = tmp_path / "backup.json"
    assert daemon.cli("config", "backup", str(backup)).returncode == 0
    r = daemon.cli("config", "restore", str(backup))
    assert r.returncode != 0 and r.stderr.startswith("190016:")  # keep is in service
    assert daemon.cli("resource", "out-of-service", "keep").returncode == 0
    assert daemon.cli("resource", "delete", "keep").returncode == 0
    assert daemon.states() == {}
    r = daemon.cli("config", "restore", str(backup), "--json")
    assert r.returncode == 0, r.stderr
    assert daemon.states() == {"keep": "OSU"}
    shown = daemon.cli_json("resource", "show", "keep")
    assert shown["props"]["restore"].endswith("keep.up")
    bad = tmp_path / "bad.json"
    bad.write_text('{"resources": [{"server": "server1"}]}')
    r = daemon.cli("config", "restore", str(bad))
    assert r.returncode != 0 and r.stderr.startswith("190206:")
    assert daemon.states() == {"keep": "OSU"}


def test_messages_follow_the_locale(daemon: Daemon) -> None:
    r = daemon.cli("--lang", "ja", "resource", "show", "missing")
    assert r.returncode != 0
    assert (
        r.stderr.startswith("000019: ") and "ローカル・サーバにリソースが見つかりません" in r.stderr
    )
    r = daemon.cli("resource", "show", "missing")
    assert r.stderr.strip() == "000019: Resource not found on local server"
    rows = json.loads(daemon.cli("messages", "--lang", "ja", "--json").stdout)
    assert any(row["code"] == "107009" and "LKNFSTIMEOUT" in row["message"] for row in rows)
