"""The remote API's FastAPI app, put together from the route modules."""

# No "from __future__ import annotations": FastAPI reads the dependency's annotations.

import asyncio
from collections import deque
from pathlib import Path

from fastapi import Depends, FastAPI
from fastapi.routing import APIRoute, APIRouter
from fastapi.staticfiles import StaticFiles

from standfast import __version__
from standfast.api.app import create_app
from standfast.api.monitoring import add_health_routes, add_metrics_route
from standfast.api.remote.context import RemoteContext
from standfast.api.remote.errors import install_error_handlers
from standfast.api.remote.middleware import ActionRecorder, SecurityHeaders
from standfast.api.remote.relay import RelayClient, RelaySigner, RelayVerifier
from standfast.api.remote.routes_cluster import add_relay_route, add_server_routes
from standfast.api.remote.routes_session import add_login_routes, add_whoami_routes
from standfast.api.remote.routes_status import add_status_routes
from standfast.api.remote.sessions import (
    Authenticator,
    SessionStore,
    authorize_dependency,
    identity_dependency,
    pam_authenticate,
)
from standfast.api.remote.settings import RemoteSettings
from standfast.api.remote.throttle import LoginThrottle
from standfast.api.request_limits import RequestLimits
from standfast.api.tls import CertificatePins
from standfast.engine.service import EngineService

STATIC_DIR = Path(__file__).resolve().parent.parent.parent / "web" / "static"
RECENT_ACTIONS = 200
PAM_AT_ONCE = 4


def _description(settings: RemoteSettings) -> str:
    return (
        "The Standfast daemon's REST API over HTTPS. Log in with a system account "
        "(`POST /api/v1/login`, checked by PAM); send the returned token as "
        "`Authorization: Bearer TOKEN` (or rely on the session cookie, adding the "
        "header `X-Standfast: 1` to every change). Roles by group: administrator "
        f"(root, `{settings.admin_group}`): everything; operator "
        f"(`{settings.operator_group}`): view, in service, out of service; guest "
        f"(`{settings.guest_group}`): view only. Tokens expire after "
        f"{int(settings.session_ttl)} s. `/api/servers/{{server}}/v1/...` acts on any "
        "server of the cluster. Errors are catalogue messages in an `error` object, "
        "in the language of `Accept-Language` (en, ja)."
    )


def _context(
    app: FastAPI, engine: EngineService, settings: RemoteSettings, authenticator: Authenticator
) -> RemoteContext:
    """The routes' shared state; the relay only with a cluster and a usable key."""
    sessions = SessionStore(settings.session_ttl)
    key, cluster = engine.cluster_key(), engine.cluster_name()
    local_name = engine.server
    client = verifier = None
    if key is not None and cluster is not None:

        async def announced(server: str) -> str:
            return await engine.peer_certificate(server)

        client = RelayClient(
            engine,
            RelaySigner(key, cluster, local_name),
            CertificatePins(announced),
            port=lambda: int(getattr(app.state, "port", settings.port)),
        )
        verifier = RelayVerifier(key, cluster, local_name)
    return RemoteContext(
        engine=engine,
        settings=settings,
        local=create_app(engine),
        sessions=sessions,
        actions=deque(maxlen=RECENT_ACTIONS),
        identity=identity_dependency(sessions),
        authenticator=authenticator,
        pam_slots=asyncio.Semaphore(PAM_AT_ONCE),
        relay_client=client,
        relay_verifier=verifier,
        throttle=LoginThrottle(
            settings.limits.login_failures,
            settings.limits.login_lockout,
            settings.limits.login_lockout_max,
        ),
    )


def _include_local_routes(app: FastAPI, ctx: RemoteContext) -> None:
    """The local API's routes under ``/api``, behind authentication and roles."""
    router = APIRouter()
    for route in ctx.local.routes:
        if isinstance(route, APIRoute):
            router.routes.append(route)
    authorize = authorize_dependency(ctx.identity, ctx.engine.server)
    app.include_router(router, prefix="/api", dependencies=[Depends(authorize)])


def create_remote_app(
    engine: EngineService,
    settings: RemoteSettings | None = None,
    *,
    authenticator: Authenticator = pam_authenticate,
) -> FastAPI:
    """The remote API and the GUI for ``engine``. Reads the cluster key once, now (a
    key made later needs a daemon restart, as for the cluster channel)."""
    settings = settings or RemoteSettings.from_env()[0]
    app = FastAPI(
        title="Standfast remote API",
        version=__version__,
        description=_description(settings),
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    ctx = _context(app, engine, settings, authenticator)
    app.state.sessions = ctx.sessions
    app.state.actions = ctx.actions
    app.state.settings = settings
    install_error_handlers(app, ctx.local)
    _include_local_routes(app, ctx)
    add_login_routes(app, ctx)
    add_whoami_routes(app, ctx)
    add_status_routes(app, ctx)
    add_server_routes(app, ctx)
    add_relay_route(app, ctx)
    # Monitoring (docs/monitoring.md): health never asks for a login; /metrics asks for
    # any role's session unless the administrator opened it (STANDFAST_METRICS=open).
    add_health_routes(app, engine)
    add_metrics_route(app, engine, () if settings.metrics_open else [Depends(ctx.identity)])
    app.mount("/", StaticFiles(directory=STATIC_DIR, html=True), name="gui")
    app.add_middleware(ActionRecorder, sink=ctx.actions)
    # Before authentication and every route: no body is read beyond its limits.
    app.add_middleware(RequestLimits, limits=settings.limits)
    app.add_middleware(SecurityHeaders)
    return app
