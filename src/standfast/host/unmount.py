"""Unmount without hanging, escalating step by step.

1. plain ``umount``;
2. if that fails and the policy allows: find the users through ``/proc``
   (:mod:`standfast.host.users`, never touching the mount), SIGTERM them, wait
   up to ``term_wait`` for them to exit, SIGKILL survivors (``kill``), then
   plain ``umount`` again;
3. ``umount -f`` (aborts pending NFS requests), once more after a short pause
   if the processes blocked in the aborted requests still held the mount;
4. ``umount -l`` (detach now, clean up when no longer busy) as a last resort.

Success is judged from mountinfo (the mount's id is gone), not from exit codes.
Every step gets a slice of the overall ``timeout``; time is kept back for the
force and lazy steps so a hung plain umount cannot eat the whole budget.
Processes are signalled through pidfds opened after checking their start time,
so a recycled pid is never signalled by mistake. umount runs with
``--no-canonicalize -i``: it neither stats the target nor runs umount.<type>
helpers that would talk to a hung server.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

from standfast.host import mountops
from standfast.host.commands import CommandResult
from standfast.host.mounts import MOUNTINFO, MountEntry, find_by_id, find_mount, read_mountinfo
from standfast.host.users import ProcessUse, processes_using, read_start_time

#: Shortest time given to any one umount attempt.
MIN_STEP = 0.5
#: Pause before the second ``umount -f`` (blocked requests were just aborted).
FORCE_SETTLE = 0.5
#: Bound on the wait for SIGKILLed processes to disappear.
KILL_WAIT = 2.0


@dataclass(frozen=True)
class KillPolicy:
    term_wait: float = 5.0
    kill: bool = True
    signal_users: bool = True


@dataclass(frozen=True)
class UnmountStep:
    action: str  # umount | find-users | SIGTERM | wait | SIGKILL | umount -f | umount -l
    ok: bool
    detail: str
    duration: float


@dataclass(frozen=True)
class SignalledProcess:
    pid: int
    comm: str
    signal: str  # "SIGTERM" or "SIGKILL"
    uses: tuple[str, ...]
    delivered: bool


@dataclass(frozen=True)
class UnmountReport:
    mount_point: str
    ok: bool
    method: str | None  # not-mounted | plain | after-kill | force | lazy; None if all failed
    steps: tuple[UnmountStep, ...]
    signalled: tuple[SignalledProcess, ...]
    survivors: tuple[int, ...]  # processes that did not exit after the signals
    elapsed: float
    mount: MountEntry | None = None


@dataclass
class _Run:
    mount_point: str
    deadline: float
    mountinfo: Path
    steps: list[UnmountStep] = field(default_factory=list)
    signalled: list[SignalledProcess] = field(default_factory=list)

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def slice(self, reserve: float) -> float:
        return max(MIN_STEP, self.remaining() - reserve)

    def gone(self, mount_id: int) -> bool:
        try:
            return find_by_id(mount_id, read_mountinfo(self.mountinfo)) is None
        except OSError:
            return False

    def umount(self, label: str, mount_id: int, *, timeout: float, **flags: bool) -> bool:
        result: CommandResult = mountops.umount(
            self.mount_point, timeout=timeout, internal_only=True, **flags
        )
        gone = self.gone(mount_id)
        detail = result.summary() if not gone else "unmounted"
        if gone and not result.ok:
            detail = f"unmounted ({result.summary()})"
        self.steps.append(UnmountStep(label, gone, detail, result.duration))
        return gone


class _Target:
    """A process we may signal, pinned by a pidfd."""

    def __init__(self, use: ProcessUse, pidfd: int) -> None:
        self.use = use
        self.pidfd = pidfd
        self.exited = False

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.pidfd)


def _pin(use: ProcessUse) -> _Target | None:
    try:
        pidfd = os.pidfd_open(use.pid)
    except OSError:
        return None  # already gone
    if read_start_time(use.pid) != use.start_time:
        os.close(pidfd)  # the pid now names another process
        return None
    return _Target(use, pidfd)


def _send(t: _Target, sig: signal.Signals, run: _Run) -> None:
    try:
        signal.pidfd_send_signal(t.pidfd, sig)
        delivered = True
    except ProcessLookupError:
        delivered, t.exited = False, True
    except OSError:
        delivered = False
    run.signalled.append(SignalledProcess(t.use.pid, t.use.comm, sig.name, t.use.uses, delivered))


def _wait_exit(targets: list[_Target], until: float) -> None:
    """Wait (bounded) until every target has exited; pidfds poll readable on exit."""
    while True:
        alive = [t for t in targets if not t.exited]
        remaining = until - time.monotonic()
        if not alive or remaining <= 0:
            return
        poller = select.poll()
        by_fd = {t.pidfd: t for t in alive}
        for fd in by_fd:
            poller.register(fd, select.POLLIN)
        for fd, _ in poller.poll(max(1, int(remaining * 1000))):
            by_fd[fd].exited = True


def _stop_users(mount: MountEntry, policy: KillPolicy, exclude: set[int], run: _Run) -> bool:
    """Signal the mount's users per policy; True if any were found."""
    t0 = time.monotonic()
    users = processes_using(mount, exclude=exclude | {1, os.getpid()})
    described = ", ".join(f"{u.pid} ({u.comm}: {' '.join(u.uses)})" for u in users)
    run.steps.append(
        UnmountStep("find-users", True, described or "no users found", time.monotonic() - t0)
    )
    if not users:
        return False
    targets = [t for t in (_pin(u) for u in users) if t is not None]
    try:
        t0 = time.monotonic()
        for t in targets:
            _send(t, signal.SIGTERM, run)
        run.steps.append(
            UnmountStep("SIGTERM", True, f"{len(targets)} process(es)", time.monotonic() - t0)
        )
        t0 = time.monotonic()
        reserve = 2 * MIN_STEP + (KILL_WAIT if policy.kill else 0.0)
        _wait_exit(targets, t0 + min(policy.term_wait, max(0.0, run.remaining() - reserve)))
        left = [t for t in targets if not t.exited]
        run.steps.append(
            UnmountStep(
                "wait",
                not left,
                f"{len(targets) - len(left)} exited, {len(left)} still running",
                time.monotonic() - t0,
            )
        )
        if left and policy.kill:
            t0 = time.monotonic()
            for t in left:
                _send(t, signal.SIGKILL, run)
            _wait_exit(left, t0 + min(KILL_WAIT, max(0.0, run.remaining() - 2 * MIN_STEP)))
            still = [t for t in left if not t.exited]
            run.steps.append(
                UnmountStep(
                    "SIGKILL",
                    not still,
                    f"{len(left)} killed, {len(still)} still alive",
                    time.monotonic() - t0,
                )
            )
    finally:
        for t in targets:
            t.close()
    return True


