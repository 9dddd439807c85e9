"""The cluster routes: any route of the API on any server, and the relay's receiving end.

``/api/servers/{server}/v1/...`` serves a local API route on this server, or relays it
(``relay.RelayClient``) to ``server``'s ``/api/relay/v1/...``, which checks the sealed
request (``relay.RelayVerifier``) and the caller's role, then serves it there.
"""

# No "from __future__ import annotations": FastAPI reads the routes' annotations, which
# name a closure's dependency, at run time.

import logging
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.responses import Response

from standfast.api.app import request_lang
from standfast.api.remote.context import RemoteContext
from standfast.api.remote.middleware import SAFE_METHODS, note_action
from standfast.api.remote.relay import FROM_HEADER, dispatch_local
from standfast.api.remote.sessions import Identity, check_role
from standfast.messages import StandfastError

log = logging.getLogger("standfast.api")

_METHODS = ("GET", "POST", "PATCH", "DELETE")


def add_server_routes(app: FastAPI, ctx: RemoteContext) -> None:
    """``/api/servers/{server}/v1/...`` for each method (one OpenAPI operation each)."""
    engine = ctx.engine

    async def on_server(
        request: Request,
        server: str,
        rest: str,
        ident: Annotated[Identity, Depends(ctx.identity)],
    ) -> Response:
        """Any route of this API (``v1/...``) on another server of the cluster, with the
        caller's identity and role; on this server's name it is served here."""
        path = "/" + rest
        if not path.startswith("/v1/"):
            raise StandfastError("190206", detail=f"unknown path {path}")
        check_role(ident, request.method, path)
        # Passed on as the client encoded it: a decoded "%3F" or "%2F" in a tag would
        # otherwise address another route (scratch?x -> scratch, ..%2Fconfig -> config).
        path = _raw_rest(request, 4)
        body = await request.body()
        if request.method not in SAFE_METHODS:
            note_action(request, ident.user, ident.role, server, path, body)
        lang = request_lang(request)
        query = request.url.query
        if server == engine.server:
            return await dispatch_local(ctx.local, request.method, path, query, body, lang)
        if server not in engine.servers():
            raise StandfastError("194040", server=server)
        if ctx.relay_client is None:
            raise StandfastError("194041", server=server, reason="no cluster key")
        return await ctx.relay_client.forward(
            server, request.method, path, query, body, ident, lang
        )

    for method in _METHODS:
        app.add_api_route(
            "/api/servers/{server}/{rest:path}",
            on_server,
            methods=[method],
            tags=["cluster"],
            operation_id=f"on_server_{method.lower()}",
        )


def add_relay_route(app: FastAPI, ctx: RemoteContext) -> None:
    """``/api/relay/v1/...``: a request another server relays, sealed with the cluster
    key; refused with 194042 unless it is genuine, fresh, from a member and for here."""
    engine = ctx.engine

    @app.api_route("/api/relay/{rest:path}", methods=list(_METHODS), include_in_schema=False)
    async def relayed(request: Request, rest: str) -> Response:
        sender = request.headers.get(FROM_HEADER, "")
        if ctx.relay_verifier is None:
            raise StandfastError("194042", peer=sender or "?", reason="not a cluster member")
        if sender not in engine.servers() or sender == engine.server:
            raise StandfastError("194042", peer=sender or "?", reason="unknown sender")
        path = _raw_rest(request, 3)
        body = await request.body()
        query = bytes(request.scope.get("query_string", b""))
        ident = ctx.relay_verifier.verify(request.headers, request.method, path, query, body).ident
        check_role(ident, request.method, path)
        if request.method not in SAFE_METHODS:
            log.info("%s (%s) via %s: %s %s", ident.user, ident.role, sender, request.method, path)
        return await dispatch_local(
            ctx.local, request.method, path, request.url.query, body, request_lang(request)
        )


def _raw_rest(request: Request, prefix_parts: int) -> str:
    """The request's path after its first ``prefix_parts - 1`` segments, still
    percent-encoded (``/api/servers/S/v1/x%3Fy`` -> ``/v1/x%3Fy`` with 4)."""
    raw = bytes(request.scope.get("raw_path") or request.url.path.encode()).decode("latin-1")
    return "/" + raw.split("/", prefix_parts)[-1]
