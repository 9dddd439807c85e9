"""Run a Standfast daemon that also serves the remote API (HTTPS) and the GUI.

Until ``standfast.daemon.main`` starts the remote API itself, this wraps its engine
factory to start it (``start_remote_from_env``) next to the local socket API; once the
daemon does so, this simply runs the daemon. Settings come from the environment
(``STANDFAST_REMOTE_LISTEN``, ``STANDFAST_SESSION_TTL``, ...).
"""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import standfast.daemon.main as daemon_main
from standfast.api.remote import start_remote_from_env
from standfast.config.paths import Paths, server_name

_tasks: list[asyncio.Task[None]] = []


def _wrap() -> None:
    original = daemon_main.make_engine

    def make_engine(*args: Any, **kwargs: Any) -> Any:
        engine = original(*args, **kwargs)
        task = start_remote_from_env(engine)
        if task is not None:
            _tasks.append(task)
        return engine

    daemon_main.make_engine = make_engine  # type: ignore[assignment]


if __name__ == "__main__":
    if "start_remote_from_env" not in inspect.getsource(daemon_main):
        _wrap()
    daemon_main.run_daemon(Paths.from_env(), server_name())
