"""Where a daemon keeps its files; every path can be pointed elsewhere.

``STANDFAST_HOME`` moves them all under one directory (tests and the lab use it);
single variables override one path each.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from standfast.config.tunables import defaults_path


@dataclass(frozen=True)
class Paths:
    data_dir: Path
    socket: Path
    defaults: Path
    log_file: Path
    fstab: Path
    mountinfo: Path

    @property
    def database(self) -> Path:
        return self.data_dir / "standfast.db"

    @property
    def cluster_definition(self) -> Path:
        return self.data_dir / "cluster.json"

    @property
    def cluster_key(self) -> Path:
        return self.data_dir / "cluster.key"

    @property
    def fstab_backups(self) -> Path:
        return self.data_dir / "fstab-backups"

    @classmethod
    def from_env(
        cls,
        env: Mapping[str, str] | None = None,
        *,
        home: Path | None = None,
        socket_path: Path | None = None,
        defaults: Path | None = None,
    ) -> Paths:
        env = os.environ if env is None else env
        base = home or (Path(env["STANDFAST_HOME"]) if env.get("STANDFAST_HOME") else None)

        def pick(var: str, under_home: str, system: str) -> Path:
            if env.get(var):
                return Path(env[var])
            return base / under_home if base else Path(system)

        return cls(
            data_dir=pick("STANDFAST_DATA_DIR", "lib", "/var/lib/standfast"),
            socket=socket_path
            or pick("STANDFAST_SOCKET", "run/standfast.sock", "/run/standfast/standfast.sock"),
            defaults=defaults or _defaults(env, base),
            log_file=pick("STANDFAST_LOG", "log/standfast.log", "/var/log/standfast/standfast.log"),
            # The cluster owns the real fstab entry; only an explicit variable moves it.
            fstab=Path(env.get("STANDFAST_FSTAB", "/etc/fstab")),
            mountinfo=Path(env.get("STANDFAST_MOUNTINFO", "/proc/self/mountinfo")),
        )


def _defaults(env: Mapping[str, str], base: Path | None) -> Path:
    if base is not None and not env.get("STANDFAST_DEFAULTS"):
        return base / "defaults"
    return defaults_path(None, env)


def server_name(env: Mapping[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    return env.get("STANDFAST_SERVER") or socket.gethostname().split(".")[0]
