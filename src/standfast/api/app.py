"""The daemon's API: the CLI talks to it over the local Unix socket.

The API never acts on a resource itself; it validates the request shape and asks
the engine. Every refusal is a catalogue message in a JSON ``error`` object.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Body, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from standfast import __version__
from standfast.engine.cluster_engine import ClusterEngine
from standfast.engine.engine import ActionOutcome, Engine
from standfast.host import mounts
from standfast.kits.nfs_source import default_filesys_tag
from standfast.kits.registry import KITS
from standfast.messages import Lang, StandfastError, language_from_env
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
    priority: int | None = None


class ExtendBody(BaseModel):
    tag: str
    target: str
    target_tag: str | None = None
    target_priority: int | None = None
    template_priority: int | None = None
    switchback: str | None = None
    check_only: bool = False


class RestoreBody(BaseModel):
    config: dict[str, Any]


class AnswerBody(BaseModel):
    tag: str
    answer: str


class UnextendBody(BaseModel):
    tag: str
    server: str


class DependencyBody(BaseModel):
    parent: str
    child: str


def _lang(request: Request) -> Lang:
    header = request.headers.get("accept-language", "")
    if header:
        return "ja" if header.lower().startswith("ja") else "en"
    return language_from_env()


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


def create_app(engine: Engine) -> FastAPI:
    app = FastAPI(title="Standfast", version=__version__)

    @app.exception_handler(StandfastError)
    async def on_error(request: Request, exc: StandfastError) -> JSONResponse:
        status = _STATUS_BY_CODE.get(exc.code, 400)
        lang = _lang(request)
        return JSONResponse(
            {"error": exc.to_dict(lang), "notices": [n.to_dict(lang) for n in exc.notices]},
            status_code=status,
        )

    @app.exception_handler(RequestValidationError)
    async def on_invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        detail = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}"
            for e in exc.errors()
        )
        err = StandfastError("190206", detail=detail)
        return JSONResponse({"error": err.to_dict(_lang(request))}, status_code=422)

    async def act(
        request: Request, operation: str, fn: Callable[[], Awaitable[ActionOutcome]]
    ) -> dict[str, Any]:
        _require_admin(request, operation)
        return _reply(await fn(), _lang(request))

    @app.get("/v1/status")
    async def status() -> dict[str, object]:
        return engine.status()

    @app.get("/v1/events")
    async def events() -> list[dict[str, object]]:
        return [e.__dict__ for e in engine.events]

    @app.get("/v1/kits")
    async def kits() -> list[dict[str, object]]:
        return [
            {
                "name": k.name,
                "description": k.description,
                "properties": [p.to_dict() for p in k.schema],
            }
            for k in KITS.values()
        ]

    @app.get("/v1/nfs-mounts")
    async def nfs_mounts() -> list[dict[str, str]]:
        """The NFS file systems mounted here: what a NAS hierarchy can be created from,
        each with the root tag the NAS kit gives it by default on this server."""
        entries = mounts.nfs_mounts(mounts.read_mountinfo(engine.paths.mountinfo))
        protected = {
            r.id
            for r in engine.config.resources.values()
            if r.server == engine.server and r.kit == "filesys"
        }
        return [
            {
                "mount_point": e.mount_point,
                "source": e.source,
                "fstype": e.fstype,
                "protected": str(e.mount_point in protected).lower(),
                "default_tag": default_filesys_tag(e.mount_point, engine.server),
            }
            for e in entries
        ]

    @app.get("/v1/config")
    async def config_backup() -> dict[str, object]:
        """The whole configuration, for ``standfast config backup``."""
        return engine.config.to_dict()

    @app.post("/v1/config")
    async def config_restore(request: Request, body: RestoreBody) -> dict[str, Any]:
        return await act(request, "config restore", lambda: engine.restore_config(body.config))

    @app.get("/v1/tunables")
    async def tunables() -> dict[str, object]:
        return engine.tunables.as_dict()

    @app.get("/v1/resources/{tag:path}")
    async def show(tag: str) -> dict[str, object]:
        res = engine.resource(tag)
        graph = engine.graph()
        return {
            **res.to_dict(),
            "state": str(engine.states.get(tag, "UNKNOWN")),
            "reason": engine.reasons.get(tag, ""),
            "parents": graph.parents(tag),
            "children": graph.children(tag),
        }

    @app.post("/v1/resources")
    async def create(request: Request, body: CreateBody) -> dict[str, Any]:
        sb = parse_switchback(body.switchback)
        return await act(
            request,
            "create",
            lambda: engine.create(
                body.kit, tag=body.tag, rid=body.id, switchback=sb, props=body.props
            ),
        )

    @app.delete("/v1/resources/{tag:path}")
    async def delete(request: Request, tag: str) -> dict[str, Any]:
        return await act(request, "delete", lambda: engine.delete(tag))

    @app.patch("/v1/resources/{tag:path}")
    async def update(request: Request, tag: str, body: UpdateBody) -> dict[str, Any]:
        sb = parse_switchback(body.switchback) if body.switchback else None
        return await act(
            request,
            "set",
            lambda: engine.update(tag, props=body.props, switchback=sb, priority=body.priority),
        )

    @app.post("/v1/in-service")
    async def in_service(request: Request, tag: Annotated[str, Body(embed=True)]) -> Any:
        return await act(request, "in-service", lambda: engine.in_service(tag))

    @app.post("/v1/out-of-service")
    async def out_of_service(request: Request, tag: Annotated[str, Body(embed=True)]) -> Any:
        return await act(request, "out-of-service", lambda: engine.out_of_service(tag))

    @app.post("/v1/dependencies")
    async def add_dep(request: Request, body: DependencyBody) -> dict[str, Any]:
        return await act(
            request, "dependency create", lambda: engine.add_dependency(body.parent, body.child)
        )

    @app.delete("/v1/dependencies")
    async def del_dep(request: Request, body: DependencyBody) -> dict[str, Any]:
        return await act(
            request, "dependency delete", lambda: engine.delete_dependency(body.parent, body.child)
        )

    def cluster_engine(operation: str) -> ClusterEngine:
        if not isinstance(engine, ClusterEngine):
            raise StandfastError("193008", path=engine.paths.cluster_definition)
        return engine

    @app.post("/v1/extend")
    async def extend(request: Request, body: ExtendBody) -> dict[str, Any]:
        ce = cluster_engine("extend")
        if body.switchback:
            parse_switchback(body.switchback)
        return await act(
            request,
            "extend",
            lambda: ce.extend(
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
        ce = cluster_engine("unextend")
        return await act(request, "unextend", lambda: ce.unextend(body.tag, server=body.server))

    @app.post("/v1/failover/answer")
    async def failover_answer(request: Request, body: AnswerBody) -> dict[str, Any]:
        ce = cluster_engine("answer")
        _require_admin(request, "failover answer")
        return {"result": ce.answer_failover(body.tag, body.answer), "notices": []}

    return app
