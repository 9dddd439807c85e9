"""Tunables from the defaults file (``/etc/default/standfast``).

The file is ``NAME=VALUE`` lines as in the reference product's defaults file; it
is parsed, never sourced by a shell. The guide's names (LKNFSTIMEOUT,
LKNFSSYSCALLTO, LKNASERROR) are kept; Standfast's own start with ``SF_``.
"""

from __future__ import annotations

import math
import os
import re
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Literal

from standfast.messages import Notice

DEFAULTS_PATH = Path("/etc/default/standfast")
DEFAULTS_ENV = "STANDFAST_DEFAULTS"

NasErrorAction = Literal["switch", "halt"]


@dataclass(frozen=True)
class Tunables:
    LKNFSTIMEOUT: int = 120
    LKNFSSYSCALLTO: int = 5
    LKNASERROR: NasErrorAction = "switch"
    SF_QUICKCHECK_INTERVAL: float = 2.0
    SF_DEEPCHECK_INTERVAL: float = 30.0
    SF_NFS_RPC_TIMEOUT: float = 5.0
    SF_NAS_LOCAL_RECOVERY: bool = False
    SF_ACTION_TIMEOUT: float = 300.0
    SF_UMOUNT_TERM_WAIT: float = 5.0
    SF_UMOUNT_KILL: bool = True
    # poweroff(8) --force --no-sync: reboot(2) at once, without sync(2), which blocks on
    # the dirty pages of an NFS mount whose server is gone, when a halt is asked for
    # (systemctl poweroff -ff syncs, and hung 33 s in the vm lab; it has no --no-sync).
    SF_HALT_COMMAND: tuple[str, ...] = ("/sbin/poweroff", "--force", "--no-sync")
    # Self-fencing: the watchdog device the control loop pets ("" = none), its timeout,
    # and the margin peers add before they take over from a server that went silent.
    SF_WATCHDOG_DEVICE: str = ""
    SF_WATCHDOG_TIMEOUT: int = 10
    SF_WATCHDOG_MARGIN: float = 2.0
    # A clean stop in a cluster hands the hierarchies over first, within this time
    # (engine/leave.py); the unit's TimeoutStopSec is longer.
    SF_STOP_TIMEOUT: float = 60.0
    # The daemon's real-time priority (SCHED_RR, memory locked), as corosync's; 0: none.
    SF_REALTIME_PRIORITY: int = 10
    # The ocf kit: where the OCF resource agents are installed (their OCF_ROOT).
    SF_OCF_ROOT: str = "/usr/lib/ocf"
    # The lasting event history (docs/events.md): at most this many events, none older
    # than this many days.
    SF_EVENT_KEEP: int = 10_000
    SF_EVENT_KEEP_DAYS: int = 30
    # The daemon's logs (docs/install.md, "Logs"): level, where to (auto: the journal
    # when systemd started the daemon, else the file), syslog's facility.
    SF_LOG_LEVEL: str = "info"
    SF_LOG_TARGET: str = "auto"
    SF_SYSLOG_FACILITY: str = "daemon"
    sources: Mapping[str, str] = field(default_factory=dict, compare=False)
    # The daemon's environment settings that stand in the same file (not tunables;
    # kept so ``tunables check`` can check them as the daemon will).
    environment: Mapping[str, str] = field(default_factory=dict, compare=False)

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {}
        for f in fields(self):
            if f.name in ("sources", "environment"):
                continue
            value = getattr(self, f.name)
            out[f.name] = shlex.join(value) if isinstance(value, tuple) else value
        return out


#: Every duration tunable lies between these, in seconds. The floor, 10 ms, is the
#: shortest time limit or interval the daemon can keep (its loop and the host's timers
#: are not finer), so ``1e-300`` is refused instead of timing every action out at once.
#: The ceiling, one day, is longer than any check interval or time limit may sanely be,
#: and keeps every deadline computed from it (``monotonic() + value``) exact: ``inf``
#: or ``1e309`` silently switched failure detection off and ``nan`` broke comparisons.
SECONDS_MIN = 0.01
SECONDS_MAX = 86_400.0
#: The guide's whole-second tunables (LKNFSTIMEOUT, LKNFSSYSCALLTO): 1 s to a day.
WHOLE_SECONDS_MAX = 86_400
# More digits than any value in range: longer text is refused before int() sees it.
_MAX_DIGITS = 12


def _whole_seconds(v: str) -> int:
    """1-86400 whole seconds; ValueError names the range otherwise."""
    text = v.strip()
    if not re.fullmatch(r"[+-]?[0-9]+", text):
        raise ValueError("must be a whole number of seconds")
    if len(text.lstrip("+-").lstrip("0")) > _MAX_DIGITS:
        raise ValueError(f"must be 1 to {WHOLE_SECONDS_MAX} seconds")
    n = int(text)
    if n <= 0:
        raise ValueError("must be a positive whole number of seconds")
    if n > WHOLE_SECONDS_MAX:
        raise ValueError(f"must be 1 to {WHOLE_SECONDS_MAX} seconds")
    return n


