"""Tunables from the defaults file (``/etc/default/standfast``).

The file is ``NAME=VALUE`` lines as in the reference product's defaults file; it
is parsed, never sourced by a shell. The guide's names (LKNFSTIMEOUT,
LKNFSSYSCALLTO, LKNASERROR) are kept; Standfast's own start with ``SF_``.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
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
    SF_HALT_COMMAND: tuple[str, ...] = ("systemctl", "poweroff", "--force", "--force")
    sources: Mapping[str, str] = field(default_factory=dict, compare=False)

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {}
        for f in fields(self):
            if f.name == "sources":
                continue
            value = getattr(self, f.name)
            out[f.name] = shlex.join(value) if isinstance(value, tuple) else value
        return out


def _positive_int(v: str) -> int:
    n = int(v)
    if n <= 0:
        raise ValueError("must be a positive whole number of seconds")
    return n


def _positive_float(v: str) -> float:
    n = float(v)
    if not n > 0:
        raise ValueError("must be a positive number of seconds")
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
    parts = tuple(shlex.split(v))
    if not parts:
        raise ValueError("must name a command")
    return parts


_PARSERS: dict[str, Callable[[str], object]] = {
    "LKNFSTIMEOUT": _positive_int,
    "LKNFSSYSCALLTO": _positive_int,
    "LKNASERROR": _nas_error,
    "SF_QUICKCHECK_INTERVAL": _positive_float,
    "SF_DEEPCHECK_INTERVAL": _positive_float,
    "SF_NFS_RPC_TIMEOUT": _positive_float,
    "SF_NAS_LOCAL_RECOVERY": _boolean,
    "SF_ACTION_TIMEOUT": _positive_float,
    "SF_UMOUNT_TERM_WAIT": _positive_float,
    "SF_UMOUNT_KILL": _boolean,
    "SF_HALT_COMMAND": _argv,
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
    tunables = Tunables(**values, sources=sources)  # type: ignore[arg-type]
    if not 3 * tunables.LKNFSSYSCALLTO + 5 < tunables.LKNFSTIMEOUT:
        # The guide's rule: fall back to both defaults together, not one of them.
        notices.append(Notice.of("107009", server=server))
        tunables = Tunables(
            **{**values, "LKNFSTIMEOUT": 120, "LKNFSSYSCALLTO": 5},  # type: ignore[arg-type]
            sources=sources,
        )
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
