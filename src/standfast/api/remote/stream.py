"""The live status stream: server-sent events of the cluster's status, the engine's new
events and the recent actions, whenever they change."""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass

from starlette.requests import Request

from standfast.api.app import request_lang
from standfast.api.remote.middleware import ActionRecord
from standfast.api.remote.sessions import Identity, SessionStore
from standfast.api.remote.view import cluster_view
from standfast.engine.service import EngineService
from standfast.messages import StandfastError

STREAM_INTERVAL = 0.3  # seconds between two looks at what changed
KEEP_ALIVE = 15.0  # seconds of silence before a comment line keeps proxies from closing


def snapshot(engine: EngineService) -> dict[str, object]:
    """What the ``status`` event carries: the status and the cluster view."""
    return {"status": engine.status(), "view": cluster_view(engine)}


def _event_dict(engine: EngineService, e: object) -> dict[str, object]:
    d = dict(e.__dict__)
    d["server"] = engine.server
    return d


def _sse(event: str, data: str) -> str:
    return f"event: {event}\ndata: {data}\n\n"


@dataclass
class _Cursor:
    """What one client has been sent so far."""

    status: str
    event_ts: float
    action_ts: float
    sent_at: float


def _changes(engine: EngineService, actions: deque[ActionRecord], cur: _Cursor) -> list[str]:
    """The events due since ``cur`` (and ``cur`` moved past them)."""
    out: list[str] = []
    payload = json.dumps(snapshot(engine), sort_keys=True, default=str)
    if payload != cur.status:
        cur.status = payload
        out.append(_sse("status", payload))
    new = [_event_dict(engine, e) for e in engine.events() if e.ts > cur.event_ts]
    if new:
        cur.event_ts = float(str(new[-1]["ts"]))
        out.append(_sse("events", json.dumps(new, default=str)))
    acts = [a.to_dict() for a in actions if a.ts > cur.action_ts]
    if acts:
        cur.action_ts = float(str(acts[-1]["ts"]))
        out.append(_sse("actions", json.dumps(acts, default=str)))
    now = time.monotonic()
    if out:
        cur.sent_at = now
    elif now - cur.sent_at > KEEP_ALIVE:
        cur.sent_at = now
        out.append(": keep-alive\n\n")
    return out


async def event_stream(
    request: Request,
    ident: Identity,
    engine: EngineService,
    sessions: SessionStore,
    actions: deque[ActionRecord],
    since: float,
) -> AsyncIterator[str]:
    """The stream's text until the client goes away or its session expires (then an
    ``expired`` event ends it). Looks every ``STREAM_INTERVAL`` seconds."""
    cur = _Cursor(status="", event_ts=since, action_ts=since, sent_at=time.monotonic())
    yield "retry: 2000\n\n"
    while True:
        if await request.is_disconnected():
            return
        s = ident.session
        if s is not None and sessions.clock() >= s.expires:
            err = StandfastError("194002", user=s.user).to_dict(request_lang(request))
            yield _sse("expired", json.dumps(err))
            return
        for chunk in _changes(engine, actions, cur):
            yield chunk
        await asyncio.sleep(STREAM_INTERVAL)
