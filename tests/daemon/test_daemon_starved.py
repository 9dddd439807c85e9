"""A daemon short of file descriptors must not fail a healthy resource (issue 11, item 8):
the check that cannot start its command is no verdict on the application (190420), and
checks work again once the daemon has descriptors."""

from __future__ import annotations

import os
import resource
import time
from pathlib import Path

import pytest

from tests.daemon.test_app_hierarchy import app_props
from tests.support.daemon import Daemon

pytestmark = [pytest.mark.daemon, pytest.mark.root]


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def test_a_check_the_daemon_cannot_start_does_not_fail_the_resource(
    daemon: Daemon, tmp_path: Path
) -> None:
    r = daemon.cli(
        "resource", "create", "--kit", "app", "--tag", "web", *app_props(tmp_path, "web")
    )
    assert r.returncode == 0, r.stderr
    assert daemon.proc is not None
    pid = daemon.proc.pid
    limits = resource.prlimit(pid, resource.RLIMIT_NOFILE)
    time.sleep(0.6)  # let a check finish: its pipes are closed again
    # The daemon may open nothing more: every check's spawn fails with EMFILE.
    resource.prlimit(pid, resource.RLIMIT_NOFILE, (open_fds(pid), limits[1]))
    try:
        time.sleep(3.0)  # six quick-check intervals
    finally:
        resource.prlimit(pid, resource.RLIMIT_NOFILE, limits)
    log = daemon.log_file.read_text()
    # The shortage was seen and said once (rate-limited), not taken for a failure.
    assert log.count("190420") == 1, log[-3000:]
    assert "190417" not in log
    assert daemon.states() == {"web": "ISP"}
    kinds = [e["kind"] for e in daemon.api("GET", "/v1/events")]
    assert "check_failed" not in kinds
    # Checks run again: a real failure is still found.
    (tmp_path / "web.up").unlink()
    daemon.wait_state("web", "OSF", timeout=10)
