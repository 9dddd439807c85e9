"""Health probe of a mount point that cannot hang the caller.

``stat()`` and ``statvfs()`` of the path run in a small child process (a fresh
Python interpreter, ``-I -S``, cwd ``/``). The parent only reads the child's
answer from a pipe, with deadlines: it never touches the path itself. A child
that does not answer within ``syscall_timeout`` (LKNFSSYSCALLTO) is killed; up
to ``tries`` attempts are made, all within ``overall_timeout`` (LKNFSTIMEOUT).

A child stuck in uninterruptible sleep may survive SIGKILL. It is then
abandoned (the probe returns anyway) and reaped by a later call of
:func:`reap_abandoned`, which every probe calls first. The child handling is
:class:`standfast.host.children.Child`'s.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from standfast.host import children
from standfast.host.children import DEVNULL, Child, python_argv

#: Longest wait for the child interpreter to start (bounded by overall_timeout).
STARTUP_LIMIT = 10.0
#: Bound on the wait for a killed child to die before it is abandoned.
KILL_WAIT = 0.5
#: Name of the probe children in the abandoned-children registry.
OWNER = "probe"

_CHILD_CODE = r"""
import json, os, sys
path = sys.argv[1]
sys.stdout.write("ready\n")
sys.stdout.flush()
step = "stat"
try:
    st = os.stat(path)
    step = "statvfs"
    vfs = os.statvfs(path)
    out = {"ok": True, "mode": st.st_mode, "dev": st.st_dev,
           "blocks": vfs.f_blocks, "bavail": vfs.f_bavail, "fsid": vfs.f_fsid}
except OSError as e:
    out = {"ok": False, "step": step, "errno": e.errno, "error": e.strerror or str(e)}
sys.stdout.write(json.dumps(out) + "\n")
sys.stdout.flush()
"""


@dataclass(frozen=True)
class AttemptResult:
    ok: bool
    timed_out: bool
    detail: str
    elapsed: float


@dataclass(frozen=True)
class ProbeResult:
    ok: bool
    attempts: int
    detail: str
    elapsed: float
    timed_out: bool = False  # the last failed attempt did not answer in time
    history: tuple[AttemptResult, ...] = ()


def reap_abandoned() -> list[int]:
    """Reap abandoned probe children that have died since; return pids still alive."""
    return children.reap_abandoned(OWNER)


def abandoned_pids() -> list[int]:
    return children.abandoned_pids(OWNER)


def _attempt(path: str, syscall_timeout: float, overall_deadline: float) -> AttemptResult:
    started = time.monotonic()
    try:
        child = Child(
            python_argv("-c", _CHILD_CODE, path),
            owner=OWNER,
            stderr=DEVNULL,
            cwd="/",
            kill_wait=KILL_WAIT,
        )
    except OSError as exc:
        return AttemptResult(False, False, f"cannot start probe child: {exc}", 0.0)
    with child:
        ready_by = min(overall_deadline, started + max(STARTUP_LIMIT, syscall_timeout))
        line = child.read_line(ready_by)
        if line != b"ready\n":
            died = child.kill()
            what = "did not start in time" if line is None else "exited before probing"
            suffix = "" if died else f" (pid {child.pid} could not be killed, abandoned)"
            return AttemptResult(
                False, line is None, f"probe child {what}{suffix}", time.monotonic() - started
            )
        syscalls_started = time.monotonic()
        answer_by = min(overall_deadline, syscalls_started + syscall_timeout)
        line = child.read_line(answer_by)
        if line is None:
            waited = time.monotonic() - syscalls_started
            died = child.kill()
            suffix = "" if died else f"; pid {child.pid} stuck, abandoned"
            return AttemptResult(
                False,
                True,
                f"stat/statvfs of {path} did not answer within {waited:.1f}s{suffix}",
                time.monotonic() - started,
            )
        try:
            answer = json.loads(line)
        except ValueError:
            answer = {"ok": False, "step": "?", "error": f"bad answer {line[:200]!r}"}
        if not child.wait(KILL_WAIT):
            child.kill()
    elapsed = time.monotonic() - started
    if answer.get("ok") is True:
        return AttemptResult(True, False, f"stat/statvfs of {path} answered", elapsed)
    return AttemptResult(
        False,
        False,
        f"{answer.get('step', '?')} of {path} failed: {answer.get('error')}"
        + (f" (errno {answer['errno']})" if "errno" in answer else ""),
        elapsed,
    )


def probe_mount_point(
    path: str, *, syscall_timeout: float, overall_timeout: float, tries: int = 3
) -> ProbeResult:
    """Check that ``path`` answers stat() and statvfs() in time.

    Never blocks longer than ``overall_timeout`` plus a small bound for killing
    the last child (KILL_WAIT).
    """
    started = time.monotonic()
    reap_abandoned()
    if not path.startswith("/"):
        return ProbeResult(False, 0, f"not an absolute path: {path!r}", 0.0)
    if syscall_timeout <= 0 or overall_timeout <= 0 or tries < 1:
        raise ValueError("timeouts must be positive and tries at least 1")
    deadline = started + overall_timeout
    history: list[AttemptResult] = []
    while len(history) < tries and time.monotonic() < deadline:
        result = _attempt(path, syscall_timeout, deadline)
        history.append(result)
        if result.ok:
            break
    elapsed = time.monotonic() - started
    if not history:
        return ProbeResult(False, 0, "no time left for a probe", elapsed)
    last = history[-1]
    if last.ok:
        return ProbeResult(True, len(history), last.detail, elapsed, False, tuple(history))
    return ProbeResult(
        False,
        len(history),
        f"{last.detail} (attempt {len(history)} of {tries})",
        elapsed,
        last.timed_out,
        tuple(history),
    )
