"""The remote API's ASGI middleware: the recent-actions recorder and security headers.

Both are pure ASGI (no request body buffering, streaming replies pass through).
"""

from __future__ import annotations

import contextlib
import json
import time
from collections import deque
from dataclasses import dataclass

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
ACTION_KEY = "standfast.action"  # the scope key a route sets to have a change recorded
_UNRECORDED = ("/api/v1/login", "/api/v1/logout", "/api/v1/validate")
_MAX_CAPTURE = 65536  # bytes of an error reply read for its catalogue code


@dataclass
class ActionRecord:
    ts: float
    user: str
    role: str
    server: str
    method: str
    path: str
    target: str
    status: int = 0
    code: str = ""
    seconds: float = 0.0

    def to_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


def target_of(body: bytes, path: str) -> str:
    """What a change is about, for the timeline: the tag (or parent/child, kit)."""
    with contextlib.suppress(ValueError, TypeError, AttributeError):
        data = json.loads(body) if body else {}
        if isinstance(data, dict):
            for k in ("tag", "parent"):
                if data.get(k):
                    extra = f" → {data['child']}" if k == "parent" and data.get("child") else ""
                    return str(data[k]) + extra
            if data.get("id") or data.get("kit"):
                return str(data.get("id") or data.get("kit"))
    if "/resources/" in path:
        return path.split("/resources/", 1)[1]
    return ""


def note_action(
    request: Request, user: str, role: str, server: str, path: str, body: bytes
) -> None:
    """Have :class:`ActionRecorder` record this request as a change by ``user``."""
    request.scope[ACTION_KEY] = {
        "user": user,
        "role": role,
        "server": server,
        "path": path,
        "target": target_of(body, path),
    }


def _recorded(scope: Scope) -> bool:
    path = str(scope["path"])
    return (
        scope["method"] not in SAFE_METHODS
        and path.startswith("/api/")
        and path not in _UNRECORDED
        and not path.startswith("/api/relay/")
    )


class ActionRecorder:
    """Times every change made through the API and notes who made it and how it ended
    (status, catalogue code), in ``sink`` (a bounded deque: the oldest fall off)."""

    def __init__(self, app: ASGIApp, sink: deque[ActionRecord]) -> None:
        self.app = app
        self.sink = sink

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _recorded(scope):
            await self.app(scope, receive, send)
            return
        started = time.monotonic()
        status = 0
        body = bytearray()

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            elif message["type"] == "http.response.body" and len(body) < _MAX_CAPTURE:
                body.extend(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            info = scope.get(ACTION_KEY)
            if isinstance(info, dict):
                self.sink.append(_record(scope, info, status, bytes(body), started))


def _record(
    scope: Scope, info: dict[str, object], status: int, body: bytes, started: float
) -> ActionRecord:
    code = ""
    if status >= 400:
        with contextlib.suppress(ValueError, AttributeError, TypeError):
            code = str(json.loads(body)["error"]["code"])
    return ActionRecord(
        ts=time.time(),
        user=str(info.get("user", "")),
        role=str(info.get("role", "")),
        server=str(info.get("server", "")),
        method=str(scope["method"]),
        path=str(info.get("path", scope["path"])),
        target=str(info.get("target", "")),
        status=status,
        code=code,
        seconds=round(time.monotonic() - started, 3),
    )


class SecurityHeaders:
    """Headers every reply carries: no framing, no foreign scripts, no caching of data."""

    HEADERS = (
        (
            b"content-security-policy",
            b"default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            b"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        ),
        (b"x-frame-options", b"DENY"),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"no-referrer"),
        (b"strict-transport-security", b"max-age=31536000"),
    )

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        is_api = str(scope.get("path", "")).startswith("/api/")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.extend(self.HEADERS)
                if is_api:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)
