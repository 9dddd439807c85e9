"""Bounded child processes, and the one registry of children that would not die.

Every child process Standfast starts goes through :class:`Child`: commands
(:func:`standfast.host.commands.run`), the mount-point probe (:mod:`standfast.host.probe`)
and the storage witness's lease child (:mod:`standfast.cluster.storage_witness`).

A child runs in its own session, so in its own process group, and is signalled as a
group, which reaches its grandchildren too. No shell is involved: ``argv`` goes to
``execve`` as is. The parent never touches what the child works on (a possibly hung
mount), and nothing here waits without a bound:

- I/O with the child (stdin, stdout, stderr) is non-blocking and multiplexed with the
  child's exit (a pidfd) in one selector; every call takes its own deadline.
- Ending a child is SIGTERM and/or SIGKILL to its group, then a wait of at most
  ``kill_wait`` seconds. A child still there after SIGKILL (only one in uninterruptible
  sleep, D state, in a hung NFS or FUSE call, can be) is *abandoned*: the caller
  returns anyway, and the child stays in the registry below until a later
  :func:`reap_abandoned` (every new :class:`Child` calls it) finds it dead.

Python code runs in a fresh, isolated interpreter (:func:`python_argv`,
:func:`python_call_argv`), never in a fork of the daemon: a fork of a multi-threaded
process can inherit a lock some other thread held (logging, imports) and hang for ever,
which is what this module is for avoiding; a fresh ``-I -S`` interpreter also starts
faster than the daemon's imports would.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import standfast

#: Largest amount of each output stream kept (the rest is read and discarded).
OUTPUT_CAP = 256 * 1024
#: Default bound on the wait for a child after SIGKILL before it is abandoned.
KILL_WAIT = 2.0
#: Polling period where no pidfd is available (kernels before 5.3).
_POLL = 0.05
_READ_SIZE = 65536

PIPE = subprocess.PIPE
STDOUT = subprocess.STDOUT
DEVNULL = subprocess.DEVNULL

# --------------------------------------------------------------------------- registry

_lock = threading.Lock()  # children are started from many worker threads at once
_abandoned: list[tuple[str, subprocess.Popen[bytes]]] = []


def _abandon(owner: str, proc: subprocess.Popen[bytes]) -> None:
    with _lock:
        _abandoned.append((owner, proc))


def reap_abandoned(owner: str | None = None) -> list[int]:
    """Reap every abandoned child that has died since; return the pids still alive.

    Reaps the children of every owner; returns the live pids of ``owner`` only (of
    everyone with None). Never blocks: it only polls (``waitpid`` with ``WNOHANG``).
    """
    with _lock:
        _abandoned[:] = [(o, p) for o, p in _abandoned if p.poll() is None]
        return [p.pid for o, p in _abandoned if owner is None or o == owner]


def abandoned_pids(owner: str | None = None) -> list[int]:
    """Pids of abandoned children of ``owner`` (everyone with None), without reaping."""
    with _lock:
        return [p.pid for o, p in _abandoned if owner is None or o == owner]


# --------------------------------------------------------------------------- python

_SOURCE_ROOT = str(Path(standfast.__file__).resolve().parent.parent)
# Appended, not prepended: the standard library keeps precedence over that directory.
_CALL = (
    "import importlib, sys\n"
    "sys.path.append(sys.argv[1])\n"
    "sys.exit(getattr(importlib.import_module(sys.argv[2]), sys.argv[3])(sys.argv[4:]))\n"
)


def python_argv(*args: str) -> list[str]:
    """argv of a fresh isolated interpreter: ``python -I -S ARGS`` (``-c CODE ...``).

    ``-I -S``: no site packages, no ``PYTHON*`` variables, no script directory on
    ``sys.path``; the code may import the standard library only.
    """
    return [sys.executable or "/usr/bin/python3", "-I", "-S", *args]


def python_call_argv(module: str, function: str, *args: str) -> list[str]:
    """argv that runs ``module.function(list(args))`` in a fresh isolated interpreter.

    The function's return value is the exit status. ``module`` and what it imports
    may use the standard library and Standfast's own modules that use nothing else
    (site packages are not on the path).
    """
    return python_argv("-c", _CALL, _SOURCE_ROOT, module, function, *args)


# --------------------------------------------------------------------------- child


class Output:
    """What one output stream of a child said, up to ``cap`` bytes."""

    def __init__(self, cap: int) -> None:
        self.data = bytearray()
        self.cap = cap
        self.truncated = False  # more came than ``cap``; the rest was read and dropped
        self.closed = False  # end of file seen (or the stream is not captured)
        self._pos = 0  # what read_line has handed out

    def add(self, chunk: bytes) -> None:
        room = self.cap - len(self.data)
        if len(chunk) > room:
            chunk = chunk[: max(room, 0)]
            self.truncated = True
        self.data.extend(chunk)

    def text(self) -> str:
        return self.data.decode("utf-8", errors="replace")

    def has_line(self) -> bool:
        return self.closed or self.data.find(b"\n", self._pos) >= 0

    def take_line(self) -> bytes:
        """The next line with its newline; at end of file what is left (maybe b"")."""
        end = self.data.find(b"\n", self._pos)
        end = len(self.data) if end < 0 else end + 1
        line = bytes(self.data[self._pos : end])
        self._pos = end
        return line


class Child:
    """One child process in its own process group, with bounded I/O and a bounded end.

    Use it as a context manager: leaving the block closes every descriptor and, if the
    child was neither reaped nor abandoned yet, kills it (:meth:`kill`). Not
    thread-safe: one thread drives one child.

    Raises ``OSError`` from the constructor when the program cannot be started
    (``FileNotFoundError`` when it does not exist).
    """

    def __init__(
        self,
        argv: Sequence[str],
        *,
        owner: str,
        input: bytes | None = None,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        stderr: int = PIPE,
        output_cap: int = OUTPUT_CAP,
        kill_wait: float = KILL_WAIT,
    ) -> None:
        """``stderr``: PIPE (kept apart), STDOUT (merged into stdout) or DEVNULL.

        ``input``: bytes fed to the child's stdin (None: stdin is /dev/null).
        ``owner`` names the user in the abandoned-children registry.
        """
        reap_abandoned()
        self.argv = tuple(argv)
        self.owner = owner
        self.kill_wait = kill_wait
        self.started = time.monotonic()
        self.exited_at: float | None = None  # when the exit was seen (before reaping)
        self.stdout = Output(output_cap)
        self.stderr = Output(output_cap)
        self.abandoned = False
        self._proc = subprocess.Popen(
            self.argv,
            stdin=PIPE if input is not None else DEVNULL,
            stdout=PIPE,
            stderr=stderr,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            start_new_session=True,
            close_fds=True,
        )
        self._sel = selectors.DefaultSelector()
        self._streams: dict[int, Output] = {}
        self._pending = memoryview(input or b"")
        self._stdin_fd = -1
        self._pidfd = -1
        try:
            with contextlib.suppress(OSError):  # kernels older than 5.3: polled instead
                self._pidfd = os.pidfd_open(self._proc.pid)
            self._register()
        except BaseException:
            self.close()  # never leave a started child behind
            raise

    def _register(self) -> None:
        proc = self._proc
        assert proc.stdout is not None
        self._streams[proc.stdout.fileno()] = self.stdout
        if proc.stderr is not None:
            self._streams[proc.stderr.fileno()] = self.stderr
        else:
            self.stderr.closed = True
        for fd in self._streams:
            os.set_blocking(fd, False)
            self._sel.register(fd, selectors.EVENT_READ)
        if self._pidfd >= 0:
            self._sel.register(self._pidfd, selectors.EVENT_READ)
        if proc.stdin is not None:
            if self._pending:
                self._stdin_fd = proc.stdin.fileno()
                os.set_blocking(self._stdin_fd, False)
                self._sel.register(self._stdin_fd, selectors.EVENT_WRITE)
            else:
                proc.stdin.close()

    # ----------------------------------------------------------------- state

    @property
    def pid(self) -> int:
        return self._proc.pid

    @property
    def returncode(self) -> int | None:
        """The exit status once reaped (negative: killed by that signal), else None."""
        return self._proc.returncode

    @property
    def exited(self) -> bool:
        return self.exited_at is not None or self._proc.returncode is not None

    # ----------------------------------------------------------------- I/O

    def _pump(self, until: float, done: Callable[[], bool]) -> bool:
        """Move data to and from the child until ``done()`` (True) or ``until`` (False)."""
        while not done():
            now = time.monotonic()
            if now >= until:
                return False
            wait = until - now
            if self._pidfd < 0 and self.exited_at is None:
                if self._proc.poll() is not None:
                    self.exited_at = now
                    continue
                wait = min(wait, _POLL)
            for key, _events in self._sel.select(wait):
                self._handle(int(key.fd))
        return True

    def _handle(self, fd: int) -> None:
        if fd == self._pidfd:
            self.exited_at = time.monotonic()
            self._sel.unregister(fd)
        elif fd == self._stdin_fd:
            self._feed()
        else:
            try:
                data = os.read(fd, _READ_SIZE)
            except BlockingIOError:
                return
            if data:
                self._streams[fd].add(data)
            else:
                self._sel.unregister(fd)
                self._streams.pop(fd).closed = True

    def _feed(self) -> None:
        try:
            n = os.write(self._stdin_fd, self._pending[:_READ_SIZE])
            self._pending = self._pending[n:]
        except BlockingIOError:
            return
        except OSError:  # the child closed its stdin: the rest is not wanted
            self._pending = self._pending[:0]
        if not self._pending:
            self._sel.unregister(self._stdin_fd)
            self._stdin_fd = -1
            if self._proc.stdin is not None:
                self._proc.stdin.close()

    def wait_exit(self, until: float) -> bool:
        """Feed stdin and read output until the child exits (True) or ``until`` (False)."""
        return self._pump(until, lambda: self.exited)

    def drain(self, until: float) -> bool:
        """Read output until every captured stream is at end of file (True) or ``until``.

        A grandchild that inherited the pipes can hold them open for ever: pass a
        short ``until``.
        """
        return self._pump(until, lambda: self.stdout.closed and self.stderr.closed)

    def read_line(self, until: float) -> bytes | None:
        """The next line of stdout (with its newline) before ``until``, else None.

        At end of file: what is left (b"" when nothing).
        """
        if not self._pump(until, self.stdout.has_line):
            return None
        return self.stdout.take_line()

    def read_to_eof(self, until: float) -> bool:
        """Read stdout to its end before ``until``; False on timeout or past the cap."""
        out = self.stdout
        self._pump(until, lambda: out.closed or out.truncated)
        return out.closed and not out.truncated

    # ----------------------------------------------------------------- ending

    def signal(self, sig: signal.Signals) -> None:
        """Send ``sig`` to the child's process group (nothing once it is reaped).

        The group is signalled even after the leader exited: until it is reaped its
        pid still names the group, so grandchildren are reached too.
        """
        if self._proc.returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._proc.pid, sig)

    def terminate(self, grace: float) -> bool:
        """SIGTERM the group and read output for up to ``grace`` s; True if it exited."""
        self.signal(signal.SIGTERM)
        return self.wait_exit(time.monotonic() + grace)

    def wait(self, timeout: float) -> bool:
        """Wait at most ``timeout`` s for the child to exit and reap it; True if reaped."""
        try:
            self._proc.wait(timeout=max(timeout, 0.0))
        except subprocess.TimeoutExpired:
            return False
        return True

    def reap(self, timeout: float | None = None) -> bool:
        """Reap the child within ``timeout`` (default ``kill_wait``) or abandon it.

        A child that has not exited by then is SIGKILLed (as a group) and put in the
        registry; returns False then. Returns within ``timeout`` plus a poll period.
        """
        if self.abandoned:
            return False
        if self.wait(self.kill_wait if timeout is None else timeout):
            return True
        self.signal(signal.SIGKILL)
        self.abandoned = True
        _abandon(self.owner, self._proc)
        return False

    def kill(self) -> bool:
        """SIGKILL the group, then :meth:`reap`; True if the child died in time."""
        self.signal(signal.SIGKILL)
        return self.reap()

    def close(self) -> None:
        """Close every descriptor; kill (and reap or abandon) a child still running."""
        if self._proc.returncode is None and not self.abandoned:
            self.kill()
        self._sel.close()
        for stream in (self._proc.stdin, self._proc.stdout, self._proc.stderr):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        if self._pidfd >= 0:
            os.close(self._pidfd)
            self._pidfd = -1

    def __enter__(self) -> Child:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
