"""``standfast lab --backend netns`` driven through its CLI as a user would: a power cut
kills everything of a server at once (its daemon and the applications it started), a
daemon that died any other way is seen as gone (crash says so, restart starts exactly
one), and ``lab down`` leaves no application running."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from standfast.lab import power

pytestmark = [pytest.mark.root, pytest.mark.daemon]

#: The application: a sleep started in the background; its pid in a file per server.
APP = """#!/bin/sh
pidfile="{dir}/$STANDFAST_SERVER.$2.pid"
case "$1" in
  start) /bin/sleep 600 </dev/null >/dev/null 2>&1 & echo $! > "$pidfile" ;;
  stop) [ -f "$pidfile" ] && kill "$(cat "$pidfile")"; rm -f "$pidfile" ;;
  check) [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" ;;
esac
"""


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


class Lab:
    def __init__(self, lab_dir: Path, app_dir: Path) -> None:
        self.lab_dir = lab_dir
        self.app_dir = app_dir
        self.script = app_dir / "app.sh"
        self.script.write_text(APP.format(dir=app_dir))
        self.script.chmod(0o755)

    def run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "standfast", "lab", "--lab-dir", str(self.lab_dir), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def ok(self, *args: str, timeout: float = 120) -> str:
        r = self.run(*args, timeout=timeout)
        assert r.returncode == 0, f"lab {' '.join(args)}: {r.stdout}\n{r.stderr}"
        return r.stdout

    def status(self) -> dict[str, dict[str, object]]:
        servers: dict[str, dict[str, object]] = json.loads(self.ok("status", "--json"))["servers"]
        return servers

    def daemon_pid(self, server: str) -> int | None:
        pid = self.status()[server]["daemon_pid"]
        return None if pid is None else int(str(pid))

    def create_app(self, server: str, tag: str) -> int:
        props = [f"{a}={self.script} {verb} {tag}" for a, verb in APP_ACTIONS]
        args = [f"--prop={p}" for p in props]
        create = ["standfast", "resource", "create", "--kit", "app", "--tag", tag, *args]
        self.ok("exec", server, "--", *create)
        pidfile = self.app_dir / f"{server}.{tag}.pid"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if pidfile.exists() and pidfile.read_text().strip():
                return int(pidfile.read_text())
            time.sleep(0.2)
        raise AssertionError(f"{tag} did not start on {server}")

    def daemons_in(self, server: str) -> list[int]:
        ns = str(self.status()[server]["ns"])
        out = []
        for pid in power.netns_members(ns):
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"daemon" in cmd and b"standfast" in cmd and alive(pid):
                out.append(pid)
        return out


APP_ACTIONS = (("restore", "start"), ("remove", "stop"), ("quick_check", "check"))


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    if os.geteuid() != 0:
        pytest.fail("the netns lab needs root (namespaces, veths, cgroups)")
    base = tmp_path_factory.mktemp("netns-lab")
    lab = Lab(base / "lab", base)
    lab.ok("up", "--backend", "netns", "--servers", "2", timeout=180)
    try:
        yield lab
    finally:
        lab.run("down")


def test_crash_kills_the_daemon_and_its_applications_at_once(lab: Lab) -> None:
    app = lab.create_app("server1", "web")
    daemon = lab.daemon_pid("server1")
    assert daemon is not None and alive(daemon) and alive(app)
    group = lab.status()["server1"].get("cgroup")
    if power.cgroup2_mount() is not None:
        assert group, "a cgroup v2 mount is writable: each server has its own group"
        assert app in power.members(Path(str(group)))
    lab.ok("crash", "server1")
    assert not alive(daemon), "the daemon outlived the power cut"
    assert not alive(app), "an application outlived its server's power cut"
    r = lab.run("crash", "server1")
    assert r.returncode == 1 and "190904" in r.stderr


def test_a_daemon_dead_another_way_is_seen_and_restart_starts_one(lab: Lab) -> None:
    lab.ok("restart", "server1")
    first = lab.daemon_pid("server1")
    assert first is not None and lab.daemons_in("server1") == [first]
    os.kill(first, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while alive(first) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert lab.status()["server1"]["daemon_running"] is False
    lab.ok("restart", "server1")
    second = lab.daemon_pid("server1")
    assert second is not None and second != first
    assert lab.daemons_in("server1") == [second]
    # A crash now finds the new daemon (not the dead record before it).
    lab.ok("crash", "server1")
    assert not alive(second)
    lab.ok("restart", "server1")


def test_down_leaves_no_application_running(lab: Lab) -> None:
    app = lab.create_app("server2", "db")
    assert alive(app)
    lab.ok("down")
    assert not alive(app), "an application outlived lab down"
    r = lab.run("status", "--json")
    assert r.returncode == 0
