"""``standfast daemon``: one server's control loop plus its local API socket."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
from pathlib import Path

import uvicorn

from standfast import __version__
from standfast.api.app import create_app
from standfast.api.peer import PeerCredH11Protocol
from standfast.api.remote import start_remote_from_env
from standfast.cluster.auth import KeyFileError, load_key
from standfast.cluster.definition import load_definition
from standfast.config.paths import Paths
from standfast.config.tunables import Tunables, load_tunables
from standfast.daemon.logs import setup_logging
from standfast.engine.cluster_engine import ClusterEngine
from standfast.engine.engine import Engine
from standfast.messages import Notice, StandfastError
from standfast.store.database import Store

log = logging.getLogger("standfast.daemon")


def _socket_in_use(path: Path) -> bool:
    if not path.exists():
        return False
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(1.0)
    try:
        probe.connect(str(path))
    except OSError:
        return False
    finally:
        probe.close()
    return True


def _log_notice(n: Notice) -> None:
    level = {"info": logging.INFO, "warning": logging.WARNING}.get(str(n.severity), logging.ERROR)
    log.log(level, n.text("en"))


def make_engine(paths: Paths, server: str, store: Store, tunables: Tunables) -> Engine:
    """A cluster member when this server has a cluster definition, else a lone server."""
    definition = load_definition(paths.cluster_definition)
    if definition is None:
        return Engine(server, store, tunables, paths)
    try:
        key = load_key(paths.cluster_key)
    except KeyFileError as exc:
        raise StandfastError(
            exc.code, path=paths.cluster_key, reason=exc.text, minimum=32
        ) from None
    return ClusterEngine(server, store, tunables, paths, definition, key)


async def serve(paths: Paths, server: str) -> None:
    if _socket_in_use(paths.socket):
        raise StandfastError("190205", socket=paths.socket)
    tunables, notices = load_tunables(paths.defaults, server)
    for n in notices:
        _log_notice(n)
    store = Store(paths.database)
    engine = make_engine(paths, server, store, tunables)
    paths.socket.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        paths.socket.unlink()  # stale: nothing answered on it above
    config = uvicorn.Config(
        create_app(engine),
        uds=str(paths.socket),
        http=PeerCredH11Protocol,
        lifespan="off",
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=5,
    )
    api = uvicorn.Server(config)
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()

    def on_signal(signum: int, frame: object) -> None:
        loop.call_soon_threadsafe(stopping.set)

    # uvicorn swaps in its own handlers while serving and re-raises the signal after;
    # ours must be the ones it restores so that re-raise stops us gracefully.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)
    _log_notice(Notice.of("190208", server=server, version=__version__))
    engine_task = asyncio.create_task(engine.run())
    api_task = asyncio.create_task(api.serve())
    # The HTTPS API and GUI (None when STANDFAST_REMOTE_LISTEN=off). Not awaited with
    # the others: it logs its own failures and must never stop the daemon.
    remote_task = start_remote_from_env(engine)
    while not api.started and not api_task.done():
        await asyncio.sleep(0.02)
    if paths.socket.exists():
        # Anyone may connect; what they may do is decided by their uid (SO_PEERCRED).
        os.chmod(paths.socket, 0o666)
    stop_task = asyncio.create_task(stopping.wait())
    await asyncio.wait({engine_task, api_task, stop_task}, return_when=asyncio.FIRST_COMPLETED)
    _log_notice(Notice.of("190209", server=server))
    api.should_exit = True
    engine.stop()
    if remote_task is not None:
        remote_task.cancel()
        await asyncio.wait({remote_task}, timeout=6)
    await asyncio.wait({api_task}, timeout=6)
    await asyncio.wait_for(engine.aclose(), timeout=5)
    engine_task.cancel()
    store.close()
    with contextlib.suppress(FileNotFoundError):
        paths.socket.unlink()
    for t in (engine_task, api_task):
        if t.done() and not t.cancelled() and t.exception() is not None:
            raise t.exception()  # type: ignore[misc]


def run_daemon(paths: Paths, server: str, *, foreground_log: bool = True) -> None:
    setup_logging(paths.log_file, to_stderr=foreground_log)
    asyncio.run(serve(paths, server))
