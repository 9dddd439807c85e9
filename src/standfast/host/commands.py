"""Run an external command with a hard deadline.

The child runs in its own session (so in its own process group). On timeout the
whole group gets SIGTERM, then SIGKILL after a short grace. Nothing here waits
without a bound: a child stuck in uninterruptible sleep (D state) is abandoned
after SIGKILL plus a bounded wait, and the result says ``timed_out``.

No shell is ever involved: ``argv`` is passed to ``execve`` as is.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

#: Largest amount of each output stream kept (the rest is read and discarded).
OUTPUT_CAP = 256 * 1024
#: Time between SIGTERM and SIGKILL of the process group on timeout.
TERM_GRACE = 1.0
#: Bound on the wait for the child after SIGKILL (a D-state child may not die).
KILL_WAIT = 2.0
#: After the child exits, time allowed to read what is left in its pipes (a
#: grandchild may hold them open forever).
DRAIN_WAIT = 0.5

_READ_SIZE = 65536

_abandoned: list[subprocess.Popen[bytes]] = []


def reap_abandoned() -> list[int]:
    """Reap abandoned children (they survived SIGKILL); return pids still alive."""
    _abandoned[:] = [p for p in _abandoned if p.poll() is None]
    return [p.pid for p in _abandoned]


def abandoned_pids() -> list[int]:
    return [p.pid for p in _abandoned]


@dataclass(frozen=True)
class CommandResult:
    """What happened to one command."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    timed_out: bool
    duration: float
    stdout_truncated: bool = False
    stderr_truncated: bool = False

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    def summary(self) -> str:
        """One line for logs: the exit status and the first line of stderr."""
        if self.timed_out:
            status = f"timed out after {self.duration:.1f}s"
        else:
            status = f"exit {self.returncode}"
        first = self.stderr.strip().splitlines()[0] if self.stderr.strip() else ""
        return f"{status}: {first}" if first else status


class _Stream:
    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.size = 0
        self.truncated = False

    def add(self, data: bytes) -> None:
        room = OUTPUT_CAP - self.size
        if room <= 0:
            self.truncated = True
            return
        if len(data) > room:
            data = data[:room]
            self.truncated = True
        self.chunks.append(data)
        self.size += len(data)

    def text(self) -> str:
        return b"".join(self.chunks).decode("utf-8", errors="replace")


def _spawn_failure(argv: tuple[str, ...], exc: OSError, started: float) -> CommandResult:
    code = 127 if isinstance(exc, FileNotFoundError) else 126
    what = "command not found" if code == 127 else "cannot execute"
    name = argv[0] if argv else "<empty argv>"
    return CommandResult(
        argv=argv,
        returncode=code,
        stdout="",
        stderr=f"{name}: {what}: {exc.strerror or exc}",
        timed_out=False,
        duration=time.monotonic() - started,
    )


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def run(
    argv: Sequence[str],
    *,
    timeout: float,
    env: Mapping[str, str] | None = None,
    input: bytes | None = None,
    cwd: str | None = None,
) -> CommandResult:
    """Run ``argv`` and return its result; never raises for a failing command.

    ``timeout`` bounds the command; the call itself returns at the latest after
    ``timeout + TERM_GRACE + KILL_WAIT`` (plus a little scheduling slack).
    A missing executable gives returncode 127, one that cannot be executed 126.
    """
    args = tuple(argv)
    started = time.monotonic()
    reap_abandoned()
    if not args:
        return _spawn_failure(args, FileNotFoundError(2, "empty argv"), started)
    if timeout <= 0:
        raise ValueError("timeout must be positive")
    try:
        proc = subprocess.Popen(
            args,
            stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            start_new_session=True,
            close_fds=True,
        )
    except OSError as exc:
        return _spawn_failure(args, exc, started)

    deadline = started + timeout
    out, err = _Stream(), _Stream()
    timed_out = False
    try:
        pidfd = os.pidfd_open(proc.pid)
    except OSError:  # pragma: no cover - kernels older than 5.3
        pidfd = -1
    sel = selectors.DefaultSelector()
    try:
        assert proc.stdout is not None and proc.stderr is not None
        streams = {proc.stdout.fileno(): out, proc.stderr.fileno(): err}
        for fd in streams:
            os.set_blocking(fd, False)
            sel.register(fd, selectors.EVENT_READ)
        if pidfd >= 0:
            sel.register(pidfd, selectors.EVENT_READ)
        pending_input = memoryview(input) if input is not None else memoryview(b"")
        stdin_fd = -1
        if proc.stdin is not None:
            if len(pending_input) > 0:
                stdin_fd = proc.stdin.fileno()
                os.set_blocking(stdin_fd, False)
                sel.register(stdin_fd, selectors.EVENT_WRITE)
            else:
                proc.stdin.close()
        exited = False
        drain_deadline: float | None = None
        term_sent_at: float | None = None
        while True:
            now = time.monotonic()
            if not exited and pidfd < 0 and proc.poll() is not None:
                exited = True
            if exited and drain_deadline is None:
                drain_deadline = now + DRAIN_WAIT
            if exited and (not streams or (drain_deadline is not None and now >= drain_deadline)):
                break
            if not exited and now >= deadline and term_sent_at is None:
                timed_out = True
                _signal_group(proc.pid, signal.SIGTERM)
                term_sent_at = now
            if term_sent_at is not None and not exited and now >= term_sent_at + TERM_GRACE:
                break
            limits = [deadline if term_sent_at is None else term_sent_at + TERM_GRACE]
            if drain_deadline is not None:
                limits = [drain_deadline]
            wait = max(0.0, min(limits) - now)
            if pidfd < 0:
                wait = min(wait, 0.05)
            for key, _ in sel.select(wait):
                fd = int(key.fd)
                if fd == pidfd:
                    exited = True
                    sel.unregister(pidfd)
                elif fd == stdin_fd:
                    try:
                        n = os.write(fd, pending_input[:_READ_SIZE])
                        pending_input = pending_input[n:]
                    except BlockingIOError:
                        continue
                    except OSError:  # child closed its stdin
                        pending_input = pending_input[:0]
                    if len(pending_input) == 0:
                        sel.unregister(fd)
                        stdin_fd = -1
                        if proc.stdin is not None:
                            proc.stdin.close()
                else:
                    try:
                        data = os.read(fd, _READ_SIZE)
                    except BlockingIOError:
                        continue
                    if data:
                        streams[fd].add(data)
                    else:
                        sel.unregister(fd)
                        del streams[fd]
        if timed_out:
            # SIGKILL the whole group even if the leader already exited: the
            # leader is not reaped yet, so its pid still names the group.
            _signal_group(proc.pid, signal.SIGKILL)
    finally:
        sel.close()
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        if pidfd >= 0:
            os.close(pidfd)
    try:
        returncode = proc.wait(timeout=KILL_WAIT if timed_out else max(KILL_WAIT, 0.1))
    except subprocess.TimeoutExpired:
        # Still alive after SIGKILL (uninterruptible sleep): abandon it; a later
        # run() or reap_abandoned() reaps it once it dies.
        _signal_group(proc.pid, signal.SIGKILL)
        _abandoned.append(proc)
        timed_out = True
        returncode = -int(signal.SIGKILL)
    return CommandResult(
        argv=args,
        returncode=returncode,
        stdout=out.text(),
        stderr=err.text(),
        timed_out=timed_out,
        duration=time.monotonic() - started,
        stdout_truncated=out.truncated,
        stderr_truncated=err.truncated,
    )