def unmount_without_hanging(
    mount_point: str,
    *,
    policy: KillPolicy,
    timeout: float,
    exclude: set[int] | None = None,
    mountinfo: Path = MOUNTINFO,
) -> UnmountReport:
    """Unmount ``mount_point`` (the topmost mount there) within about ``timeout``.

    Idempotent: nothing mounted there gives ``ok`` with method ``not-mounted``.
    """
    started = time.monotonic()
    run = _Run(mount_point, started + timeout, mountinfo)

    def report(ok: bool, method: str | None, mount: MountEntry | None) -> UnmountReport:
        survivors = sorted({s.pid for s in run.signalled if s.delivered and _alive(s.pid)})
        return UnmountReport(
            mount_point=mount_point,
            ok=ok,
            method=method,
            steps=tuple(run.steps),
            signalled=tuple(run.signalled),
            survivors=tuple(survivors),
            elapsed=time.monotonic() - started,
            mount=mount,
        )

    mount = find_mount(mount_point, read_mountinfo(mountinfo))
    if mount is None:
        return report(True, "not-mounted", None)
    mid = mount.mount_id
    # Keep time back for the later, more certain steps.
    lazy_reserve = min(5.0, max(MIN_STEP, timeout * 0.15))
    force_reserve = min(10.0, max(MIN_STEP, timeout * 0.2))

    if run.umount("umount", mid, timeout=run.slice(lazy_reserve + force_reserve)):
        return report(True, "plain", mount)
    can_signal = policy.signal_users and run.remaining() > lazy_reserve + force_reserve
    if (
        can_signal
        and _stop_users(mount, policy, exclude or set(), run)
        and run.umount("umount", mid, timeout=run.slice(lazy_reserve + force_reserve))
    ):
        return report(True, "after-kill", mount)
    if run.umount("umount -f", mid, timeout=run.slice(lazy_reserve), force=True):
        return report(True, "force", mount)
    # A forced unmount aborts pending requests (NFS, FUSE); the processes that
    # were blocked in them release the mount a moment later: try once more.
    if run.remaining() > lazy_reserve + FORCE_SETTLE + MIN_STEP:
        select.select([], [], [], FORCE_SETTLE)
        if run.umount("umount -f", mid, timeout=run.slice(lazy_reserve), force=True):
            return report(True, "force", mount)
    if run.umount("umount -l", mid, timeout=max(MIN_STEP, run.remaining()), lazy=True):
        return report(True, "lazy", mount)
    return report(False, None, mount)


def _alive(pid: int) -> bool:
    """True if ``pid`` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as f:
            text = f.read()
    except OSError:
        return False
    state = text[text.rindex(")") + 2 :].split(" ", 1)[0] if ")" in text else "?"
    return state not in ("Z", "X")
