"""Fencing (STONITH): make sure a server is really off before taking over its resources.

A fence command is an argv template: every ``{server}`` inside an element is replaced by
the target server's name, which stays inside that one element (``--plug={server}``
gives ``--plug=server2``). No shell is involved and the target name is checked first
(letters, digits, ``.``, ``_``, ``-``; not starting with ``-``), so a server name can
neither inject arguments nor pass for an option. The program (``argv[0]``) itself never
contains the placeholder.

A fence agent (``agent``: a ClusterLabs ``fence_*`` program, see
:mod:`standfast.cluster.fence_agent`) is the other form: it gets ``parameters``, merged
with the target's own (``server_parameters``), as ``name=value`` lines on stdin with
``action=off`` (or ``reboot``) and ``nodename=<target>``; then ``action=status`` runs
until it says "off" (exit 2) within ``confirm_timeout`` (after ``reboot`` the server
may be on again: any definite answer, 0 or 2, confirms that the device is reachable
and the agent's own reboot, which waits for "off" before powering on, succeeded).
Secret parameters are masked in every output, log and message.

This module is the pure part: :class:`FenceConfig` (validated, numbered refusals),
:func:`expand`, and :func:`fence_plan`, which turns both into a
:class:`standfast.host.power.FencePlan` for one server. Running it is
:func:`standfast.host.power.fence`'s: the command runs with a deadline (the process
group is killed on timeout), up to ``attempts`` times with ``retry_delay`` seconds
between attempts, and when a ``confirm_command`` is configured that runs after a
successful fence command: exit 0 means "confirmed off". A fence that succeeded but
could not be confirmed is NOT ok: the engine must not take over. Each command also gets
``STANDFAST_FENCE_TARGET`` in its environment.

:func:`fence` and :func:`fence_async` (plan + run in one call) stay for callers that
do not go through the engine's action runner.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from standfast.cluster import fence_agent as fa
from standfast.cluster.quorum import valid_server_name
from standfast.host import power
from standfast.host.power import FencePlan, FenceResult
from standfast.messages import StandfastError
from standfast.messages.quorum_codes import BAD_FENCE_CONFIG, FENCE_NOT_CONFIGURED

log = logging.getLogger("standfast.cluster.fencing")

PLACEHOLDER = "{server}"
MAX_ATTEMPTS = 20

__all__ = [
    "FenceConfig",
    "FenceConfigError",
    "FencePlan",
    "FenceResult",
    "expand",
    "fence",
    "fence_async",
    "fence_plan",
]


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
    agent: str | None = None
    parameters: Mapping[str, str] = field(default_factory=dict, repr=False)
    server_parameters: Mapping[str, Mapping[str, str]] = field(default_factory=dict, repr=False)
    action: str = "off"

    def __post_init__(self) -> None:
        self._check_agent()
        if self.command is not None:
            object.__setattr__(self, "command", _check_argv("fence command", self.command))
        overrides: dict[str, tuple[str, ...]] = {}
        for server, argv in self.per_server.items():
            if not valid_server_name(server):
                raise FenceConfigError(f"server name {server!r} is not valid")
            overrides[server] = _check_argv(f"fence command of {server}", argv)
        object.__setattr__(self, "per_server", MappingProxyType(overrides))
        if self.command is None and not overrides and self.agent is None:
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

    def _check_agent(self) -> None:
        """The agent form's settings (192070); none of them without an agent."""
        if self.agent is None:
            if self.parameters or self.server_parameters:
                raise fa.FenceAgentError("agent parameters are given but no agent")
            return
        agent = self.agent
        if not isinstance(agent, str) or not agent.startswith("/") or "\0" in agent:
            raise fa.FenceAgentError("agent must be the absolute path of a fence agent")
        if PLACEHOLDER in agent:
            raise fa.FenceAgentError("agent must be a fixed path, without {server}")
        if self.command is not None or self.per_server or self.confirm_command is not None:
            raise fa.FenceAgentError("give either an agent or a command, not both")
        if self.action not in fa.FENCE_ACTIONS:
            raise fa.FenceAgentError(f"action must be one of {', '.join(fa.FENCE_ACTIONS)}")
        common = fa.check_parameters("fencing parameters", self.parameters)
        own: dict[str, Mapping[str, str]] = {}
        for server, params in self.server_parameters.items():
            if not valid_server_name(server):
                raise FenceConfigError(f"server name {server!r} is not valid")
            own[server] = MappingProxyType(fa.check_parameters(f"parameters of {server}", params))
        object.__setattr__(self, "parameters", MappingProxyType(common))
        object.__setattr__(self, "server_parameters", MappingProxyType(own))

    def command_for(self, server: str) -> tuple[str, ...] | None:
        if self.agent is not None:
            return (self.agent,)
        return self.per_server.get(server, self.command)

    def agent_parameters(self, server: str) -> dict[str, str]:
        """The agent's parameters for ``server`` (common + its own, ``{server}``
        expanded; a valid name). Holds secrets: never log it, use :func:`fa.public`."""
        own = self.server_parameters.get(server)
        return fa.expand(fa.merged(self.parameters, own), server)


