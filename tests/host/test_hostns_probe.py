"""probe_mount_point and run() against healthy and really hung mounts."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import pytest

from standfast.host import children, commands, mountops, probe
from standfast.host.children import Child, python_argv
from standfast.host.commands import run
from standfast.host.probe import probe_mount_point
from tests.host.hostsupport import HungFuse, wait_until

pytestmark = pytest.mark.root

FUSE_GETATTR = 3


def test_probe_of_healthy_tmpfs_succeeds(tmp_path: Path) -> None:
    assert mountops.mount("ok", str(tmp_path), fstype="tmpfs", options=["size=1m"], timeout=10).ok
    result = probe_mount_point(str(tmp_path), syscall_timeout=5, overall_timeout=20)
    assert result.ok, result
    assert result.attempts == 1
    assert result.elapsed < 5


def test_probe_of_hung_mount_fails_after_tries_and_kills_children(tmp_path: Path) -> None:
    fs = HungFuse(str(tmp_path))  # requests stay unread: waiters remain killable
    t0 = time.monotonic()
    result = probe_mount_point(str(tmp_path), syscall_timeout=0.5, overall_timeout=15, tries=3)
    elapsed = time.monotonic() - t0
    assert not result.ok
    assert result.timed_out
    assert result.attempts == 3
    assert all(a.timed_out for a in result.history)
    assert "did not answer within" in result.detail
    assert 1.5 <= elapsed < 10
    assert probe.abandoned_pids() == []  # every child was killed and reaped
    fs.abort()


def test_probe_respects_overall_timeout(tmp_path: Path) -> None:
    fs = HungFuse(str(tmp_path))
    t0 = time.monotonic()
    result = probe_mount_point(str(tmp_path), syscall_timeout=1.0, overall_timeout=1.5, tries=3)
    elapsed = time.monotonic() - t0
    assert not result.ok and result.timed_out
    assert result.attempts == 2  # the second attempt only got what was left
    assert elapsed < 1.5 + 2 * probe.KILL_WAIT
    fs.abort()


def test_probe_child_in_uninterruptible_sleep_is_abandoned(tmp_path: Path) -> None:
    fs = HungFuse(str(tmp_path))
    taken: list[int] = []

    def server() -> None:  # read the GETATTR and never answer it: D state
        taken.append(fs.take_request(timeout=10)[0])

    thread = threading.Thread(target=server)
    thread.start()
    t0 = time.monotonic()
    result = probe_mount_point(str(tmp_path), syscall_timeout=1.0, overall_timeout=10, tries=1)
    elapsed = time.monotonic() - t0
    thread.join(timeout=10)
    assert taken == [FUSE_GETATTR]
    assert not result.ok and result.timed_out and result.attempts == 1
    assert "abandoned" in result.detail
    assert elapsed < 1.0 + 2 * probe.KILL_WAIT + 1.0
    stuck = probe.abandoned_pids()
    assert len(stuck) == 1
    fs.abort()  # the connection is gone: the stuck child can finish now
    wait_until(lambda: probe.reap_abandoned() == [], 10, "the abandoned child to be reaped")


def test_run_returns_when_child_is_in_uninterruptible_sleep(tmp_path: Path) -> None:
    fs = HungFuse(str(tmp_path))
    thread = threading.Thread(target=lambda: fs.take_request(timeout=10))
    thread.start()
    t0 = time.monotonic()
    result = run([sys.executable, "-c", f"import os; os.stat({str(tmp_path)!r})"], timeout=1.0)
    elapsed = time.monotonic() - t0
    thread.join(timeout=10)
    assert result.timed_out
    assert elapsed < 1.0 + 1.0 + 2.0 + 1.5  # timeout + TERM grace + bounded kill wait
    assert commands.abandoned_pids() != []
    fs.abort()  # the abandoned child can die now
    wait_until(lambda: commands.reap_abandoned() == [], 10, "the abandoned child to be reaped")


def test_child_in_uninterruptible_sleep_returns_in_time_and_any_owner_reaps_it(
    tmp_path: Path,
) -> None:
    fs = HungFuse(str(tmp_path))
    thread = threading.Thread(target=lambda: fs.take_request(timeout=10))
    thread.start()
    code = f"import os; print('ready', flush=True); os.stat({str(tmp_path)!r})"
    with Child(python_argv("-c", code), owner="host-test", kill_wait=0.5) as child:
        assert child.read_line(time.monotonic() + 10) == b"ready\n"
        thread.join(timeout=10)  # the GETATTR was taken and is never answered: D state
        assert not child.wait_exit(time.monotonic() + 0.5)
        t1 = time.monotonic()
        assert not child.kill() and child.abandoned
        assert time.monotonic() - t1 < 0.5 + 0.5  # kill_wait + a small margin
    assert children.abandoned_pids("host-test") == [child.pid]
    assert probe.abandoned_pids() == [] and commands.abandoned_pids() == []
    fs.abort()  # the stuck child can die now; a probe's own reaping collects it
    wait_until(
        lambda: probe.reap_abandoned() == [] and children.abandoned_pids("host-test") == [],
        10,
        "the abandoned child to be reaped by another owner",
    )
