"""``standfast daemon``: one server's control loop plus its local API socket."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import socket
from collections.abc import Mapping
from functools import partial
from pathlib import Path

import uvicorn

from standfast import __version__
from standfast.api.app import create_app
from standfast.api.guarded import guarded_protocol, uid_of
from standfast.api.limits import (
    ApiLimits,
    ConnectionGuard,
    install_repeat_filter,
    peer_connection_limit,
)
from standfast.api.peer import PeerCredH11Protocol
from standfast.api.request_limits import RequestLimits
from standfast.cluster.definition import load_definition
from standfast.cluster.keyring import KeyFileError, KeyRing, load_keys
from standfast.config.paths import Paths
from standfast.config.tunables import Tunables, load_tunables
from standfast.daemon import realtime
from standfast.daemon.descriptors import raise_nofile
from standfast.daemon.logs import LEVELS, LogSetup, setup_logging
from standfast.daemon.notify import Notifier, supervise
from standfast.engine.engine import Engine
from standfast.engine.events import LIMIT as EVENTS_IN_MEMORY
from standfast.engine.service import EngineService
from standfast.host.watchdog import Watchdog
from standfast.messages import Notice, StandfastError
from standfast.model.event_query import Retention
from standfast.store.database import Store
from standfast.store.history import EventHistory

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


_OFF = ("off", "no", "none", "0")  # as standfast.api.remote.settings reads them


def _remote_wanted(env: Mapping[str, str]) -> bool:
    """Whether the HTTPS API or the plain monitoring port is to be served.

    When both are off (``STANDFAST_REMOTE_LISTEN=off`` and no
    ``STANDFAST_METRICS_LISTEN``) the remote stack (TLS, PAM, sessions, the relay's
    HTTP client) is not even imported: it would only cost a lone daemon resident
    memory (issue 12). Its other settings then configure nothing, so none is read."""
    remote = env.get("STANDFAST_REMOTE_LISTEN", "").strip().lower()
    metrics = env.get("STANDFAST_METRICS_LISTEN", "").strip().lower()
    return remote not in _OFF or metrics not in ("", *_OFF)


def _start_remote(service: EngineService) -> list[asyncio.Task[None]]:
    if not _remote_wanted(os.environ):
        return []
    from standfast.api.remote import start_remote_from_env

    return start_remote_from_env(service)


def _freeze_startup_heap() -> None:
    """Move what start-up allocated (modules, the app, the engine) out of the cyclic
    garbage collector's reach: it lives as long as the daemon, and every full
    collection would otherwise walk it again, a steady cost at rest (issue 12). New
    objects are collected as before; nothing is leaked that was not kept anyway."""
    gc.collect()
    gc.freeze()


def _log_notice(n: Notice) -> None:
    level = {"info": logging.INFO, "warning": logging.WARNING}.get(str(n.severity), logging.ERROR)
    log.log(level, n.text("en"), extra={"sf_code": n.code})


def make_engine(paths: Paths, server: str, store: Store, tunables: Tunables) -> Engine:
    """A cluster member when this server has a cluster definition, else a lone server."""
    definition = load_definition(paths.cluster_definition)
    if definition is None:
        return Engine(server, store, tunables, paths)
    try:
        ring = KeyRing(load_keys(paths.cluster_key))
    except KeyFileError as exc:
        raise StandfastError(
            exc.code, path=paths.cluster_key, reason=exc.text, minimum=32
        ) from None
    return Engine(server, store, tunables, paths, (definition, ring))


def _on_sighup(logs: LogSetup | None, engine: Engine) -> None:
    if logs is not None:
        logs.reopen()
    if engine.rekey is not None:
        engine.rekey.reload()


def _arm_watchdog(tunables: Tunables) -> Watchdog | None:
    """The watchdog the control loop pets (SF_WATCHDOG_DEVICE), armed now; 190502 when
    it is configured but cannot be opened."""
    device = tunables.SF_WATCHDOG_DEVICE
    if not device:
        return None
    wd = Watchdog(device, tunables.SF_WATCHDOG_TIMEOUT)
    try:
        timeout = wd.open()
    except OSError as exc:
        raise StandfastError("190502", device=device, reason=exc.strerror or exc) from None
    _log_notice(Notice.of("190503", device=device, timeout=timeout))
    return wd


def _limits() -> ApiLimits:
    """The API's limits from the environment, within the (raised) descriptor limit;
    logged (194098) so an operator sees what is in force."""
    nofile, notices = raise_nofile()
    limits, more = ApiLimits.from_env()
    for n in (*notices, *more):
        _log_notice(n)
    limits = limits.within_descriptors(nofile)
    _log_notice(
        Notice.of(
            "194098",
            limit=nofile,
            remote=limits.max_connections,
            local=limits.local_max_connections,
            peer=peer_connection_limit(nofile),
        )
    )
    return limits


def _local_api_config(
    service: EngineService, socket_path: Path, limits: ApiLimits
) -> uvicorn.Config:
    """The local socket's server: every caller's uid (SO_PEERCRED), at most
    ``local_max_per_user`` connections per uid, headers within ``header_timeout``, bodies
    within the request limits."""
    guard = ConnectionGuard("local socket", limits.local_max_connections, limits.local_max_per_user)
    return uvicorn.Config(
        RequestLimits(create_app(service), limits),
        uds=str(socket_path),
        http=guarded_protocol(
            guard, limits.header_timeout, base=PeerCredH11Protocol, source_of=uid_of
        ),
        lifespan="off",
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=5,
    )


def open_history(paths: Paths, tunables: Tunables, engine: Engine) -> EventHistory:
    """The lasting event history: its newest events into the engine's EventLog (the
    timeline survives a restart), then every new event stored by its writer thread."""
    retention = Retention(tunables.SF_EVENT_KEEP, tunables.SF_EVENT_KEEP_DAYS)
    history = EventHistory(paths.database, retention)
    history.prune_now()
    loaded = history.recent(EVENTS_IN_MEMORY)
    engine.core.events.preload(loaded)
    engine.core.events.subscribe(history.record)
    history.start()
    _log_notice(
        Notice.of(
            "196007",
            loaded=len(loaded),
            path=paths.database,
            keep=retention.keep,
            days=retention.days,
        )
    )
    return history


async def serve(paths: Paths, server: str, logs: LogSetup | None = None) -> None:
    # Read (and unset) systemd's variables first: nothing the daemon starts inherits them.
    notifier = Notifier.from_env()
    if _socket_in_use(paths.socket):
        raise StandfastError("190205", socket=paths.socket)
    limits = _limits()
    tunables, notices = load_tunables(paths.defaults, server)
    # The event loop's thread (heartbeats, control loop, API) alone runs real-time.
    notices += realtime.claim(tunables.SF_REALTIME_PRIORITY)
    for n in notices:
        _log_notice(n)
    store = Store(paths.database)
    engine = make_engine(paths, server, store, tunables)
    watchdog = _arm_watchdog(tunables)
    if watchdog is not None:
        engine.after_cycle(watchdog.pet)
    history = open_history(paths, tunables, engine)
    service = EngineService(engine, history)
    paths.socket.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        paths.socket.unlink()  # stale: nothing answered on it above
    api = uvicorn.Server(_local_api_config(service, paths.socket, limits))
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()

    def on_signal(signum: int, frame: object) -> None:
        loop.call_soon_threadsafe(stopping.set)

    # uvicorn swaps in its own handlers while serving and re-raises the signal after;
    # ours must be the ones it restores so that re-raise stops us gracefully.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)
    # SIGHUP (logrotate's postrotate, systemctl reload): reopen the log file and read
    # the cluster key file again, in the loop's thread (never inside the signal
    # handler, which may interrupt a handler holding its lock).
    loop.add_signal_handler(signal.SIGHUP, partial(_on_sighup, logs, engine))
    _log_notice(Notice.of("190208", server=server, version=__version__))
    engine_task = asyncio.create_task(engine.run())
    api_task = asyncio.create_task(api.serve())
    # The HTTPS API and GUI (unless STANDFAST_REMOTE_LISTEN=off) and the plain monitoring
    # port (STANDFAST_METRICS_LISTEN). Not awaited with the others: they log their own
    # failures and must never stop the daemon.
    remote_tasks = _start_remote(service)
    while not api.started and not api_task.done():
        await asyncio.sleep(0.02)
    _freeze_startup_heap()
    if paths.socket.exists():
        # Anyone may connect; what they may do is decided by their uid (SO_PEERCRED).
        os.chmod(paths.socket, 0o666)
    # READY=1 once the API answers and a first cycle ran, then the watchdog's pets.
    notify_task = asyncio.create_task(supervise(notifier, engine, paths.socket, server))
    stop_task = asyncio.create_task(stopping.wait())
    await asyncio.wait({engine_task, api_task, stop_task}, return_when=asyncio.FIRST_COMPLETED)
    _log_notice(Notice.of("190209", server=server))
    notifier.send("STOPPING=1")
    api.should_exit = True
    for t in remote_tasks:
        t.cancel()
    if not engine_task.done():
        # A cluster member hands its hierarchies over while its loop still turns (its
        # peers would otherwise take them over while they still run here), and systemd's
        # watchdog is still told so.
        await engine.leave()
    notify_task.cancel()
    engine.stop()
    if watchdog is not None:
        watchdog.close()  # a clean stop disarms it; a crash or a hang does not
    if remote_tasks:
        await asyncio.wait(remote_tasks, timeout=6)
    await asyncio.wait({api_task}, timeout=6)
    await asyncio.wait_for(engine.aclose(), timeout=5)
    engine_task.cancel()
    history.close()  # what is queued is stored (bounded: 3 s)
    store.close()
    notifier.close()
    with contextlib.suppress(FileNotFoundError):
        paths.socket.unlink()
    for t in (engine_task, api_task):
        if t.done() and not t.cancelled() and t.exception() is not None:
            raise t.exception()  # type: ignore[misc]


def run_daemon(paths: Paths, server: str, *, foreground_log: bool = True) -> None:
    # The log settings are tunables: read them first (``serve`` reads the file again
    # and logs its messages, once the logs are in place).
    tunables, _ = load_tunables(paths.defaults, server)
    logs = setup_logging(
        paths.log_file,
        to_stderr=foreground_log,
        level=LEVELS[tunables.SF_LOG_LEVEL],
        target=tunables.SF_LOG_TARGET,
        facility=tunables.SF_SYSLOG_FACILITY,
    )
    # asyncio's accept loop logs a traceback per EMFILE; uvicorn one line per bad request.
    install_repeat_filter(logging.getLogger("standfast"), "asyncio", "uvicorn.error", "uvicorn")
    asyncio.run(serve(paths, server, logs))
