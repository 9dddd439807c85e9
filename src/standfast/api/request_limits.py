"""Bounds on what a request may send, applied before anything else reads it.

:class:`RequestLimits` is pure ASGI middleware placed outside authentication and every
route: a body announced (``Content-Length``) or streamed beyond ``max_body`` bytes is
refused with 413 (194090) without reading it; a body that has not arrived within
``body_timeout`` seconds with 408 (194091); JSON nested deeper than ``max_json_depth``
(194092) or holding a number of more than ``max_json_digits`` digits (194093) with 400,
before any parser sees it. Each refusal closes the connection and changes nothing.

A body that passes is read once (at most ``max_body`` bytes) and handed on unchanged;
requests without a body pass straight through. Nothing here waits longer than
``body_timeout``.
"""

from __future__ import annotations

import asyncio
import re
from itertools import accumulate
from typing import Final

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from standfast.api.limits import ApiLimits
from standfast.messages import Lang, StandfastError, language_from_env

HTTP_STATUS: Final = {"194090": 413, "194091": 408, "194092": 400, "194093": 400}

# A JSON string, escapes included (the unrolled form: linear, no backtracking).
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_STEP = [0] * 256
for _open, _close in (b"[]", b"{}"):
    _STEP[_open], _STEP[_close] = 1, -1
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def json_limits(body: bytes, max_depth: int, max_digits: int) -> StandfastError | None:
    """The refusal for ``body`` (194092 too deep, 194093 too long a number), or None.
    Linear in the body's size; strings are not looked into. Pure."""
    bare = _STRING.sub(b'""', body)
    if re.search(rb"[0-9]{%d}" % (max_digits + 1), bare):
        return StandfastError("194093", limit=max_digits)
    brackets = bare.translate(None, _NOT_BRACKETS)
    if brackets and max(accumulate(_STEP[b] for b in brackets)) > max_depth:
        return StandfastError("194092", limit=max_depth)
    return None


def _lang(scope: Scope) -> Lang:
    for name, value in scope.get("headers", []):
        if name == b"accept-language" and value:
            return "ja" if value.lower().startswith(b"ja") else "en"
    return language_from_env()


def _announced(scope: Scope) -> tuple[int | None, bool]:
    """The ``Content-Length`` (None: none, -1: not a number) and whether it is chunked."""
    length: int | None = None
    chunked = False
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                length = int(value)
            except ValueError:
                length = -1
        elif name == b"transfer-encoding":
            chunked = True
    return length, chunked


class _TooLarge(Exception):
    pass


class RequestLimits:
    """The middleware; see the module's docstring."""

    def __init__(self, app: ASGIApp, limits: ApiLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limits = self.limits
        length, chunked = _announced(scope)
        if length is not None and length > limits.max_body:
            await _refuse(scope, send, StandfastError("194090", limit=limits.max_body))
            return
        if not chunked and not length:
            await self.app(scope, receive, send)  # no body (or not a number: h11 says 400)
            return
        try:
            async with asyncio.timeout(limits.body_timeout):
                body = await _read_body(receive, limits.max_body)
        except TimeoutError:
            await _refuse(scope, send, StandfastError("194091", seconds=limits.body_timeout))
            return
        except _TooLarge:
            await _refuse(scope, send, StandfastError("194090", limit=limits.max_body))
            return
        if body is None:
            return  # the client went away: nobody to answer
        refusal = json_limits(body, limits.max_json_depth, limits.max_json_digits)
        if refusal is not None:
            await _refuse(scope, send, refusal)
            return
        await self.app(scope, _replay(body, receive), send)


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole body, or None when the client disconnected; _TooLarge past ``limit``."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands ``body`` over once, then the client's own messages (a
    disconnect, for a streaming reply to notice)."""
    given = False

    async def replay() -> Message:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _refuse(scope: Scope, send: Send, exc: StandfastError) -> None:
    lang = _lang(scope)
    reply = JSONResponse(
        {"error": exc.to_dict(lang), "notices": []},
        status_code=HTTP_STATUS[exc.code],
        headers={"connection": "close"},
    )

    async def nothing() -> Message:
        return {"type": "http.disconnect"}

    await reply(scope, nothing, send)
