"""The daemon's API: the CLI talks to it over the local Unix socket.

The API never acts on a resource itself; it validates the request shape and asks
the engine. Every refusal is a catalogue message in a JSON ``error`` object.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Body, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, StrictBool, StrictInt
from starlette.exceptions import HTTPException as StarletteHTTPException

from standfast import __version__
from standfast.engine.actions import ActionOutcome
from standfast.engine.service import EngineService
from standfast.messages import Lang, StandfastError, language_from_env
from standfast.model.event_query import DEFAULT_LIMIT, EventQuery
from standfast.model.tags import parse_switchback

_STATUS_BY_CODE = {"000019": 404, "190204": 409, "190203": 403, "190207": 504}

PropValue = str | int | float | bool


class CreateBody(BaseModel):
    kit: str
    tag: str | None = None
    id: str | None = None
    switchback: str = "intelligent"
    props: dict[str, PropValue] = Field(default_factory=dict)


class UpdateBody(BaseModel):
    props: dict[str, PropValue] = Field(default_factory=dict)
    switchback: str | None = None
    priority: StrictInt | None = None


class ExtendBody(BaseModel):
    tag: str
    target: str
    target_tag: str | None = None
    target_priority: StrictInt | None = None
    template_priority: StrictInt | None = None
    switchback: str | None = None
    check_only: bool = False


class RestoreBody(BaseModel):
    config: dict[str, Any]


class AnswerBody(BaseModel):
    tag: str
    answer: str


class AlertTestBody(BaseModel):
    name: str | None = None


class UnextendBody(BaseModel):
    tag: str
    server: str


class MaintenanceBody(BaseModel):
    on: StrictBool
    tag: str | None = None  # None: the whole cluster


class StandbyBody(BaseModel):
    server: str
    on: StrictBool
    force: StrictBool = False


class DependencyBody(BaseModel):
    parent: str
    child: str


class RekeyBody(BaseModel):
    key: str | None = None  # base64; None: a fresh random key
    finish: StrictBool = False


def request_lang(request: Request) -> Lang:
    """The caller's language from ``Accept-Language`` (ja or en), else the daemon's."""
    header = request.headers.get("accept-language", "")
    if header:
        return "ja" if header.lower().startswith("ja") else "en"
    return language_from_env()


def invalid_request_reply(request: Request, exc: RequestValidationError) -> JSONResponse:
    """A request of the wrong shape: 190206 with what was wrong, HTTP 422."""
    detail = "; ".join(
        f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}" for e in exc.errors()
    )
    err = StandfastError("190206", detail=detail)
    return JSONResponse({"error": err.to_dict(request_lang(request))}, status_code=422)


def _reply(outcome: ActionOutcome, lang: Lang) -> dict[str, Any]:
    return {
        "result": outcome.result,
        "notices": [n.to_dict(lang) for n in outcome.notices],
        "transcript": outcome.transcript,
    }


def _require_admin(request: Request, operation: str) -> None:
    """Local socket: root and the daemon's own user administer; others may only view."""
    uid = getattr(request.state, "peer_uid", None)
    if uid is None or uid in (0, os.getuid()):
        # None: not a Unix socket (in-process tests); the remote API authenticates itself.
        return
    raise StandfastError("190203", user=uid, operation=operation)


async def _act(
    request: Request, operation: str, fn: Callable[[], Awaitable[ActionOutcome]]
) -> dict[str, Any]:
    """Run an operator action for an administrator caller (190203 otherwise)."""
    _require_admin(request, operation)
    return _reply(await fn(), request_lang(request))


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(StandfastError)
    async def on_error(request: Request, exc: StandfastError) -> JSONResponse:
        status = _STATUS_BY_CODE.get(exc.code, 400)
        lang = request_lang(request)
        return JSONResponse(
            {"error": exc.to_dict(lang), "notices": [n.to_dict(lang) for n in exc.notices]},
            status_code=status,
        )

    @app.exception_handler(RequestValidationError)
    async def on_invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return invalid_request_reply(request, exc)

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        # The framework's own refusals (unknown path or method, a body it cannot parse)
        # get a catalogue code like every other refusal.
        if exc.status_code in (404, 405):
            err = StandfastError("194022", method=request.method, path=request.url.path)
        else:
            err = StandfastError("190206", detail=str(exc.detail))
        return JSONResponse(
            {"error": err.to_dict(request_lang(request))},
            status_code=exc.status_code,
            headers=exc.headers,
        )


