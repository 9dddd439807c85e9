"""Debian's logrotate rotates a real daemon's log with the shipped logrotate file and
the daemon keeps writing to the new file: at once on SIGHUP (what the postrotate's
``systemctl reload`` sends), else at its next line. Every line is in the guide's format.

(tests/package runs the installed file against the installed daemon as root; this runs
the same stanza against a daemon from the source tree, and checks the line format.)"""

from __future__ import annotations

import gzip
import re
import subprocess
import time
from pathlib import Path

import pytest

from tests.daemon.test_app_hierarchy import app_props
from tests.support.daemon import Daemon

pytestmark = pytest.mark.daemon

SHIPPED = Path(__file__).resolve().parents[2] / "packaging" / "logrotate" / "standfast"
LINE = re.compile(r"\d\d/\d\d/\d{4} \d\d:\d\d:\d\d (\d{6}: |[a-z_-]+: (BEGIN|END) |\S)")


def rotation_config(daemon: Daemon, postrotate: str) -> str:
    """The shipped stanza for this daemon's log, with ``postrotate`` as its command."""
    text = SHIPPED.read_text()
    assert "/var/log/standfast/*.log {" in text
    assert "systemctl reload standfast.service" in text
    text = text.replace("/var/log/standfast/*.log", f"{daemon.log_file.parent}/*.log")
    return re.sub(r"systemctl reload standfast\.service[^\n]*", postrotate, text)


def rotate(daemon: Daemon, tmp_path: Path, postrotate: str) -> None:
    conf = tmp_path / "logrotate.conf"
    conf.write_text(rotation_config(daemon, postrotate))
    state = tmp_path / "logrotate.state"
    r = subprocess.run(
        ["/usr/sbin/logrotate", "-f", "-s", str(state), str(conf)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert r.returncode == 0, r.stderr


def wait_for(path: Path, text: str, timeout: float = 10.0) -> str:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if path.exists() and text in (content := path.read_text()):
            return content
        time.sleep(0.05)
    raise AssertionError(f"{text!r} not in {path} within {timeout} s")


def create(daemon: Daemon, tmp_path: Path, tag: str) -> None:
    r = daemon.cli("resource", "create", "--kit", "app", "--tag", tag, *app_props(tmp_path, tag))
    assert r.returncode == 0, r.stderr


def test_logrotate_rotates_and_the_daemon_writes_to_the_new_file(
    daemon: Daemon, tmp_path: Path
) -> None:
    assert daemon.proc is not None
    log = daemon.log_file
    create(daemon, tmp_path, "first")
    before = wait_for(log, 'create: END successful creation of "first" on server "server1"')

    rotate(daemon, tmp_path, f"/bin/kill -HUP {daemon.proc.pid}")
    fresh = wait_for(log, "196101: Log file")
    assert fresh.startswith(tuple("0123456789")) and "190208: " not in fresh
    old = Path(f"{log}.1").read_text()
    assert old.startswith(before[:100]) and "196101" not in old
    create(daemon, tmp_path, "second")
    wait_for(log, 'create: BEGIN creation of "second" on server "server1"')
    assert '"second"' not in Path(f"{log}.1").read_text()

    # Without a signal (a postrotate that does nothing): the daemon notices the rename
    # at its next line. The previous .1 is compressed now (delaycompress).
    rotate(daemon, tmp_path, "true")
    create(daemon, tmp_path, "third")
    wait_for(log, 'create: BEGIN creation of "third" on server "server1"')
    second = Path(f"{log}.1").read_text()
    assert second.startswith(fresh[:60]) and '"second"' in second and '"third"' not in second
    assert '"first"' in gzip.decompress(Path(f"{log}.2.gz").read_bytes()).decode()
    assert daemon.proc.poll() is None

    lines = [
        line
        for path in (log, Path(f"{log}.1"))
        for line in path.read_text().splitlines()
        if line.strip()
    ]
    # Every line: the guide's time stamp, then a code or a transcript line; no level,
    # no logger name wedged in.
    bad = [line for line in lines if not LINE.match(line)]
    assert bad == []
    assert not any(" standfast." in line or " INFO " in line for line in lines)
