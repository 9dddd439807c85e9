"""Serving the remote API (its certificate, the HTTPS server) and the plain monitoring
port, as the daemon's tasks."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator, Mapping
from pathlib import Path

import uvicorn

from standfast.api.guarded import guarded_protocol, server_tls_context
from standfast.api.limits import ENV_NAMES, ApiLimits, ConnectionGuard, nofile_limit
from standfast.api.monitoring import monitoring_app
from standfast.api.remote.remote_app import create_remote_app
from standfast.api.remote.settings import RemoteSettings
from standfast.api.tls import ensure_certificate, leaf_certificate
from standfast.engine.service import EngineService
from standfast.messages import Notice, StandfastError

log = logging.getLogger("standfast.api")

_START_POLL = 0.02  # seconds between looks at whether uvicorn is up
_STOP_GRACE = 5.0  # seconds the server has to stop once cancelled


class _Server(uvicorn.Server):
    """The daemon owns the signals; this server stops when its task is cancelled."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def _certificate(
    engine: EngineService, host: str, certfile: Path | str | None, keyfile: Path | str | None
) -> tuple[Path, Path]:
    """The certificate to serve (made once when none is given), announced to the
    peers; 194060 when it cannot be made or read."""
    if certfile is not None and keyfile is not None:
        cert, key = Path(certfile), Path(keyfile)
    else:
        cert, key = await asyncio.to_thread(
            ensure_certificate,
            engine.tls_dir,
            engine.server,
            [host, *engine.addresses(engine.server)],
        )
    try:
        # A lone server has no peers to tell; a cluster member's peers pin it.
        engine.publish_certificate(leaf_certificate(cert.read_text()))
    except (OSError, ValueError) as exc:
        raise StandfastError("194060", path=cert, reason=exc) from None
    return cert, key


async def serve_remote(
    engine: EngineService,
    host: str,
    port: int,
    certfile: Path | str | None,
    keyfile: Path | str | None,
    settings: RemoteSettings | None = None,
) -> None:
    """Serve the remote API and GUI over HTTPS until cancelled. Without a certificate
    one is made (once) in the daemon's data directory. A port that cannot be bound:
    194063. Once cancelled, the server has ``_STOP_GRACE`` seconds to stop.

    Connections are admitted by a :class:`ConnectionGuard` (``settings.limits``, scaled
    to the descriptor limit) and do their TLS handshake and send their headers within
    ``header_timeout`` (see :mod:`standfast.api.guarded`)."""
    settings = settings or RemoteSettings.from_env()[0]
    certfile, keyfile = await _certificate(engine, host, certfile, keyfile)
    limits = settings.limits.within_descriptors(nofile_limit())
    try:
        tls = server_tls_context(str(certfile), str(keyfile))
    except (OSError, ValueError) as exc:
        raise StandfastError("194060", path=certfile, reason=exc) from None
    guard = ConnectionGuard("remote API", limits.max_connections, limits.max_per_source)
    app = create_remote_app(engine, settings)
    app.state.port = port
    app.state.guard = guard
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        http=guarded_protocol(guard, limits.header_timeout, tls=tls),
        lifespan="off",
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=3,
        proxy_headers=False,
    )
    await _serve(_Server(config), Notice.of("194061", host=host, port=port), "194063", host, port)


async def _serve(server: _Server, started: Notice, bind_error: str, host: str, port: int) -> None:
    """Run ``server`` until cancelled, logging ``started`` once it listens; a port that
    cannot be bound raises ``bind_error``. Once cancelled, the server has
    ``_STOP_GRACE`` seconds to stop."""

    async def guarded() -> None:
        try:
            await server.serve()
        except SystemExit:  # uvicorn exits when it cannot bind: not the daemon's exit
            raise StandfastError(bind_error, host=host, port=port) from None

    task = asyncio.create_task(guarded())
    try:
        while not server.started and not task.done():
            await asyncio.sleep(_START_POLL)
        if server.started:
            log.info(started.text("en"))
        await asyncio.shield(task)
    except asyncio.CancelledError:
        server.should_exit = True
        with contextlib.suppress(TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(task, timeout=_STOP_GRACE)
        raise


#: The plain monitoring port serves a few scrapers and probes: a small share of the
#: descriptors, so a flood there cannot take what the checks and the API need.
MONITORING_MAX_CONNECTIONS = 32
MONITORING_MAX_PER_SOURCE = 8


async def serve_monitoring(
    engine: EngineService, host: str, port: int, limits: ApiLimits | None = None
) -> None:
    """Serve ``/metrics`` and the health endpoints over plain HTTP until cancelled (no
    login: the administrator chose to bind it). A port that cannot be bound: 194082.
    Connections are bounded (MONITORING_MAX_CONNECTIONS in all, per source
    MONITORING_MAX_PER_SOURCE) and must send their headers within the API's
    ``header_timeout``, like the remote API's."""
    limits = (limits or ApiLimits()).within_descriptors(nofile_limit())
    guard = ConnectionGuard(
        "monitoring port",
        min(MONITORING_MAX_CONNECTIONS, limits.max_connections),
        min(MONITORING_MAX_PER_SOURCE, limits.max_per_source),
    )
    config = uvicorn.Config(
        monitoring_app(engine),
        host=host,
        port=port,
        http=guarded_protocol(guard, limits.header_timeout),
        lifespan="off",
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=3,
        proxy_headers=False,
    )
    await _serve(_Server(config), Notice.of("194080", host=host, port=port), "194082", host, port)


def start_remote_from_env(
    engine: EngineService, env: Mapping[str, str] | None = None
) -> list[asyncio.Task[None]]:
    """For the daemon: start the remote API and, when ``STANDFAST_METRICS_LISTEN`` is
    set, the plain monitoring port, each as a task per the environment
    (``RemoteSettings.from_env``); none when both are off. Returns at once; a failure
    to start is logged when its task ends, and never stops the other."""
    settings, notices = RemoteSettings.from_env(env)
    for n in notices:
        if n.params.get("name") not in ENV_NAMES.values():  # the daemon logs these
            log.warning(n.text("en"))
    tasks = []
    if settings.metrics_port:
        plain = asyncio.create_task(
            serve_monitoring(engine, settings.metrics_host, settings.metrics_port, settings.limits),
            name="standfast-monitoring",
        )
        plain.add_done_callback(_log_end)
        tasks.append(plain)
    if not settings.enabled:
        return tasks
    task = asyncio.create_task(
        serve_remote(
            engine,
            settings.host,
            settings.port,
            settings.certfile,
            settings.keyfile,
            settings,
        ),
        name="standfast-remote-api",
    )
    task.add_done_callback(_log_end)
    return [*tasks, task]


def _log_end(task: asyncio.Task[None]) -> None:
    """A remote API that cannot start (port taken, no certificate) is logged, never
    silent; the local socket API and the engine go on."""
    if task.cancelled():
        return
    exc = task.exception()
    if isinstance(exc, StandfastError):
        log.error(exc.text("en"))
    elif exc is not None:
        log.error("remote API stopped: %s", exc, exc_info=exc)
