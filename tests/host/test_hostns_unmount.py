"""Users of a mount and unmount escalation, with real processes and tmpfs mounts."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from standfast.host import mountops
from standfast.host.mounts import find_mount, is_mounted, read_mountinfo
from standfast.host.unmount import KillPolicy, unmount_without_hanging
from standfast.host.users import processes_using
from tests.host.hostsupport import HungFuse, wait_until

pytestmark = pytest.mark.root

IGNORE_TERM = (
    "import signal, sys, time\n"
    "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "print('ready', flush=True)\n"
    "time.sleep(60)\n"
)
HOLD_FILE = (
    "import sys, time\nf = open(sys.argv[1], 'w')\nprint(f.fileno(), flush=True)\ntime.sleep(60)\n"
)


def _tmpfs(path: Path) -> str:
    path.mkdir(parents=True, exist_ok=True)
    assert mountops.mount("sftest", str(path), fstype="tmpfs", options=["size=1m"], timeout=10).ok
    return str(path)


@contextmanager
def _started(argv: list[str], cwd: str) -> Iterator[subprocess.Popen[str]]:
    """A process we started, always stopped and reaped by pid at the end."""
    proc = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.PIPE, text=True)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


def _mount(mp: str):  # type: ignore[no-untyped-def]
    entry = find_mount(mp, read_mountinfo())
    assert entry is not None
    return entry


def test_users_found_by_cwd_and_open_file(tmp_path: Path) -> None:
    mp = _tmpfs(tmp_path / "m")
    other = _tmpfs(tmp_path / "other")
    with (
        _started(["sleep", "60"], cwd=mp) as by_cwd,
        _started([sys.executable, "-c", HOLD_FILE, f"{mp}/held"], cwd="/") as by_fd,
        _started(["sleep", "60"], cwd=other) as elsewhere,
    ):
        assert by_fd.stdout is not None
        fd = int(by_fd.stdout.readline())
        users = {u.pid: u for u in processes_using(_mount(mp))}
        assert users[by_cwd.pid].uses == ("cwd",)
        assert users[by_cwd.pid].comm == "sleep"
        assert f"fd {fd}" in users[by_fd.pid].uses
        assert elsewhere.pid not in users
        assert os.getpid() not in users
        assert [u.pid for u in processes_using(_mount(other))] == [elsewhere.pid]
        assert by_cwd.pid not in {u.pid for u in processes_using(_mount(mp), exclude={by_cwd.pid})}


def test_process_in_another_mount_namespace_is_ignored(tmp_path: Path) -> None:
    mp = _tmpfs(tmp_path / "m")
    # Its own namespace holds a copy of the mount; ours is not kept busy by it.
    with _started(["unshare", "--mount", "--propagation", "private", "sleep", "60"], cwd=mp) as p:
        wait_until(
            lambda: os.readlink(f"/proc/{p.pid}/exe").endswith("sleep"), 10, "unshare to exec"
        )
        assert p.pid not in {u.pid for u in processes_using(_mount(mp))}
        report = unmount_without_hanging(mp, policy=KillPolicy(), timeout=20)
        assert report.ok and report.method == "plain"
        assert p.poll() is None  # untouched


def test_busy_mount_users_get_sigterm_then_unmount(tmp_path: Path) -> None:
    mp = _tmpfs(tmp_path / "busy")
    with _started(["sleep", "60"], cwd=mp) as p:
        report = unmount_without_hanging(mp, policy=KillPolicy(term_wait=5), timeout=30)
        assert report.ok, report
        assert report.method == "after-kill"
        assert [(s.pid, s.comm, s.signal) for s in report.signalled] == [
            (p.pid, "sleep", "SIGTERM")
        ]
        actions = [s.action for s in report.steps]
        assert actions[:2] == ["umount", "find-users"]
        assert not report.steps[0].ok
        assert "busy" in report.steps[0].detail
        assert str(p.pid) in report.steps[1].detail
        assert p.wait(timeout=5) == -signal.SIGTERM
        assert not is_mounted(mp)


def test_process_ignoring_sigterm_gets_sigkill(tmp_path: Path) -> None:
    mp = _tmpfs(tmp_path / "stubborn")
    with _started([sys.executable, "-c", IGNORE_TERM], cwd=mp) as p:
        assert p.stdout is not None and p.stdout.readline() == "ready\n"
        t0 = time.monotonic()
        report = unmount_without_hanging(mp, policy=KillPolicy(term_wait=0.5), timeout=30)
        assert report.ok and report.method == "after-kill", report
        assert [(s.pid, s.signal) for s in report.signalled] == [
            (p.pid, "SIGTERM"),
            (p.pid, "SIGKILL"),
        ]
        assert p.wait(timeout=5) == -signal.SIGKILL
        assert time.monotonic() - t0 < 10
        assert report.survivors == ()


def test_no_kill_policy_leaves_survivor_and_goes_lazy(tmp_path: Path) -> None:
    mp = _tmpfs(tmp_path / "nokill")
    with _started([sys.executable, "-c", IGNORE_TERM], cwd=mp) as p:
        assert p.stdout is not None and p.stdout.readline() == "ready\n"
        report = unmount_without_hanging(
            mp, policy=KillPolicy(term_wait=0.3, kill=False), timeout=30
        )
        assert report.ok and report.method == "lazy", report
        assert [s.signal for s in report.signalled] == ["SIGTERM"]
        assert report.survivors == (p.pid,)
        assert p.poll() is None


def test_signal_users_false_uses_force_then_lazy(tmp_path: Path) -> None:
    mp = _tmpfs(tmp_path / "lazy")
    with _started(["sleep", "60"], cwd=mp) as p:
        report = unmount_without_hanging(mp, policy=KillPolicy(signal_users=False), timeout=30)
        assert report.ok and report.method == "lazy", report
        assert [s.action for s in report.steps] == [
            "umount",
            "umount -f",
            "umount -f",
            "umount -l",
        ]
        assert report.signalled == ()
        assert p.poll() is None  # still running, its cwd detached from the tree
        assert not is_mounted(mp)


def test_not_mounted_is_success(tmp_path: Path) -> None:
    report = unmount_without_hanging(str(tmp_path), policy=KillPolicy(), timeout=10)
    assert report.ok and report.method == "not-mounted" and report.steps == ()


def test_plain_unmount_when_idle(tmp_path: Path) -> None:
    mp = _tmpfs(tmp_path / "idle")
    report = unmount_without_hanging(mp, policy=KillPolicy(), timeout=10)
    assert report.ok and report.method == "plain"
    assert report.mount is not None and report.mount.fstype == "tmpfs"


def test_hung_fuse_mount_is_unmounted_without_hanging(tmp_path: Path) -> None:
    """A file system whose server stopped answering (like a hung NAS)."""
    mp = tmp_path / "hung"
    mp.mkdir()
    fs = HungFuse(str(mp))
    # A process blocked in the hung file system (stat never returns).
    code = f"import os; os.stat({str(mp / 'x')!r})"
    with _started([sys.executable, "-c", code], cwd="/") as p:
        wait_until(
            lambda: fs.take_request(timeout=5)[0] != 0, 10, "the LOOKUP request"
        )  # read and never answer: the process is now in uninterruptible sleep
        t0 = time.monotonic()
        users = processes_using(_mount(str(mp)))  # must not hang either
        assert p.pid not in {u.pid for u in users}  # it has no file open there
        report = unmount_without_hanging(str(mp), policy=KillPolicy(term_wait=0.5), timeout=20)
        elapsed = time.monotonic() - t0
        assert report.ok, report
        assert report.method == "force", report  # FUSE aborts the connection on -f
        assert elapsed < 25
        # umount -f aborted the connection: the blocked stat failed and it exited.
        assert p.wait(timeout=10) != 0
    fs.abort()
