"""The daemon's real-time claim (SF_REALTIME_PRIORITY, issue 12): its event-loop thread
(heartbeats, control loop, API) runs SCHED_RR with the memory locked as used; its worker
threads and the commands it starts run in the normal class; priority 0 claims nothing;
a bad value is refused with its message."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from standfast.daemon.realtime import current_policy
from tests.support.daemon import Daemon

pytestmark = [pytest.mark.daemon, pytest.mark.root]

#: A restore command that records the scheduling class it was started in.
RECORD = "import os, sys; open(sys.argv[1], 'w').write(str(os.sched_getscheduler(0)))"


def threads(pid: int) -> list[int]:
    return [int(t) for t in os.listdir(f"/proc/{pid}/task")]


def locked_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmLck:"):
            return int(line.split()[1])
    raise AssertionError("no VmLck in /proc/PID/status")


def record_props(tmp_path: Path) -> list[str]:
    seen = tmp_path / "policy"
    return [
        "--prop", f"restore={sys.executable} -c \"{RECORD}\" {seen}",
        "--prop", "remove=/bin/true",
    ]  # fmt: skip


def test_daemon_real_time_its_commands_normal(tmp_path: Path) -> None:
    d = Daemon(tmp_path / "sf").start()
    try:
        assert d.proc is not None
        pid = d.proc.pid
        assert current_policy(pid) == (os.SCHED_RR, 10)  # the event loop's thread
        workers = {tid: current_policy(tid) for tid in threads(pid) if tid != pid}
        assert set(workers.values()) <= {(os.SCHED_OTHER, 0)}, workers
        assert locked_kb(pid) > 0
        log = d.log_file.read_text()
        assert "190504" in log and "190505" not in log, log[-2000:]
        r = d.cli("resource", "create", "--kit", "app", "--tag", "rec", *record_props(tmp_path))
        assert r.returncode == 0, r.stderr
        assert (tmp_path / "policy").read_text() == str(os.SCHED_OTHER)
        # Worker threads started since (the kit action's) are of the normal class too.
        later = {t: current_policy(t) for t in threads(pid) if t != pid}
        assert later and set(later.values()) == {(os.SCHED_OTHER, 0)}, later
        assert current_policy(pid) == (os.SCHED_RR, 10)
    finally:
        d.stop()


def test_priority_zero_claims_nothing_and_a_bad_value_is_refused(tmp_path: Path) -> None:
    d = Daemon(tmp_path / "off", defaults="SF_REALTIME_PRIORITY=0\n").start()
    try:
        assert d.proc is not None
        assert current_policy(d.proc.pid) == (os.SCHED_OTHER, 0)
        assert locked_kb(d.proc.pid) == 0
        assert "190504" not in d.log_file.read_text()
    finally:
        d.stop()
    d = Daemon(tmp_path / "bad", defaults="SF_REALTIME_PRIORITY=100\n").start()
    try:
        assert d.proc is not None
        log = d.log_file.read_text()
        assert "190302" in log and "SF_REALTIME_PRIORITY" in log, log[-2000:]
        assert current_policy(d.proc.pid) == (os.SCHED_RR, 10)  # the default, kept
    finally:
        d.stop()
