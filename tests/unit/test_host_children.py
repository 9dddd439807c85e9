"""Child: deadlines, group kills, the abandoned-children registry (real processes, no root)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from standfast.host import children
from standfast.host.children import STDOUT, Child, python_argv, python_call_argv

PY = sys.executable
OWNER = "unit-test"
TERM_IGNORED = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"


def _wait_reaped(owner: str, seconds: float = 5.0) -> list[int]:
    deadline = time.monotonic() + seconds
    while (left := children.reap_abandoned(owner)) and time.monotonic() < deadline:
        time.sleep(0.02)
    return left


@pytest.fixture
def no_kill(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """SIGKILL to a group is dropped, as for a child in uninterruptible sleep (the real
    D state needs a hung FUSE mount: tests/host/test_hostns_probe.py)."""
    real = os.killpg
    groups: list[int] = []

    def killpg(pgid: int, sig: int) -> None:
        if sig == signal.SIGKILL:
            groups.append(pgid)
            return
        real(pgid, sig)

    monkeypatch.setattr(children.os, "killpg", killpg)
    yield groups
    monkeypatch.undo()
    for pgid in groups:  # the child "wakes up": now it dies
        with contextlib.suppress(ProcessLookupError):
            real(pgid, signal.SIGKILL)
    assert _wait_reaped(OWNER) == []


def test_a_child_past_its_deadline_is_killed_with_its_group() -> None:
    t0 = time.monotonic()
    with Child(["sleep", "30"], owner=OWNER) as child:
        assert not child.wait_exit(t0 + 0.3)
        assert child.kill()
        assert child.returncode == -signal.SIGKILL
    assert 0.3 <= time.monotonic() - t0 < 0.3 + 1.0
    assert children.abandoned_pids(OWNER) == []


def test_a_child_that_ignores_sigterm_is_killed() -> None:
    t0 = time.monotonic()
    with Child([PY, "-c", TERM_IGNORED], owner=OWNER) as child:
        time.sleep(0.3)  # let it install its handler
        assert not child.terminate(0.3)
        assert not child.exited and child.returncode is None
        assert child.kill()
        assert child.returncode == -signal.SIGKILL
    assert time.monotonic() - t0 < 0.6 + 1.0


def test_leaving_the_block_kills_a_running_child() -> None:
    with pytest.raises(RuntimeError), Child(["sleep", "30"], owner=OWNER) as child:
        pid = child.pid
        raise RuntimeError("caller failed")
    assert child.returncode == -signal.SIGKILL  # killed and reaped
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_lines_input_and_merged_stderr() -> None:
    code = (
        "import sys, time\n"
        "print(sys.stdin.read().upper(), flush=True)\n"
        "print('to stderr', file=sys.stderr, flush=True)\n"
        "sys.stdout.write('no newline yet'); sys.stdout.flush(); time.sleep(30)\n"
    )
    with Child([PY, "-c", code], owner=OWNER, input=b"abc", stderr=STDOUT) as child:
        now = time.monotonic()
        assert child.read_line(now + 10) == b"ABC\n"
        assert child.read_line(now + 10) == b"to stderr\n"
        t0 = time.monotonic()
        assert child.read_line(t0 + 0.3) is None  # a partial line is not a line
        assert 0.3 <= time.monotonic() - t0 < 1.0
        assert child.kill()
        assert child.read_line(time.monotonic() + 5) == b"no newline yet"  # end of file
        assert child.read_line(time.monotonic() + 5) == b""


def test_read_to_eof_stops_at_the_cap() -> None:
    code = "import sys; sys.stdout.write('x' * 100000); sys.stdout.flush()"
    with Child([PY, "-c", code], owner=OWNER, output_cap=1000) as child:
        assert not child.read_to_eof(time.monotonic() + 10)
        assert child.stdout.truncated and len(child.stdout.data) == 1000
    with Child([PY, "-c", "print('short')"], owner=OWNER) as child:
        assert child.read_to_eof(time.monotonic() + 10)
        assert child.reap() and child.returncode == 0
        assert child.stdout.text() == "short\n"


def test_missing_program_raises_oserror() -> None:
    with pytest.raises(FileNotFoundError):
        Child(["/nonexistent/standfast-no-such-program"], owner=OWNER)


def test_a_child_that_survives_sigkill_is_abandoned_in_bounded_time(
    no_kill: list[int],
) -> None:
    t0 = time.monotonic()
    with Child([PY, "-c", TERM_IGNORED], owner=OWNER, kill_wait=0.3) as child:
        assert not child.wait_exit(t0 + 0.2)
        assert not child.kill()
        assert child.abandoned and child.returncode is None
    elapsed = time.monotonic() - t0
    assert 0.5 <= elapsed < 0.5 + 0.5, elapsed  # deadline + kill_wait + a small margin
    assert children.abandoned_pids(OWNER) == [child.pid]
    assert children.reap_abandoned(OWNER) == [child.pid]  # still alive: kept
    assert children.abandoned_pids("someone-else") == []  # each owner sees its own
    assert child.pid in children.abandoned_pids()  # and everyone's view has it
    assert set(no_kill) == {child.pid}  # SIGKILL went to the group (twice: kill, reap)
    # The fixture lets the SIGKILL through afterwards and waits for the reaping.


def test_any_owner_reaps_every_dead_abandoned_child(no_kill: list[int]) -> None:
    with Child(["sleep", "30"], owner=OWNER, kill_wait=0.1) as child:
        assert not child.kill()
    os.kill(child.pid, signal.SIGKILL)  # it "wakes up" and dies (os.killpg is patched)
    deadline = time.monotonic() + 5
    while child.pid in children.abandoned_pids() and time.monotonic() < deadline:
        assert children.reap_abandoned("another-owner") == []
        time.sleep(0.02)
    assert children.abandoned_pids(OWNER) == []


def test_python_argv_is_isolated() -> None:
    code = "import sys; print(sys.flags.isolated, sys.flags.no_site)"
    out = subprocess.run(python_argv("-c", code), capture_output=True, timeout=30, check=True)
    assert out.stdout == b"1 1\n"


def test_python_call_runs_a_function_that_needs_only_the_standard_library() -> None:
    request = json.dumps({"op": "nothing", "path": "/x", "server": "s1", "ttl": 1})
    argv = python_call_argv("standfast.cluster.lease_io", "main", request)
    with Child(argv, owner=OWNER, cwd="/") as child:
        assert child.read_to_eof(time.monotonic() + 30)
        assert child.reap() and child.returncode == 0
    assert json.loads(child.stdout.data) == {
        "ok": False,
        "error": "unknown operation 'nothing'",
        "errno": 0,
    }
    # What the lease child imports: the standard library and Standfast, nothing else.
    code = (
        f"import sys; sys.path.append({children._SOURCE_ROOT!r})\n"
        "import standfast.cluster.lease_io\n"
        "print(sorted({m.split('.')[0] for m in sys.modules}"
        " - set(sys.stdlib_module_names) - {'standfast', '__main__'}))\n"
    )
    out = subprocess.run(python_argv("-c", code), capture_output=True, timeout=30, check=True)
    assert out.stdout == b"[]\n"


def test_run_returns_in_bounded_time_when_the_command_survives_sigkill(
    no_kill: list[int],
) -> None:
    from standfast.host import commands

    t0 = time.monotonic()
    result = commands.run([PY, "-c", TERM_IGNORED], timeout=0.5)
    elapsed = time.monotonic() - t0
    assert result.timed_out and result.returncode == -signal.SIGKILL
    assert elapsed < 0.5 + commands.TERM_GRACE + commands.KILL_WAIT + 0.5, elapsed
    assert commands.abandoned_pids() != [] and set(no_kill) == set(commands.abandoned_pids())
    os.kill(commands.abandoned_pids()[0], signal.SIGKILL)
    assert _wait_reaped(commands.OWNER) == []