def _add_view_routes(app: FastAPI, engine: EngineService) -> None:
    """What anyone may read: status, events, kits, NFS mounts, configuration, tunables,
    one resource."""

    @app.get("/v1/status")
    async def status() -> dict[str, object]:
        return engine.status()

    @app.get("/v1/events")
    async def events() -> list[dict[str, object]]:
        return [e.to_dict() for e in engine.events()]

    @app.get("/v1/events/history")
    async def event_history(
        since: float | None = None,
        until: float | None = None,
        kind: Annotated[list[str] | None, Query()] = None,
        tag: str | None = None,
        limit: int = DEFAULT_LIMIT,
    ) -> list[dict[str, object]]:
        """The lasting history (``standfast events``): the newest ``limit`` events
        matching every filter given, oldest first; a bad filter is 196001-196004."""
        query = EventQuery.from_params(since, until, kind or (), tag, limit)
        return [e.to_dict() for e in await engine.event_history(query)]

    @app.get("/v1/kits")
    async def kits() -> list[dict[str, object]]:
        return engine.kits()

    @app.get("/v1/kits/ocf/agents/{agent}")
    async def ocf_agent(agent: str) -> dict[str, object]:
        """One OCF agent's properties, from its meta-data (``standfast kits --agent``)."""
        return await engine.ocf_agent(agent)

    @app.get("/v1/nfs-mounts")
    async def nfs_mounts() -> list[dict[str, str]]:
        """The NFS file systems mounted here: what a NAS hierarchy can be created from,
        each with the root tag the NAS kit gives it by default on this server."""
        return engine.nfs_mounts()

    @app.get("/v1/simulate")
    async def simulate(fault: str, server: str) -> dict[str, object]:
        """What a fault would do to every hierarchy, from the live snapshot; acts on
        nothing (``standfast simulate``)."""
        return engine.simulate(fault, server)

    @app.get("/v1/config")
    async def config_backup() -> dict[str, object]:
        """The whole configuration, for ``standfast config backup``."""
        return engine.config()

    @app.post("/v1/config")
    async def config_restore(request: Request, body: RestoreBody) -> dict[str, Any]:
        return await _act(request, "config restore", lambda: engine.restore_config(body.config))

    @app.get("/v1/tunables")
    async def tunables() -> dict[str, object]:
        return engine.tunables()

    @app.get("/v1/resources/{tag:path}")
    async def show(tag: str) -> dict[str, object]:
        return engine.resource(tag)


def _add_resource_routes(app: FastAPI, engine: EngineService) -> None:
    """The operator actions on this server's resources and dependencies."""

    @app.post("/v1/resources")
    async def create(request: Request, body: CreateBody) -> dict[str, Any]:
        sb = parse_switchback(body.switchback)
        return await _act(
            request,
            "create",
            lambda: engine.create(
                body.kit, tag=body.tag, rid=body.id, switchback=sb, props=body.props
            ),
        )

    @app.delete("/v1/resources/{tag:path}")
    async def delete(request: Request, tag: str) -> dict[str, Any]:
        return await _act(request, "delete", lambda: engine.delete(tag))

    @app.patch("/v1/resources/{tag:path}")
    async def update(request: Request, tag: str, body: UpdateBody) -> dict[str, Any]:
        sb = parse_switchback(body.switchback) if body.switchback is not None else None
        return await _act(
            request,
            "set",
            lambda: engine.update(tag, props=body.props, switchback=sb, priority=body.priority),
        )

    @app.post("/v1/drill")
    async def drill(request: Request, tag: Annotated[str, Body(embed=True)]) -> Any:
        return await _act(request, "drill", lambda: engine.drill(tag))

    @app.post("/v1/in-service")
    async def in_service(request: Request, tag: Annotated[str, Body(embed=True)]) -> Any:
        return await _act(request, "in-service", lambda: engine.in_service(tag))

    @app.post("/v1/out-of-service")
    async def out_of_service(request: Request, tag: Annotated[str, Body(embed=True)]) -> Any:
        return await _act(request, "out-of-service", lambda: engine.out_of_service(tag))

    @app.post("/v1/dependencies")
    async def add_dep(request: Request, body: DependencyBody) -> dict[str, Any]:
        return await _act(
            request, "dependency create", lambda: engine.add_dependency(body.parent, body.child)
        )

    @app.delete("/v1/dependencies")
    async def del_dep(request: Request, body: DependencyBody) -> dict[str, Any]:
        return await _act(
            request, "dependency delete", lambda: engine.delete_dependency(body.parent, body.child)
        )


