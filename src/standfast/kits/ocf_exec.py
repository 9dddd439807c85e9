"""Running one OCF agent action: its environment, its exit code, what that code means.

Contracts:
- :func:`agent_env` and :func:`outcome` are pure.
- :func:`run_action` runs the agent without a shell (``argv`` = the agent's path and the
  action), in ``/``, with the OCF environment, bounded by ``timeout`` (the child runner
  kills the agent's whole process group when it overruns). It never raises for the
  agent's own failure: the :class:`Outcome` says what happened.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from pathlib import Path

from standfast.host.commands import run
from standfast.model.resources import PropValue

_OUTPUT_SHOWN = 400
_DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class OcfCode(IntEnum):
    """The OCF exit codes (OCF resource agent API 1.1, "Return codes")."""

    SUCCESS = 0
    ERR_GENERIC = 1
    ERR_ARGS = 2
    ERR_UNIMPLEMENTED = 3
    ERR_PERM = 4
    ERR_INSTALLED = 5
    ERR_CONFIGURED = 6
    NOT_RUNNING = 7
    RUNNING_PROMOTED = 8
    FAILED_PROMOTED = 9
    DEGRADED = 190
    DEGRADED_PROMOTED = 191


class Kind(StrEnum):
    """What an action's result means to Standfast."""

    OK = "ok"  # done / running
    DEGRADED = "degraded"  # running, but the agent warns (still in service)
    STOPPED = "stopped"  # not running (a clean stop)
    FAILED = "failed"  # a soft error: recovery here, then failover, may help
    NOT_HERE = "not_here"  # cannot run on this server (ERR_INSTALLED, ERR_PERM): try the next
    CONFIG = "config"  # the configuration is wrong (ERR_CONFIGURED): no server can run it
    TIMEOUT = "timeout"


_MEANINGS: Mapping[int, str] = {
    0: "OCF_SUCCESS",
    1: "OCF_ERR_GENERIC (generic error)",
    2: "OCF_ERR_ARGS (invalid arguments)",
    3: "OCF_ERR_UNIMPLEMENTED (action not implemented)",
    4: "OCF_ERR_PERM (insufficient permissions)",
    5: "OCF_ERR_INSTALLED (not installed on this server)",
    6: "OCF_ERR_CONFIGURED (invalid configuration)",
    7: "OCF_NOT_RUNNING (not running)",
    8: "OCF_RUNNING_PROMOTED (running promoted)",
    9: "OCF_FAILED_PROMOTED (failed promoted)",
    190: "OCF_DEGRADED (running, degraded)",
    191: "OCF_DEGRADED_PROMOTED (promoted, degraded)",
}


def meaning(code: int) -> str:
    return _MEANINGS.get(code, f"exit status {code} (not an OCF code: a generic error)")


@dataclass(frozen=True)
class Outcome:
    action: str
    code: int
    kind: Kind
    output: str
    seconds: float

    @property
    def ok(self) -> bool:
        return self.kind in (Kind.OK, Kind.DEGRADED)

    @property
    def meaning(self) -> str:
        return "timed out" if self.kind == Kind.TIMEOUT else meaning(self.code)


def classify(action: str, code: int, timed_out: bool) -> Kind:
    """The meaning of exit ``code`` for ``action``, per the OCF specification:
    for monitor, OCF_NOT_RUNNING is a stopped resource (a failure while in service);
    for stop, OCF_NOT_RUNNING is a success (already stopped)."""
    if timed_out:
        return Kind.TIMEOUT
    if code in (OcfCode.SUCCESS, OcfCode.RUNNING_PROMOTED):
        return Kind.OK
    if code in (OcfCode.DEGRADED, OcfCode.DEGRADED_PROMOTED):
        return Kind.DEGRADED
    if code == OcfCode.NOT_RUNNING:
        return Kind.OK if action == "stop" else Kind.STOPPED
    if code in (OcfCode.ERR_INSTALLED, OcfCode.ERR_PERM):
        return Kind.NOT_HERE
    if code in (OcfCode.ERR_CONFIGURED, OcfCode.ERR_ARGS):
        # ERR_ARGS from validate-all or start is a parameter the agent refuses.
        return Kind.CONFIG
    return Kind.FAILED


def env_value(value: PropValue) -> str:
    """A property as the agent reads it: booleans as OCF's ``true``/``false``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def agent_env(
    base: Mapping[str, str],
    *,
    root: str,
    provider: str,
    kind: str,
    instance: str,
    params: Mapping[str, PropValue],
    timeout: float,
    check_level: int | None = None,
) -> dict[str, str]:
    """The OCF environment of one action: the daemon's own environment without any
    ``OCF_`` variable of its own, then ``OCF_ROOT``, ``OCF_RESOURCE_INSTANCE``, the
    ``OCF_RESKEY_<name>`` of every parameter, the action's timeout in milliseconds
    (``OCF_RESKEY_CRM_meta_timeout``, as Pacemaker passes it) and the monitor depth."""
    env = {k: v for k, v in base.items() if not k.startswith("OCF_")}
    env.setdefault("PATH", _DEFAULT_PATH)
    # The agents' ocf_log writes to syslog unless told otherwise; to stderr it reaches
    # Standfast's own log and messages.
    env.setdefault("HA_LOGFACILITY", "none")
    env.update(
        OCF_ROOT=root,
        OCF_FUNCTIONS_DIR=str(Path(root) / "lib" / "heartbeat"),
        OCF_RA_VERSION_MAJOR="1",
        OCF_RA_VERSION_MINOR="1",
        OCF_RESOURCE_INSTANCE=instance,
        OCF_RESOURCE_PROVIDER=provider,
        OCF_RESOURCE_TYPE=kind,
        OCF_RESKEY_CRM_meta_timeout=str(int(timeout * 1000)),
    )
    for name, value in params.items():
        env[f"OCF_RESKEY_{name}"] = env_value(value)
    if check_level is not None:
        env["OCF_CHECK_LEVEL"] = str(check_level)
    return env


def run_action(path: Path, action: str, env: Mapping[str, str], timeout: float) -> Outcome:
    """Run ``path action`` once; see the module's contract."""
    result = run([str(path), action], timeout=timeout, env=env, cwd="/")
    output = (result.stderr.strip() or result.stdout.strip())[-_OUTPUT_SHOWN:]
    kind = classify(action, result.returncode, result.timed_out)
    return Outcome(action, result.returncode, kind, output, result.duration)


def daemon_env() -> dict[str, str]:
    return dict(os.environ)
