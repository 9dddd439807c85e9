"""Halting this server and fencing another: blocking calls with explicit deadlines.

The engine runs both through its ActionRunner like every other action, so it never
runs a command itself::

    await runner.call(lambda: power.halt(command, timeout=30.0),
                      deadline=power.halt_deadline(30.0), action="halt", tag=tag)
    plan = fencing.fence_plan(server, config)          # pure; None: not configured
    result = await runner.call(lambda: power.fence(plan), deadline=plan.deadline,
                               action="fence", tag=server)

Commands run through :func:`standfast.host.commands.run`: no shell, their own process
group, killed at their timeout (SIGTERM, then SIGKILL after ``TERM_GRACE``), so each
call returns within its documented bound even when a command hangs in the kernel. The
bounds (:func:`halt_deadline`, :attr:`FencePlan.deadline`) include :data:`SLACK`, so
an outer deadline set to them never fires before the call has ended by itself.

Fencing's configuration (which command for which server, the ``{server}`` template,
validation with numbered messages) stays in :mod:`standfast.cluster.fencing`, which
turns it into a :class:`FencePlan` for one target.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from standfast.host.commands import KILL_WAIT, TERM_GRACE, CommandResult, run
from standfast.messages import StandfastError
from standfast.messages.quorum_codes import (
    FENCE_ATTEMPT,
    FENCE_CONFIRMED,
    FENCE_FAILED,
    FENCE_SUCCEEDED,
    FENCE_TIMED_OUT,
    FENCE_UNCONFIRMED,
)

# The fence messages keep the logger they always had (log filters name it).
log = logging.getLogger("standfast.cluster.fencing")

#: What a command can take beyond its own timeout: SIGTERM grace + bounded kill wait.
COMMAND_GRACE = TERM_GRACE + KILL_WAIT
#: Scheduling slack in the bounds below, for an outer deadline wrapped around a call.
SLACK = 1.0
#: Characters of each attempt's output kept in a fence result.
OUTPUT_KEEP = 4096
#: Seconds between two confirmations of a polled confirm (a fence agent's status).
CONFIRM_INTERVAL = 1.0

__all__ = [
    "COMMAND_GRACE",
    "SLACK",
    "FencePlan",
    "FenceResult",
    "HaltError",
    "fence",
    "halt",
    "halt_deadline",
]


# --------------------------------------------------------------------------- halt


class HaltError(StandfastError):
    """The halt command failed or timed out (190501): this server is still running."""

    def __init__(self, command: Sequence[str], result: CommandResult) -> None:
        super().__init__("190501", command=" ".join(command), reason=result.summary())
        self.result = result


def halt_deadline(timeout: float) -> float:
    """The longest :func:`halt` with this ``timeout`` can take (an outer deadline)."""
    return timeout + COMMAND_GRACE + SLACK


def halt(command: Sequence[str], *, timeout: float) -> None:
    """Power this server off now with ``command`` (the caller passes SF_HALT_COMMAND).

    Timing: returns or raises within :func:`halt_deadline` (``timeout`` + 4 s); the
    command's process group is killed at ``timeout``. With the default command
    (``/sbin/poweroff --force --no-sync``) the machine goes off at once, so a
    successful call may never return.

    Errors: :class:`HaltError` (190501) when the command is missing, exits non-zero or
    times out; the server then keeps running and the caller decides (log it, retry).
    ``ValueError`` for a non-positive timeout. Nothing is logged here.

    Idempotency: calling again runs the command again; a second poweroff while the
    first is under way is harmless.
    """
    if not (math.isfinite(timeout) and timeout > 0):
        raise ValueError("timeout must be a positive number of seconds")
    result = run(command, timeout=timeout)
    if not result.ok:
        raise HaltError(command, result)


# --------------------------------------------------------------------------- fence


def _argv(what: str, argv: object) -> tuple[str, ...]:
    if not isinstance(argv, tuple) or not argv:
        raise ValueError(f"{what} must be a non-empty tuple of arguments")
    if not all(isinstance(a, str) and "\0" not in a for a in argv) or not argv[0]:
        raise ValueError(f"{what} has an argument that is not text")
    return argv


def _seconds(what: str, value: float, *, zero: bool = False) -> None:
    if not (math.isfinite(value) and (value >= 0 if zero else value > 0)):
        raise ValueError(f"{what} must be a {'' if zero else 'positive '}number of seconds")


@dataclass(frozen=True, slots=True)
class FencePlan:
    """How to fence one server: its commands already expanded, and their limits.

    ``argv`` runs up to ``attempts`` times, ``retry_delay`` s apart, each bounded by
    ``timeout``; after a success ``confirm_argv`` (if any) runs once, bounded by
    ``confirm_timeout`` (default ``timeout``): exit 0 means "confirmed off". Every
    command gets ``STANDFAST_FENCE_TARGET=<target>`` in its environment.

    A fence agent (:mod:`standfast.cluster.fence_agent`) gets its arguments on stdin:
    ``stdin`` for the fence command, ``confirm_stdin`` for the confirmation, whose
    exit codes in ``confirm_codes`` mean "confirmed"; with ``confirm_poll`` the
    confirmation is repeated every ``CONFIRM_INTERVAL`` s until it says so or
    ``confirm_timeout`` has passed (``status`` answers 2 "off" once the power is off).
    Every text in the result and the logs has the ``secrets`` replaced by ``***``;
    neither they nor the stdin appear in the plan's repr. Bad values
    raise ``ValueError`` (user input is checked, with numbered messages, by
    :class:`standfast.cluster.fencing.FenceConfig` before a plan is made).
    """

    target: str
    argv: tuple[str, ...]
    timeout: float
    attempts: int = 1
    retry_delay: float = 0.0
    confirm_argv: tuple[str, ...] | None = None
    confirm_timeout: float | None = None
    stdin: bytes | None = field(default=None, repr=False)
    confirm_stdin: bytes | None = field(default=None, repr=False)
    confirm_codes: frozenset[int] = frozenset({0})
    confirm_poll: bool = False
    secrets: tuple[str, ...] = field(default=(), repr=False)

    def __post_init__(self) -> None:
        if not self.target or "\0" in self.target:
            raise ValueError(f"fence target {self.target!r} is not a server name")
        _argv("fence command", self.argv)
        if self.confirm_argv is not None:
            _argv("confirm command", self.confirm_argv)
        _seconds("fence timeout", self.timeout)
        _seconds("retry delay", self.retry_delay, zero=True)
        if self.confirm_timeout is not None:
            _seconds("confirm timeout", self.confirm_timeout)
        if isinstance(self.attempts, bool) or self.attempts < 1:
            raise ValueError("attempts must be at least 1")

    @property
    def deadline(self) -> float:
        """The longest :func:`fence` of this plan can take (an outer deadline)."""
        total = self.attempts * (self.timeout + COMMAND_GRACE)
        total += (self.attempts - 1) * self.retry_delay
        if self.confirm_argv is not None:
            total += (self.confirm_timeout or self.timeout) + COMMAND_GRACE
        return total + SLACK


@dataclass(frozen=True, slots=True)
class FenceResult:
    """``ok``: the fence command succeeded and, if configured, the confirmation too.

    ``confirmed`` is None when no confirm command is configured (or it never ran).
    ``code`` is the catalogue message of the outcome.
    """

    ok: bool
    attempts: int
    output: str
    elapsed: float
    confirmed: bool | None = None
    timed_out: bool = False
    code: str = ""
    detail: str = ""
    history: tuple[CommandResult, ...] = ()


def _describe(result: CommandResult) -> str:
    status = f"timed out after {result.duration:.1f}s" if result.timed_out else "exit"
    parts = [status if result.timed_out else f"{status} {result.returncode}"]
    out = (result.stdout + result.stderr).strip()
    if out:
        parts.append(out if len(out) <= OUTPUT_KEEP else "..." + out[-OUTPUT_KEEP:])
    return "\n".join(parts)


def _masked(result: CommandResult, secrets: tuple[str, ...]) -> CommandResult:
    """``result`` with every secret in its output replaced by ``***`` (an agent may
    echo its input, e.g. fence-agents' "Ignoring unknown option 'passwd=...'")."""
    out, err, argv = result.stdout, result.stderr, result.argv
    for value in secrets:
        out, err = out.replace(value, "***"), err.replace(value, "***")
        argv = tuple(a.replace(value, "***") for a in argv)
    return replace(result, stdout=out, stderr=err, argv=argv)


def _attempts(plan: FencePlan, env: dict[str, str]) -> list[CommandResult]:
    """Run the fence command until it succeeds or the attempts are used up."""
    history: list[CommandResult] = []
    for attempt in range(1, plan.attempts + 1):
        if attempt > 1 and plan.retry_delay > 0:
            time.sleep(plan.retry_delay)
        log.info(
            "%s: fencing server %s: attempt %d of %d",
            FENCE_ATTEMPT,
            plan.target,
            attempt,
            plan.attempts,
        )
        result = run(plan.argv, timeout=plan.timeout, env=env, input=plan.stdin)
        history.append(_masked(result, plan.secrets))
        if result.ok:
            break
        if result.timed_out:
            log.warning(
                "%s: fence command for server %s did not finish within %g seconds (attempt %d)",
                FENCE_TIMED_OUT,
                plan.target,
                plan.timeout,
                attempt,
            )
    return history


def _confirmed(plan: FencePlan, result: CommandResult) -> bool:
    return not result.timed_out and result.returncode in plan.confirm_codes


def _confirm(plan: FencePlan, argv: tuple[str, ...], env: dict[str, str]) -> list[CommandResult]:
    """Run the confirmation once, or (``confirm_poll``) until it confirms; within
    ``confirm_timeout`` + COMMAND_GRACE in all (each run gets only the time left)."""
    end = time.monotonic() + (plan.confirm_timeout or plan.timeout)
    results: list[CommandResult] = []
    while True:
        left = max(end - time.monotonic(), 0.1)
        result = run(argv, timeout=left, env=env, input=plan.confirm_stdin)
        results.append(_masked(result, plan.secrets))
        if _confirmed(plan, result) or not plan.confirm_poll:
            return results
        left = end - time.monotonic()
        if left <= 0.1:
            return results
        time.sleep(min(CONFIRM_INTERVAL, left))


def fence(plan: FencePlan) -> FenceResult:
    """Fence ``plan.target``: make sure it is off before its resources are taken over.

    Timing: blocks for at most ``plan.deadline``. Errors: never raises for a failing,
    missing or hanging command; the result says what happened: ``ok`` with code 192042
    (FENCE_SUCCEEDED), or not ``ok`` with 192043 (FENCE_FAILED: every attempt failed;
    ``timed_out`` if the last one hung) or 192044 (FENCE_UNCONFIRMED: fenced, but the
    confirmation did not say "off" in time; the caller must not take over). Each of
    these, every attempt (192041) and every hung attempt (192045) is logged, with the
    plan's secrets masked.

    Idempotency: keeps no state; fencing a server that is already off runs the command
    again (a fence agent's "off" is idempotent). The caller remembers who was fenced.
    """
    started = time.monotonic()
    env = {**os.environ, "STANDFAST_FENCE_TARGET": plan.target}
    history = _attempts(plan, env)
    attempts = len(history)
    output = [f"[attempt {n}] {_describe(r)}" for n, r in enumerate(history, start=1)]
    fenced = history[-1].ok
    confirmed: bool | None = None
    if fenced and plan.confirm_argv is not None:
        polls = _confirm(plan, plan.confirm_argv, env)
        history.extend(polls)
        runs = "" if len(polls) == 1 else f", {len(polls)} runs"
        output.append(f"[confirm{runs}] {_describe(polls[-1])}")
        confirmed = _confirmed(plan, polls[-1])
    last = history[-1]
    elapsed = time.monotonic() - started
    if not fenced:
        code, reason = FENCE_FAILED, last.summary()
        log.error(
            "%s: fencing server %s failed after %d attempts: %s",
            code,
            plan.target,
            attempts,
            reason,
        )
    elif confirmed is False:
        code, reason = FENCE_UNCONFIRMED, last.summary()
        if plan.confirm_poll and not last.timed_out and last.returncode == 0:
            wait = plan.confirm_timeout or plan.timeout
            reason = f"its status still says on after {wait:g} seconds"
        log.error("%s: fencing of server %s could not be confirmed: %s", code, plan.target, reason)
    else:
        code, reason = FENCE_SUCCEEDED, "fenced"
        if confirmed:
            log.info("%s: fencing of server %s confirmed", FENCE_CONFIRMED, plan.target)
        log.info(
            "%s: server %s was fenced after %d attempts in %.1f seconds",
            code,
            plan.target,
            attempts,
            elapsed,
        )
    ok = code == FENCE_SUCCEEDED
    return FenceResult(
        ok=ok,
        attempts=attempts,
        output="\n".join(output),
        elapsed=elapsed,
        confirmed=confirmed,
        timed_out=last.timed_out and not ok,
        code=code,
        detail=reason,
        history=tuple(history),
    )
