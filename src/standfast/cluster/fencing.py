"""Fencing (STONITH): make sure a server is really off before taking over its resources.

A fence command is an argv template: every ``{server}`` inside an element is replaced by
the target server's name, which stays inside that one element (``--plug={server}``
gives ``--plug=server2``). No shell is involved and the target name is checked first
(letters, digits, ``.``, ``_``, ``-``; not starting with ``-``), so a server name can
neither inject arguments nor pass for an option. The program (``argv[0]``) itself never
contains the placeholder.

:func:`fence` runs the command with a deadline (:func:`standfast.host.commands.run`:
the process group is killed on timeout), retries up to ``attempts`` times with
``retry_delay`` seconds between attempts, and when a ``confirm_command`` is configured
runs it after a successful fence command: exit 0 means "confirmed off". A fence that
succeeded but could not be confirmed is NOT ok: the engine must not take over.
Each command also gets ``STANDFAST_FENCE_TARGET`` in its environment.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from standfast.cluster.quorum import valid_server_name
from standfast.host.commands import CommandResult, run
from standfast.messages import StandfastError
from standfast.messages.quorum_codes import (
    BAD_FENCE_CONFIG,
    FENCE_ATTEMPT,
    FENCE_CONFIRMED,
    FENCE_FAILED,
    FENCE_NOT_CONFIGURED,
    FENCE_SUCCEEDED,
    FENCE_TIMED_OUT,
    FENCE_UNCONFIRMED,
)

log = logging.getLogger("standfast.cluster.fencing")

PLACEHOLDER = "{server}"
MAX_ATTEMPTS = 20
OUTPUT_KEEP = 4096  # characters of each attempt's output kept in the result

__all__ = ["FenceConfig", "FenceConfigError", "FenceResult", "expand", "fence", "fence_async"]


class FenceConfigError(StandfastError):
    """A fencing configuration was refused (message 192062)."""

    def __init__(self, reason: str) -> None:
        super().__init__(BAD_FENCE_CONFIG, reason=reason)
        self.reason = reason


def _check_argv(what: str, argv: object) -> tuple[str, ...]:
    if isinstance(argv, str) or not isinstance(argv, tuple | list):
        raise FenceConfigError(f"{what} must be a list of arguments, not one string")
    if not argv:
        raise FenceConfigError(f"{what} is empty")
    for arg in argv:
        if not isinstance(arg, str) or "\0" in arg:
            raise FenceConfigError(f"{what} has an argument that is not text: {arg!r}")
    if not argv[0] or PLACEHOLDER in argv[0]:
        raise FenceConfigError(f"{what}: the program must be a fixed name, not {argv[0]!r}")
    return tuple(argv)


def _positive(what: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FenceConfigError(f"{what} must be a number of seconds")
    if not (math.isfinite(value) and value > 0):
        raise FenceConfigError(f"{what} must be a positive number of seconds")
    return float(value)


@dataclass(frozen=True, slots=True)
class FenceConfig:
    """How to fence each server.

    ``command`` is the template for every server; ``per_server`` overrides it for some.
    ``timeout`` bounds each attempt; ``attempts`` (1-20) is the number of tries.
    ``confirm_command`` (same templating) runs once after a successful fence command,
    bounded by ``confirm_timeout`` (default: ``timeout``); it should itself poll the
    fence device until the server is off.
    """

    command: tuple[str, ...] | None = None
    timeout: float = 60.0
    per_server: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    attempts: int = 3
    retry_delay: float = 1.0
    confirm_command: tuple[str, ...] | None = None
    confirm_timeout: float | None = None

    def __post_init__(self) -> None:
        if self.command is not None:
            object.__setattr__(self, "command", _check_argv("fence command", self.command))
        overrides: dict[str, tuple[str, ...]] = {}
        for server, argv in self.per_server.items():
            if not valid_server_name(server):
                raise FenceConfigError(f"server name {server!r} is not valid")
            overrides[server] = _check_argv(f"fence command of {server}", argv)
        object.__setattr__(self, "per_server", MappingProxyType(overrides))
        if self.command is None and not overrides:
            raise FenceConfigError("no fence command is given")
        if self.confirm_command is not None:
            confirm = _check_argv("confirm command", self.confirm_command)
            object.__setattr__(self, "confirm_command", confirm)
        object.__setattr__(self, "timeout", _positive("fence timeout", self.timeout))
        if self.confirm_timeout is not None:
            value = _positive("confirm timeout", self.confirm_timeout)
            object.__setattr__(self, "confirm_timeout", value)
        if isinstance(self.attempts, bool) or not isinstance(self.attempts, int):
            raise FenceConfigError("attempts must be a whole number")
        if not 1 <= self.attempts <= MAX_ATTEMPTS:
            raise FenceConfigError(f"attempts must be from 1 to {MAX_ATTEMPTS}")
        if isinstance(self.retry_delay, bool) or not isinstance(self.retry_delay, int | float):
            raise FenceConfigError("retry delay must be a number of seconds")
        if not (math.isfinite(self.retry_delay) and 0 <= self.retry_delay <= 3600):
            raise FenceConfigError("retry delay must be from 0 to 3600 seconds")

    def command_for(self, server: str) -> tuple[str, ...] | None:
        return self.per_server.get(server, self.command)


def expand(template: tuple[str, ...], server: str) -> tuple[str, ...]:
    """``template`` with ``{server}`` replaced inside each element (no other formatting)."""
    if not valid_server_name(server):
        raise ValueError(f"server name {server!r} is not valid")
    return tuple(arg.replace(PLACEHOLDER, server) for arg in template)


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


def _tail(text: str) -> str:
    return text if len(text) <= OUTPUT_KEEP else "..." + text[-OUTPUT_KEEP:]


def _describe(result: CommandResult) -> str:
    status = f"timed out after {result.duration:.1f}s" if result.timed_out else "exit"
    parts = [status if result.timed_out else f"{status} {result.returncode}"]
    out = (result.stdout + result.stderr).strip()
    if out:
        parts.append(_tail(out))
    return "\n".join(parts)


def fence(server: str, config: FenceConfig) -> FenceResult:
    """Fence ``server``; blocks for at most about
    ``attempts * (timeout + grace) + (attempts - 1) * retry_delay + confirm_timeout``
    (grace: :data:`standfast.host.commands.TERM_GRACE` + ``KILL_WAIT``)."""
    started = time.monotonic()
    template = config.command_for(server)
    if template is None or not valid_server_name(server):
        reason = "no fence command" if template is None else "invalid server name"
        log.error("%s: no fence command is configured for server %s", FENCE_NOT_CONFIGURED, server)
        return FenceResult(False, 0, "", 0.0, code=FENCE_NOT_CONFIGURED, detail=reason)
    argv = expand(template, server)
    env = {**os.environ, "STANDFAST_FENCE_TARGET": server}
    history: list[CommandResult] = []
    output: list[str] = []
    fenced = False
    for attempt in range(1, config.attempts + 1):
        if attempt > 1 and config.retry_delay > 0:
            time.sleep(config.retry_delay)
        log.info(
            "%s: fencing server %s: attempt %d of %d",
            FENCE_ATTEMPT,
            server,
            attempt,
            config.attempts,
        )
        result = run(argv, timeout=config.timeout, env=env)
        history.append(result)
        output.append(f"[attempt {attempt}] {_describe(result)}")
        if result.ok:
            fenced = True
            break
        if result.timed_out:
            log.warning(
                "%s: fence command for server %s did not finish within %g seconds (attempt %d)",
                FENCE_TIMED_OUT,
                server,
                config.timeout,
                attempt,
            )
    attempts = len(history)
    last = history[-1]
    if not fenced:
        elapsed = time.monotonic() - started
        reason = last.summary()
        log.error(
            "%s: fencing server %s failed after %d attempts: %s",
            FENCE_FAILED,
            server,
            attempts,
            reason,
        )
        return FenceResult(
            False,
            attempts,
            "\n".join(output),
            elapsed,
            None,
            last.timed_out,
            FENCE_FAILED,
            reason,
            tuple(history),
        )
    confirmed: bool | None = None
    if config.confirm_command is not None:
        confirm = run(
            expand(config.confirm_command, server),
            timeout=config.confirm_timeout or config.timeout,
            env=env,
        )
        history.append(confirm)
        output.append(f"[confirm] {_describe(confirm)}")
        confirmed = confirm.ok
        elapsed = time.monotonic() - started
        if not confirmed:
            reason = confirm.summary()
            log.error(
                "%s: fencing of server %s could not be confirmed: %s",
                FENCE_UNCONFIRMED,
                server,
                reason,
            )
            return FenceResult(
                False,
                attempts,
                "\n".join(output),
                elapsed,
                False,
                confirm.timed_out,
                FENCE_UNCONFIRMED,
                reason,
                tuple(history),
            )
        log.info("%s: fencing of server %s confirmed", FENCE_CONFIRMED, server)
    elapsed = time.monotonic() - started
    log.info(
        "%s: server %s was fenced after %d attempts in %.1f seconds",
        FENCE_SUCCEEDED,
        server,
        attempts,
        elapsed,
    )
    return FenceResult(
        True,
        attempts,
        "\n".join(output),
        elapsed,
        confirmed,
        False,
        FENCE_SUCCEEDED,
        "fenced",
        tuple(history),
    )


async def fence_async(server: str, config: FenceConfig) -> FenceResult:
    """:func:`fence` in a worker thread (it only waits on child processes, with deadlines)."""
    return await asyncio.to_thread(fence, server, config)