def expand(template: tuple[str, ...], server: str) -> tuple[str, ...]:
    """``template`` with ``{server}`` replaced inside each element (no other formatting)."""
    if not valid_server_name(server):
        raise ValueError(f"server name {server!r} is not valid")
    return tuple(arg.replace(PLACEHOLDER, server) for arg in template)


def fence_plan(server: str, config: FenceConfig) -> FencePlan | None:
    """The plan to fence ``server`` (pure, no I/O); None when ``config`` has no command
    for it or ``server`` is not a valid server name. Bound: ``plan.deadline``."""
    template = config.command_for(server)
    if template is None or not valid_server_name(server):
        return None
    if config.agent is not None:
        return _agent_plan(server, config)
    confirm = config.confirm_command
    argv = expand(template, server)
    confirm_argv = None if confirm is None else expand(confirm, server)
    return FencePlan(
        target=server,
        argv=argv,
        timeout=config.timeout,
        attempts=config.attempts,
        retry_delay=config.retry_delay,
        confirm_argv=confirm_argv,
        confirm_timeout=config.confirm_timeout,
        # A password on the command line is masked in every log line and result.
        secrets=fa.command_secrets((*argv, *(confirm_argv or ()))),
    )


def _agent_plan(server: str, config: FenceConfig) -> FencePlan:
    """A fence agent's plan: its action, then ``status`` polled until "off" (2); after
    ``reboot``, one definite ``status`` answer (0 on or 2 off) confirms."""
    assert config.agent is not None
    params = config.agent_parameters(server)
    off = config.action == "off"
    return FencePlan(
        target=server,
        argv=(config.agent,),
        timeout=config.timeout,
        attempts=config.attempts,
        retry_delay=config.retry_delay,
        confirm_argv=(config.agent,),
        confirm_timeout=config.confirm_timeout,
        stdin=fa.agent_stdin(params, config.action, server),
        confirm_stdin=fa.agent_stdin(params, "status", server),
        confirm_codes=frozenset({fa.STATUS_OFF} if off else {fa.STATUS_OFF, fa.STATUS_ON}),
        confirm_poll=off,
        secrets=fa.secret_values(params),
    )


def fence(server: str, config: FenceConfig) -> FenceResult:
    """Fence ``server``: :func:`fence_plan`, then :func:`standfast.host.power.fence`.

    Blocks for at most about ``attempts * (timeout + grace) + (attempts - 1) *
    retry_delay + confirm_timeout + grace`` (grace: ``power.COMMAND_GRACE``). Not
    configured for ``server`` (or a bad name): not ok, code 192047, nothing runs.
    """
    plan = fence_plan(server, config)
    if plan is None:
        reason = "no fence command" if config.command_for(server) is None else "invalid server name"
        log.error("%s: no fence command is configured for server %s", FENCE_NOT_CONFIGURED, server)
        return FenceResult(False, 0, "", 0.0, code=FENCE_NOT_CONFIGURED, detail=reason)
    return power.fence(plan)


async def fence_async(server: str, config: FenceConfig) -> FenceResult:
    """:func:`fence` in a worker thread (it only waits on child processes, with deadlines)."""
    return await asyncio.to_thread(fence, server, config)
