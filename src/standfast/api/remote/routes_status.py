"""The status routes of the remote API: recent actions, the cluster view, the stream."""

# No "from __future__ import annotations": FastAPI reads the routes' annotations, which
# name a closure's dependency, at run time.

from typing import Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.responses import StreamingResponse

from standfast.api.remote.context import RemoteContext
from standfast.api.remote.sessions import Identity
from standfast.api.remote.stream import event_stream
from standfast.api.remote.view import cluster_view


def add_status_routes(app: FastAPI, ctx: RemoteContext) -> None:
    """``GET /api/v1/actions``, ``/api/v1/view`` and ``/api/v1/stream`` (any role)."""
    Caller = Annotated[Identity, Depends(ctx.identity)]

    @app.get("/api/v1/actions", tags=["status"])
    async def recent_actions(ident: Caller) -> list[dict[str, object]]:
        """Changes made through this server's API: who, what, result, duration."""
        return [a.to_dict() for a in ctx.actions]

    @app.get("/api/v1/view", tags=["status"])
    async def view(ident: Caller) -> dict[str, object]:
        """Every resource instance on every server, as this server knows it."""
        return cluster_view(ctx.engine)

    @app.get(
        "/api/v1/stream",
        tags=["status"],
        response_class=StreamingResponse,
        responses={200: {"content": {"text/event-stream": {}}}},
    )
    async def stream(request: Request, ident: Caller, since: float = 0.0) -> StreamingResponse:
        """Server-sent events: ``status`` (status and view) when they change, ``events``
        (new engine events after ``since``), ``actions`` (new changes), ``expired``."""
        return StreamingResponse(
            event_stream(request, ident, ctx.engine, ctx.sessions, ctx.actions, since),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )
