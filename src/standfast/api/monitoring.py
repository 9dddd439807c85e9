"""The monitoring endpoints (docs/monitoring.md): ``/health``, ``/ready``,
``/hierarchies/TAG/in-service`` and ``/metrics``.

Served by the remote API on its HTTPS port and, when ``STANDFAST_METRICS_LISTEN`` says
so, on a separate plain HTTP port (``monitoring_app``). The health endpoints never ask
for a login and show nothing sensitive (no addresses, no properties, no other
hierarchy's tag); each answers at once from the engine's memory: 200 when the answer
is yes, 503 when it is no, so a load balancer needs only the status code. ``/metrics``
asks for a login on the HTTPS port unless ``STANDFAST_METRICS=open``; the plain port
exists only when the administrator binds it and never asks.

The routes reach the engine only through ``EngineService``.
"""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import FastAPI, Request
from fastapi.params import Depends
from fastapi.responses import JSONResponse, Response

from standfast import __version__
from standfast.api.app import request_lang
from standfast.engine.health import Answer
from standfast.engine.metrics import CONTENT_TYPE
from standfast.engine.service import EngineService
from standfast.messages import StandfastError
from standfast.model.tags import validate_tag

_NO_STORE = {"cache-control": "no-store"}


def _reply(answer: Answer) -> JSONResponse:
    return JSONResponse(answer.body, status_code=200 if answer.ok else 503, headers=_NO_STORE)


def _refusal(request: Request, exc: StandfastError, status: int) -> JSONResponse:
    return JSONResponse(
        {"error": exc.to_dict(request_lang(request))}, status_code=status, headers=_NO_STORE
    )


def add_health_routes(app: FastAPI, engine: EngineService) -> None:
    """``/health``, ``/ready``, ``/hierarchies/TAG/in-service`` (GET and HEAD, no login)."""

    @app.api_route("/health", methods=["GET", "HEAD"], tags=["monitoring"])
    async def health() -> JSONResponse:
        """200 while the daemon answers and its control loop turns; 503 otherwise."""
        return _reply(engine.health())

    @app.api_route("/ready", methods=["GET", "HEAD"], tags=["monitoring"])
    async def ready() -> JSONResponse:
        """200 when healthy, with quorum and a current configuration; 503 otherwise."""
        return _reply(engine.readiness())

    @app.api_route(
        "/hierarchies/{tag:path}/in-service", methods=["GET", "HEAD"], tags=["monitoring"]
    )
    async def in_service(request: Request, tag: str) -> JSONResponse:
        """200 only on the server where ``tag``'s hierarchy is in service (ISP or ISU),
        503 on the others; 404 (194081) when no server has ``tag``; a malformed tag is
        refused with its tag message (400)."""
        try:
            validate_tag(tag)
        except StandfastError as exc:
            return _refusal(request, exc, 400)
        answer = engine.in_service_here(tag)
        if answer is None:
            return _refusal(request, StandfastError("194081", tag=tag), 404)
        return _reply(answer)


def add_metrics_route(
    app: FastAPI, engine: EngineService, dependencies: Sequence[Depends] = ()
) -> None:
    """``/metrics`` in the Prometheus text format, behind ``dependencies`` (the remote
    API's login unless metrics are open)."""

    @app.get("/metrics", tags=["monitoring"], dependencies=list(dependencies))
    async def metrics() -> Response:
        return Response(engine.metrics(), media_type=CONTENT_TYPE, headers=_NO_STORE)


def monitoring_app(engine: EngineService) -> FastAPI:
    """The plain HTTP port's app: the health endpoints and ``/metrics``, nothing else
    (no GUI, no API, no login)."""
    app = FastAPI(
        title="Standfast monitoring",
        version=__version__,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    add_health_routes(app, engine)
    add_metrics_route(app, engine)
    return app


__all__ = ["add_health_routes", "add_metrics_route", "monitoring_app"]
