"""Host-layer tests that mount things, each in a private mount namespace.

Every test function in this directory (all are marked ``root``) runs in a
forked child of the pytest process. The child calls ``unshare(CLONE_NEWNS)`` and
makes every mount private, so nothing it mounts is ever seen by the machine,
and everything it mounted disappears when it exits. Fixtures are set up in the
parent (before the fork) and the test body runs in the child; a failure's
traceback is sent back through a pipe and reported by the parent.

The child is a child subreaper: processes a test leaks are found by pid when
the test ends, SIGKILLed, reaped, and reported as a test failure.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import select
import signal
import time
import traceback
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.host.hostsupport import abort_all_fuse, check

CLONE_NEWNS = 0x00020000
MS_REC = 16384
MS_PRIVATE = 1 << 18
PR_SET_CHILD_SUBREAPER = 36
CHILD_TIMEOUT = 120.0

_libc = ctypes.CDLL(None, use_errno=True)


def enter_private_mount_namespace() -> None:
    check(_libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    check(_libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "make / rprivate")


def _children() -> list[int]:
    pids: list[int] = []
    for tid in os.listdir("/proc/self/task"):
        with contextlib.suppress(OSError):
            pids += [int(p) for p in Path(f"/proc/self/task/{tid}/children").read_text().split()]
    return pids


def _kill_leftovers() -> list[int]:
    """SIGKILL and reap (bounded) every remaining child of this process."""
    leaked: list[int] = []
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline:
        pids = _children()
        if not pids:
            break
        for pid in pids:
            if pid not in leaked:
                leaked.append(pid)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for pid in pids:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
        select.select([], [], [], 0.05)  # bounded pause between sweeps
    return leaked


def _child_main(fn: Callable[[], object], wfd: int) -> None:
    status, text = "FAIL", ""
    try:
        check(_libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), "prctl(SUBREAPER)")
        enter_private_mount_namespace()
        fn()
        status = "OK"
    except pytest.skip.Exception as exc:
        status, text = "SKIP", str(exc)
    except BaseException:
        text = traceback.format_exc()
    abort_all_fuse()  # releases processes blocked in a HungFuse before the sweep
    leaked = _kill_leftovers()
    if leaked and status == "OK":
        status, text = "FAIL", f"test left processes running: {leaked}"
    with contextlib.suppress(OSError):
        os.write(wfd, f"{status}\n{text}".encode(errors="replace"))


def run_in_private_namespace(fn: Callable[[], object], timeout: float = CHILD_TIMEOUT) -> None:
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        os.close(rfd)
        try:
            _child_main(fn, wfd)
        finally:
            os._exit(0)
    os.close(wfd)
    chunks: list[bytes] = []
    reaped = False
    try:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                pytest.fail(f"test child {pid} did not finish in {timeout}s", pytrace=False)
            ready, _, _ = select.select([rfd], [], [], remaining)
            if ready:
                data = os.read(rfd, 65536)
                if not data:
                    break
                chunks.append(data)
        # It closed the pipe: it is exiting. Reap it, with a deadline.
        while not reaped and time.monotonic() < deadline:
            reaped = os.waitpid(pid, os.WNOHANG)[0] == pid
            if not reaped:
                select.select([], [], [], 0.02)
    finally:
        os.close(rfd)
        if not reaped:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            give_up = time.monotonic() + 10.0
            with contextlib.suppress(ChildProcessError):
                while os.waitpid(pid, os.WNOHANG)[0] != pid and time.monotonic() < give_up:
                    select.select([], [], [], 0.02)
    out = b"".join(chunks).decode(errors="replace")
    status, _, text = out.partition("\n")
    if status == "SKIP":
        pytest.skip(text)
    if status != "OK":
        pytest.fail(text or "test child died without a report", pytrace=False)


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    if Path(str(pyfuncitem.fspath)).parent != Path(__file__).parent:
        return None
    if os.geteuid() != 0:
        pytest.skip("needs root (mount namespaces)")
    fn = pyfuncitem.obj
    args = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
    run_in_private_namespace(lambda: fn(**args))
    return True