def _seconds(v: str) -> float:
    """A finite number of seconds, :data:`SECONDS_MIN` to :data:`SECONDS_MAX`."""
    try:
        n = float(v)
    except ValueError:
        raise ValueError("must be a number of seconds") from None
    if not math.isfinite(n):
        raise ValueError("must be a finite number of seconds")
    if not n > 0:
        raise ValueError("must be a positive number of seconds")
    if not SECONDS_MIN <= n <= SECONDS_MAX:
        raise ValueError(f"must be {SECONDS_MIN:g} to {SECONDS_MAX:g} seconds")
    return n


def _nas_error(v: str) -> str:
    if v not in ("switch", "halt"):
        raise ValueError("must be switch or halt")
    return v


def _boolean(v: str) -> bool:
    low = v.lower()
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("0", "false", "no", "off"):
        return False
    raise ValueError("must be true or false")


def _argv(v: str) -> tuple[str, ...]:
    if "\x00" in v:
        # exec() cannot take it: the halt would fail when it is needed.
        raise ValueError("must not contain a NUL character")
    parts = tuple(shlex.split(v))
    if not parts:
        raise ValueError("must name a command")
    return parts


def _whole(low: int, high: int, unit: str) -> Callable[[str], int]:
    """A whole number of ``unit`` from ``low`` to ``high``."""

    def parse(v: str) -> int:
        text = v.strip()
        if not re.fullmatch(r"[+-]?[0-9]{1,12}", text) or not low <= int(text) <= high:
            raise ValueError(f"must be a whole number of {unit}, {low} to {high}")
        return int(text)

    return parse


LOG_LEVELS = ("debug", "info", "warning", "error")
LOG_TARGETS = ("journal", "syslog", "file")
#: syslog's facilities (logging.handlers.SysLogHandler.facility_names, without the
#: kernel's and the obsolete "security").
SYSLOG_FACILITIES = (
    "auth", "authpriv", "cron", "daemon", "ftp", "lpr", "mail", "news", "syslog", "user",
    "uucp", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
)  # fmt: skip


def _log_level(v: str) -> str:
    if v.lower() not in LOG_LEVELS:
        raise ValueError("must be debug, info, warning or error")
    return v.lower()


def log_targets(value: str) -> tuple[str, ...]:
    """``auto`` (the empty tuple) or a comma list of journal, syslog and file."""
    words = [w.strip() for w in value.lower().split(",")]
    if words == ["auto"]:
        return ()
    if any(w not in LOG_TARGETS for w in words) or len(set(words)) != len(words):
        raise ValueError("must be auto, or a comma list of journal, syslog and file")
    return tuple(words)


def _log_target(v: str) -> str:
    return ",".join(log_targets(v)) or "auto"


def _facility(v: str) -> str:
    if v.lower() not in SYSLOG_FACILITIES:
        raise ValueError("must be a syslog facility: daemon, user, local0 to local7 ...")
    return v.lower()


def _device(v: str) -> str:
    if v in ("", "off", "none"):
        return ""
    if "\x00" in v or not v.startswith("/"):
        raise ValueError("must be an absolute device path, or off")
    return v


def _directory(v: str) -> str:
    if "\x00" in v or not v.startswith("/"):
        raise ValueError("must be an absolute directory path")
    return v.rstrip("/") or "/"


_PARSERS: dict[str, Callable[[str], object]] = {
    "LKNFSTIMEOUT": _whole_seconds,
    "LKNFSSYSCALLTO": _whole_seconds,
    "LKNASERROR": _nas_error,
    "SF_QUICKCHECK_INTERVAL": _seconds,
    "SF_DEEPCHECK_INTERVAL": _seconds,
    "SF_NFS_RPC_TIMEOUT": _seconds,
    "SF_NAS_LOCAL_RECOVERY": _boolean,
    "SF_ACTION_TIMEOUT": _seconds,
    "SF_UMOUNT_TERM_WAIT": _seconds,
    "SF_UMOUNT_KILL": _boolean,
    "SF_HALT_COMMAND": _argv,
    "SF_WATCHDOG_DEVICE": _device,
    "SF_WATCHDOG_TIMEOUT": _whole_seconds,
    "SF_WATCHDOG_MARGIN": _seconds,
    "SF_STOP_TIMEOUT": _seconds,
    "SF_REALTIME_PRIORITY": _whole(0, 99, "priority"),
    "SF_OCF_ROOT": _directory,
    "SF_EVENT_KEEP": _whole(100, 1_000_000, "events"),
    "SF_EVENT_KEEP_DAYS": _whole(1, 3650, "days"),
    "SF_LOG_LEVEL": _log_level,
    "SF_LOG_TARGET": _log_target,
    "SF_SYSLOG_FACILITY": _facility,
}


