"""run(): deadlines, process groups, missing executables (no root needed)."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

from standfast.host import commands
from standfast.host.commands import run

PY = sys.executable


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def test_output_exit_code_env_cwd_input(tmp_path: Path) -> None:
    code = (
        "import os, sys; data = sys.stdin.read(); "
        "print(os.environ['SF_X'], os.getcwd(), data); "
        "print('err', file=sys.stderr); sys.exit(3)"
    )
    res = run([PY, "-c", code], timeout=10, env={"SF_X": "v"}, input=b"in put", cwd=str(tmp_path))
    assert res.returncode == 3 and not res.ok and not res.timed_out
    assert res.stdout == f"v {tmp_path} in put\n"
    assert res.stderr == "err\n"
    assert res.argv == (PY, "-c", code)
    assert res.summary() == "exit 3: err"


def test_success_and_no_stdin() -> None:
    res = run([PY, "-c", "import sys; print(repr(sys.stdin.read()))"], timeout=10)
    assert res.ok and res.stdout == "''\n"


def test_missing_executable_is_127() -> None:
    res = run(["/nonexistent/standfast-no-such-binary", "x"], timeout=5)
    assert res.returncode == 127 and not res.timed_out
    assert "not found" in res.stderr and "standfast-no-such-binary" in res.stderr
    assert run(["standfast-no-such-binary-on-path"], timeout=5).returncode == 127
    assert run([], timeout=5).returncode == 127


def test_not_executable_is_126(tmp_path: Path) -> None:
    script = tmp_path / "script"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o644)
    assert run([str(script)], timeout=5).returncode == 126


def test_timeout_kills_the_whole_group_including_a_term_ignoring_grandchild(
    tmp_path: Path,
) -> None:
    pidfile = tmp_path / "grandchild.pid"
    grandchild = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"
    )
    parent = (
        "import subprocess, sys, time\n"
        f"p = subprocess.Popen([{PY!r}, '-c', {grandchild!r}])\n"
        f"open({str(pidfile)!r}, 'w').write(str(p.pid))\n"
        "print('started', flush=True)\n"
        "time.sleep(60)\n"
    )
    t0 = time.monotonic()
    res = run([PY, "-c", parent], timeout=1.5)
    elapsed = time.monotonic() - t0
    assert res.timed_out and not res.ok
    assert res.stdout == "started\n"  # output before the kill is kept
    assert elapsed < 1.5 + commands.TERM_GRACE + commands.KILL_WAIT + 1.0
    gpid = int(pidfile.read_text())
    # Reparented to init (or a subreaper), it may linger as a zombie briefly.
    deadline = time.monotonic() + 5
    while _alive(gpid) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not _alive(gpid)


def test_term_is_enough_for_a_well_behaved_child() -> None:
    t0 = time.monotonic()
    res = run(["sleep", "30"], timeout=0.5)
    assert res.timed_out and res.returncode == -signal.SIGTERM
    assert time.monotonic() - t0 < 0.5 + commands.TERM_GRACE


def test_grandchild_holding_the_pipes_does_not_block(tmp_path: Path) -> None:
    pidfile = tmp_path / "bg.pid"
    code = (
        "import subprocess, sys\n"
        "p = subprocess.Popen(['sleep', '30'])\n"  # inherits stdout/stderr
        f"open({str(pidfile)!r}, 'w').write(str(p.pid))\n"
        "print('done')\n"
    )
    t0 = time.monotonic()
    res = run([PY, "-c", code], timeout=20)
    assert res.ok and res.stdout == "done\n"
    assert time.monotonic() - t0 < 5
    os.kill(int(pidfile.read_text()), signal.SIGKILL)


def test_output_is_capped_and_undecodable_bytes_replaced() -> None:
    code = (
        "import sys; sys.stdout.buffer.write(b'\\xff' + b'x' * (2 * 1024 * 1024)); "
        "sys.stderr.write('e')"
    )
    res = run([PY, "-c", code], timeout=20)
    assert res.ok
    assert res.stdout_truncated and not res.stderr_truncated
    assert len(res.stdout) == commands.OUTPUT_CAP
    assert res.stdout.startswith("\ufffdxxx")
    assert res.stderr == "e"


def test_large_input_is_fed_without_deadlock() -> None:
    data = b"y" * (4 * 1024 * 1024)
    res = run([PY, "-c", "import sys; print(len(sys.stdin.buffer.read()))"], timeout=20, input=data)
    assert res.ok and res.stdout == f"{len(data)}\n"
