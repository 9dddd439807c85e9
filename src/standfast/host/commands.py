"""Run an external command with a hard deadline.

The child runs in its own session (so in its own process group). On timeout the
whole group gets SIGTERM, then SIGKILL after a short grace. Nothing here waits
without a bound: a child stuck in uninterruptible sleep (D state) is abandoned
after SIGKILL plus a bounded wait, and the result says ``timed_out``. The child
handling is :class:`standfast.host.children.Child`'s.

No shell is ever involved: ``argv`` is passed to ``execve`` as is.
"""

from __future__ import annotations

import shutil
import signal
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from standfast.host import children
from standfast.host.children import KILL_WAIT, OUTPUT_CAP, Child
from standfast.host.starved import STARVED_ERRNOS, HostStarved

__all__ = [
    "DRAIN_WAIT",
    "KILL_WAIT",
    "OUTPUT_CAP",
    "TERM_GRACE",
    "CommandResult",
    "abandoned_pids",
    "reap_abandoned",
    "run",
    "system_tool",
]

#: Time between SIGTERM and SIGKILL of the process group on timeout.
TERM_GRACE = 1.0
#: After the child exits, time allowed to read what is left in its pipes (a
#: grandchild may hold them open forever).
DRAIN_WAIT = 0.5
#: Name of this module's children in the abandoned-children registry.
OWNER = "command"
#: Where the system's own tools are looked for (never the daemon's PATH).
SYSTEM_PATH = "/bin:/usr/bin:/sbin:/usr/sbin"


def system_tool(name: str) -> str | None:
    """The absolute path of the system's executable ``name``, or None."""
    return shutil.which(name, path=SYSTEM_PATH)


def reap_abandoned() -> list[int]:
    """Reap abandoned children (they survived SIGKILL); return pids still alive."""
    return children.reap_abandoned(OWNER)


def abandoned_pids() -> list[int]:
    return children.abandoned_pids(OWNER)


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
    Raises :class:`HostStarved` (190421) when *this process* lacks the descriptors,
    memory or processes to start it: that is no verdict on the command.
    """
    args = tuple(argv)
    started = time.monotonic()
    reap_abandoned()
    if not args:
        return _spawn_failure(args, FileNotFoundError(2, "empty argv"), started)
    if timeout <= 0:
        raise ValueError("timeout must be positive")
    try:
        child = Child(args, owner=OWNER, input=input, env=env, cwd=cwd)
    except OSError as exc:
        if exc.errno in STARVED_ERRNOS:
            raise HostStarved(args[0], exc) from exc
        return _spawn_failure(args, exc, started)
    with child:
        timed_out = not child.wait_exit(started + timeout)
        if timed_out:
            child.terminate(TERM_GRACE)
        if child.exited_at is not None:
            child.drain(child.exited_at + DRAIN_WAIT)
        if timed_out:
            # SIGKILL the whole group even if the leader already exited: a
            # grandchild that ignores SIGTERM must not outlive the command.
            child.signal(signal.SIGKILL)
        if not child.reap(KILL_WAIT):
            # Still alive after SIGKILL (uninterruptible sleep): abandoned; a later
            # run() or reap_abandoned() reaps it once it dies.
            timed_out = True
        returncode = child.returncode if child.returncode is not None else -int(signal.SIGKILL)
    return CommandResult(
        argv=args,
        returncode=returncode,
        stdout=child.stdout.text(),
        stderr=child.stderr.text(),
        timed_out=timed_out,
        duration=time.monotonic() - started,
        stdout_truncated=child.stdout.truncated,
        stderr_truncated=child.stderr.truncated,
    )