def _add_cluster_routes(app: FastAPI, engine: EngineService) -> None:
    """The cluster's operator actions; a lone server refuses them (193008)."""

    @app.post("/v1/extend")
    async def extend(request: Request, body: ExtendBody) -> dict[str, Any]:
        if body.switchback is not None:
            parse_switchback(body.switchback)
        return await _act(
            request,
            "extend",
            lambda: engine.extend(
                body.tag,
                target=body.target,
                target_tag=body.target_tag,
                target_priority=body.target_priority,
                template_priority=body.template_priority,
                switchback=body.switchback,
                check_only=body.check_only,
            ),
        )

    @app.post("/v1/unextend")
    async def unextend(request: Request, body: UnextendBody) -> dict[str, Any]:
        return await _act(
            request, "unextend", lambda: engine.unextend(body.tag, server=body.server)
        )

    @app.post("/v1/cluster/rekey")
    async def rekey(request: Request, body: RekeyBody) -> dict[str, Any]:
        return await _act(
            request, "cluster rekey", lambda: engine.rekey(body.key, finish=body.finish)
        )

    @app.post("/v1/maintenance")
    async def maintenance(request: Request, body: MaintenanceBody) -> dict[str, Any]:
        return await _act(request, "maintenance", lambda: engine.maintenance(body.on, body.tag))

    @app.post("/v1/standby")
    async def standby(request: Request, body: StandbyBody) -> dict[str, Any]:
        return await _act(
            request,
            "standby",
            lambda: engine.standby(body.server, body.on, force=body.force),
        )

    @app.post("/v1/failover/answer")
    async def failover_answer(request: Request, body: AnswerBody) -> dict[str, Any]:
        _require_admin(request, "failover answer")
        return {"result": engine.answer_failover(body.tag, body.answer), "notices": []}


def _add_alert_routes(app: FastAPI, engine: EngineService) -> None:
    """Alert recipients: anyone may list them (secrets masked); changes and the test
    event are the administrator's."""

    @app.get("/v1/alerts")
    async def alerts() -> dict[str, Any]:
        return engine.alerts()

    @app.post("/v1/alerts")
    async def alert_add(request: Request, body: dict[str, Any]) -> dict[str, Any]:
        _require_admin(request, "alert add")
        return {"result": await engine.alert_add(body), "notices": []}

    @app.delete("/v1/alerts/{name}")
    async def alert_remove(request: Request, name: str) -> dict[str, Any]:
        _require_admin(request, "alert remove")
        return {"result": await engine.alert_remove(name), "notices": []}

    @app.post("/v1/alerts/test")
    async def alert_test(request: Request, body: AlertTestBody) -> dict[str, Any]:
        _require_admin(request, "alert test")
        uid = getattr(request.state, "peer_uid", None)
        who = f"uid {uid}" if uid is not None else "the API"
        return {"result": await engine.alert_test(who, body.name), "notices": []}


def create_app(engine: EngineService) -> FastAPI:
    """The local API for ``engine`` (the remote API serves the same routes under
    ``/api``). Routes ask the engine's facade (``EngineService``) and nothing else."""
    app = FastAPI(title="Standfast", version=__version__)
    _add_error_handlers(app)
    _add_view_routes(app, engine)
    _add_resource_routes(app, engine)
    _add_cluster_routes(app, engine)
    _add_alert_routes(app, engine)
    return app
