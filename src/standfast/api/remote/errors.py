"""How the remote API answers a refusal: a catalogue message in an ``error`` object, in
the caller's language, with the HTTP status of its code."""

from __future__ import annotations

import inspect

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response

from standfast.api.app import invalid_request_reply, request_lang
from standfast.messages import StandfastError

# The remote API's own codes; the local API maps the engine's (its exception handler).
HTTP_STATUS = {
    "194001": 401,
    "194002": 401,
    "194003": 401,
    "194004": 401,
    "194005": 403,
    "194006": 503,
    "194007": 400,
    "194010": 503,
    "194020": 403,
    "194021": 403,
    "194040": 404,
    "194041": 502,
    "194042": 403,
    "194043": 502,
    "194090": 413,
    "194091": 408,
    "194092": 400,
    "194093": 400,
    "194094": 429,
    "194095": 429,
    "190203": 403,
}


def error_reply(exc: StandfastError, request: Request) -> JSONResponse:
    lang = request_lang(request)
    status = HTTP_STATUS.get(exc.code, 400)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if exc.code == "194094":
        headers = {"Retry-After": str(max(1, round(float(str(exc.params["seconds"])))))}
    return JSONResponse(
        {"error": exc.to_dict(lang), "notices": [n.to_dict(lang) for n in exc.notices]},
        status_code=status,
        headers=headers,
    )


def install_error_handlers(app: FastAPI, local: FastAPI) -> None:
    """Catalogue errors (the local API's statuses for the engine's codes) and request
    validation errors (190206, HTTP 422) as JSON replies."""
    local_handler = local.exception_handlers.get(StandfastError)

    async def on_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StandfastError)
        if exc.code in HTTP_STATUS or local_handler is None:
            return error_reply(exc, request)
        reply = local_handler(request, exc)
        return await reply if inspect.isawaitable(reply) else reply

    async def on_invalid(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return invalid_request_reply(request, exc)

    app.add_exception_handler(StandfastError, on_error)
    app.add_exception_handler(RequestValidationError, on_invalid)