def defaults_path(explicit: Path | None = None, env: Mapping[str, str] | None = None) -> Path:
    """CLI option, then the environment variable, then /etc/default/standfast."""
    if explicit is not None:
        return explicit
    env = os.environ if env is None else env
    return Path(env[DEFAULTS_ENV]) if env.get(DEFAULTS_ENV) else DEFAULTS_PATH


def parse_defaults(text: str, path: Path, server: str) -> tuple[Tunables, list[Notice]]:
    values: dict[str, object] = {}
    sources: dict[str, str] = {}
    environment: dict[str, str] = {}
    notices: list[Notice] = []
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export ") :].strip()
        name, sep, value = line.partition("=")
        name = name.strip()
        if not sep or not name.isidentifier():
            notices.append(Notice.of("190304", line=lineno, path=path))
            continue
        try:
            words = shlex.split(value, comments=True)
        except ValueError:
            notices.append(Notice.of("190304", line=lineno, path=path))
            continue
        # One quoted word stays as written; several words are rejoined for the parser.
        text_value = words[0] if len(words) == 1 else shlex.join(words)
        if name in ENVIRONMENT_SETTINGS:
            environment[name] = text_value
            continue
        parser = _PARSERS.get(name)
        if parser is None:
            notices.append(Notice.of("190303", name=name, path=path))
            continue
        try:
            values[name] = parser(text_value)
            sources[name] = f"{path}:{lineno}"
        except ValueError as exc:
            default = getattr(Tunables(), name)
            shown = shlex.join(default) if isinstance(default, tuple) else default
            notices.append(
                Notice.of(
                    "190302", value=text_value, name=name, path=path, reason=exc, default=shown
                )
            )
    tunables = Tunables(**values, sources=sources, environment=environment)  # type: ignore[arg-type]
    if not 3 * tunables.LKNFSSYSCALLTO + 5 < tunables.LKNFSTIMEOUT:
        # The guide's rule: fall back to both defaults together, not one of them.
        notices.append(Notice.of("107009", server=server))
        tunables = Tunables(
            **{**values, "LKNFSTIMEOUT": 120, "LKNFSSYSCALLTO": 5},  # type: ignore[arg-type]
            sources=sources,
            environment=environment,
        )
    wd, margin = tunables.SF_WATCHDOG_TIMEOUT, tunables.SF_WATCHDOG_MARGIN
    if not (2 <= wd <= 300 and 1.0 <= margin <= wd):
        # Like 107009: both fall back together, so the peers' wait stays consistent.
        notices.append(Notice.of("190305", server=server, timeout=wd, margin=margin))
        tunables = replace(tunables, SF_WATCHDOG_TIMEOUT=10, SF_WATCHDOG_MARGIN=2.0)
    return tunables, notices


#: Settings the daemon reads from its environment. systemd reads them from this same
#: file (the unit's ``EnvironmentFile=-/etc/default/standfast``), so they may stand
#: here beside the tunables; they are not tunables and are not reported as unknown.
ENVIRONMENT_SETTINGS = frozenset(
    {
        "STANDFAST_HOME",
        "STANDFAST_DATA_DIR",
        "STANDFAST_SOCKET",
        "STANDFAST_LOG",
        "STANDFAST_FSTAB",
        "STANDFAST_MOUNTINFO",
        "STANDFAST_SERVER",
        "STANDFAST_LANG",
        "STANDFAST_REMOTE_LISTEN",
        "STANDFAST_TLS_CERT",
        "STANDFAST_TLS_KEY",
        "STANDFAST_SESSION_TTL",
        "STANDFAST_PAM_SERVICE",
        # The API's limits (standfast.api.limits.ENV_NAMES, docs/security.md).
        "STANDFAST_API_MAX_CONNECTIONS",
        "STANDFAST_API_MAX_PER_SOURCE",
        "STANDFAST_LOCAL_MAX_CONNECTIONS",
        "STANDFAST_LOCAL_MAX_PER_USER",
        "STANDFAST_API_HEADER_TIMEOUT",
        "STANDFAST_API_BODY_TIMEOUT",
        "STANDFAST_API_MAX_BODY",
        "STANDFAST_API_MAX_JSON_DEPTH",
        "STANDFAST_API_MAX_JSON_DIGITS",
        "STANDFAST_LOGIN_FAILURES",
        "STANDFAST_LOGIN_LOCKOUT",
        "STANDFAST_LOGIN_LOCKOUT_MAX",
        "STANDFAST_METRICS",
        "STANDFAST_METRICS_LISTEN",
    }
)


def load_tunables(path: Path, server: str) -> tuple[Tunables, list[Notice]]:
    """A missing file means the defaults; an unreadable one is reported, not fatal."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Tunables(), []
    except (OSError, UnicodeDecodeError) as exc:
        return Tunables(), [Notice.of("190301", path=path, reason=exc)]
    return parse_defaults(text, path, server)
