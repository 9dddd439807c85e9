"""The lasting event history with a real daemon and the real CLI: events survive a
daemon restart, ``standfast events`` filters them, bad filters are numbered refusals,
and a configuration backup carries them (a restore keeps the local history)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from standfast.config.backup_archive import parse_archive
from tests.daemon.test_app_hierarchy import app_props
from tests.support.daemon import Daemon

pytestmark = pytest.mark.daemon


def events(daemon: Daemon, *args: str) -> list[dict[str, object]]:
    r = daemon.cli("events", *args, "--json")
    assert r.returncode == 0, r.stderr
    rows: list[dict[str, object]] = json.loads(r.stdout)
    return rows


def test_events_survive_a_restart_and_filter(daemon: Daemon, tmp_path: Path) -> None:
    for tag in ("web", "db"):
        r = daemon.cli(
            "resource", "create", "--kit", "app", "--tag", tag, *app_props(tmp_path, tag)
        )
        assert r.returncode == 0, r.stderr
    assert daemon.cli("resource", "out-of-service", "db").returncode == 0
    before = events(daemon)
    assert {"create", "state", "out_of_service"} <= {e["kind"] for e in before}

    daemon.stop()
    daemon.start()
    after = events(daemon, "--limit", "1000")
    # Everything recorded before the restart is still there, in order, data included.
    assert after[: len(before)] == before
    # The in-memory timeline (the GUI's /v1/events) starts with the stored history too.
    memory = daemon.api("GET", "/v1/events")
    assert memory[: len(before)] == before

    creates = events(daemon, "--kind", "create")
    assert [e["tag"] for e in creates] == ["web", "db"]
    both = events(daemon, "--kind", "create", "--kind", "out_of_service")
    assert {e["kind"] for e in both} == {"create", "out_of_service"}
    assert {e["tag"] for e in events(daemon, "--tag", "db")} == {"db"}
    assert len(events(daemon, "--since", "1h")) == len(after)
    assert events(daemon, "--until", "1h") == []
    assert len(events(daemon, "--limit", "2")) == 2
    assert events(daemon, "--limit", "2") == after[-2:]
    first = str(before[0]["ts"])
    since_first = events(daemon, "--since", _iso(float(first)), "--limit", "1000")
    assert since_first[0]["ts"] >= before[0]["ts"] - 1

    human = daemon.cli("events", "--kind", "create")
    assert human.returncode == 0 and "web" in human.stdout and "create" in human.stdout

    for args, code in (
        (["--since", "yesterday"], "196001"),
        (["--until", "2026-13-40"], "196001"),
        (["--since", "1h", "--until", "2h"], "196002"),
        (["--limit", "0"], "196003"),
        (["--limit", "lots"], "196003"),
        (["--kind", "No Such"], "196004"),
    ):
        r = daemon.cli("events", *args)
        assert r.returncode != 0 and r.stderr.startswith(f"{code}:"), (args, r.stderr)
    # The API refuses the same, whoever asks.
    refused = daemon.api("GET", "/v1/events/history?since=10&until=5")
    assert refused["error"]["code"] == "196002"


def _iso(ts: float) -> str:
    from datetime import datetime

    return datetime.fromtimestamp(ts).isoformat(timespec="seconds")


def test_backup_carries_the_history_and_restore_keeps_it(daemon: Daemon, tmp_path: Path) -> None:
    r = daemon.cli(
        "resource", "create", "--kit", "app", "--tag", "keep", *app_props(tmp_path, "keep")
    )
    assert r.returncode == 0, r.stderr
    assert daemon.cli("resource", "out-of-service", "keep").returncode == 0
    archive = tmp_path / "backup.tgz"
    r = daemon.cli("config", "backup", str(archive))
    assert r.returncode == 0, r.stderr
    saved = parse_archive(archive.read_bytes(), str(archive)).config()
    assert "create" in [e["kind"] for e in saved["events"] if e["tag"] == "keep"]
    assert saved["events"] == events(daemon, "--limit", "1000000")

    # An event from elsewhere (a rebuilt server's old history) and a bad list.
    saved["events"].append(
        {
            "ts": time.time() - 2 * 86400 + 0.5,
            "kind": "failover",
            "tag": "keep",
            "detail": "old",
            "data": {"timeline": {"detected": 1.0}},
        }
    )
    # Restored as a format 1 backup (plain JSON), which restore still reads.
    backup = tmp_path / "backup.json"
    backup.write_text(json.dumps(saved))
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**saved, "events": [{"ts": "x", "kind": "state", "tag": "t"}]}))
    count = len(events(daemon, "--limit", "1000000"))
    r = daemon.cli("config", "restore", str(bad))
    assert r.returncode != 0 and r.stderr.startswith("196005:")
    assert len(events(daemon, "--limit", "1000000")) == count  # nothing changed

    r = daemon.cli("config", "restore", str(backup), "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["result"]["events_added"] == 1
    got = events(daemon, "--limit", "1000000", "--since", "3d")
    old = [e for e in got if e["detail"] == "old"]
    assert old == [saved["events"][-1]]  # the failover's timeline data, whole
    # Nothing was lost or doubled; the restore itself is recorded.
    kinds = [(e["ts"], e["kind"], e["tag"]) for e in got]
    assert len(kinds) == len(set(kinds))
    assert got[-1]["kind"] in ("config", "state")
    assert any(e["kind"] == "config" for e in got[-3:])
