"""The session routes: log in, log out, who am I, and the wizards' field checks."""

# No "from __future__ import annotations": FastAPI reads the routes' annotations, which
# name a closure's dependency, at run time.

import asyncio
import logging
import math
import re
from typing import Annotated, Literal

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from standfast.api.remote.context import RemoteContext
from standfast.api.remote.sessions import (
    COOKIE,
    BearerCredentials,
    CookieToken,
    Identity,
    Role,
    may,
    role_of,
)
from standfast.messages import Notice, StandfastError
from standfast.model.tags import parse_switchback, validate_priority, validate_tag

log = logging.getLogger("standfast.api")

_USER_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}\$?")
_MAX_PASSWORD = 1024


class LoginBody(BaseModel):
    username: str = ""
    password: str = ""


class ValidateBody(BaseModel):
    field: Literal["tag", "priority", "switchback", "mount_point"]
    value: str | int = ""


def validate_field(field: str, value: str | int) -> None:
    """The catalogue's checks of one wizard field, before anything is asked of a server."""
    text = str(value).strip()
    if field == "tag":
        validate_tag(text)
    elif field == "priority":
        try:
            number = int(text)
        except ValueError:
            raise StandfastError("190005", priority=text) from None
        validate_priority(number)
    elif field == "switchback":
        parse_switchback(text)
    elif field == "mount_point":
        if not text:
            raise StandfastError("107006")
        if not text.startswith("/"):
            raise StandfastError("104902", mount_point=text)


def _check_login_shape(body: LoginBody) -> str:
    """The user name, once the request is plausible (194007, 194001 otherwise)."""
    user = body.username.strip()
    if not user or not body.password:
        raise StandfastError("194007")
    if not _USER_RE.fullmatch(user) or len(body.password) > _MAX_PASSWORD:
        raise StandfastError("194001", user=user[:64])
    if "\0" in body.password:
        raise StandfastError("194001", user=user)
    return user


async def _throttled(ctx: RemoteContext, source: str, user: str, password: str) -> Role:
    """:func:`_authenticate` under the login throttle: refused at once (no PAM) while
    ``source`` or ``user`` is locked out (194094) or while another login of ``source``
    is being checked (194095); a wrong password counts against both."""
    throttle = ctx.throttle
    wait = throttle.locked_for(source, user)
    if wait > 0:
        raise StandfastError("194094", seconds=math.ceil(wait))
    if not throttle.begin(source):
        raise StandfastError("194095")
    try:
        role = await _authenticate(ctx, user, password)
    except StandfastError as exc:
        if exc.code == "194001":
            throttle.failed(source, user)
        elif exc.code == "194005":
            throttle.succeeded(source, user)  # the password was right
        raise
    finally:
        throttle.end(source)
    throttle.succeeded(source, user)
    return role


async def _authenticate(ctx: RemoteContext, user: str, password: str) -> Role:
    """The role of ``user`` once PAM accepts ``password``: at most a few PAM checks at
    once, each within ``pam_timeout`` (194006); 194001 refused, 194005 no role."""
    settings = ctx.settings
    try:
        # Waiting for a slot has the same deadline as the check itself.
        await asyncio.wait_for(ctx.pam_slots.acquire(), timeout=settings.pam_timeout)
    except TimeoutError:
        raise StandfastError("194006", seconds=settings.pam_timeout) from None
    try:
        try:
            ok = await asyncio.wait_for(
                asyncio.to_thread(ctx.authenticator, user, password, settings.pam_service),
                timeout=settings.pam_timeout,
            )
        except TimeoutError:
            raise StandfastError("194006", seconds=settings.pam_timeout) from None
    finally:
        ctx.pam_slots.release()
    if not ok:
        log.warning(StandfastError("194001", user=user).text("en"))
        raise StandfastError("194001", user=user)
    role = role_of(user, settings)
    if role is None:
        groups = ", ".join((settings.admin_group, settings.operator_group, settings.guest_group))
        raise StandfastError("194005", user=user, groups=groups)
    return role


def add_login_routes(app: FastAPI, ctx: RemoteContext) -> None:
    """``POST /api/v1/login`` and ``POST /api/v1/logout``."""
    settings, sessions = ctx.settings, ctx.sessions

    @app.post("/api/v1/login", tags=["session"])
    async def login(request: Request, body: LoginBody) -> JSONResponse:
        """Check a system account's password with PAM; the reply carries a session
        token (and sets the session cookie)."""
        user = _check_login_shape(body)
        source = request.client.host if request.client else "?"
        role = await _throttled(ctx, source, user, body.password)
        session = sessions.issue(user, role)
        log.info(Notice.of("194008", user=user, role=role).text("en"))
        reply = JSONResponse(
            {
                "token": session.token,
                "user": user,
                "role": role,
                "server": ctx.engine.server,
                "expires_in": settings.session_ttl,
            }
        )
        reply.set_cookie(
            COOKIE,
            session.token,
            max_age=int(settings.session_ttl),
            httponly=True,
            secure=True,
            samesite="strict",
            path="/",
        )
        return reply

    @app.post("/api/v1/logout", tags=["session"])
    async def logout(bearer: BearerCredentials, cookie: CookieToken) -> JSONResponse:
        """End the session (its token stops working at once)."""
        token = (bearer.credentials if bearer else "") or cookie or ""
        gone = sessions.revoke(token) if token else None
        if gone is not None:
            log.info(Notice.of("194009", user=gone.user).text("en"))
        reply = JSONResponse({"logged_out": gone is not None})
        reply.delete_cookie(COOKIE, path="/", secure=True, httponly=True, samesite="strict")
        return reply


def add_whoami_routes(app: FastAPI, ctx: RemoteContext) -> None:
    """``GET /api/v1/whoami`` and ``POST /api/v1/validate``."""
    sessions = ctx.sessions

    @app.get("/api/v1/whoami", tags=["session"])
    async def whoami(ident: Annotated[Identity, Depends(ctx.identity)]) -> dict[str, object]:
        """The caller, its role, what it may do, and how long its session lasts."""
        s = ident.session
        return {
            "user": ident.user,
            "role": ident.role,
            "server": ctx.engine.server,
            "expires_in": round(s.expires - sessions.clock(), 1) if s else None,
            "may": {
                "view": True,
                "in_out_of_service": may(ident.role, "operator"),
                "administer": may(ident.role, "administrator"),
            },
        }

    @app.post("/api/v1/validate", tags=["session"])
    async def validate(
        body: ValidateBody, ident: Annotated[Identity, Depends(ctx.identity)]
    ) -> dict[str, object]:
        """Check one wizard field (tag, priority, switchback, mount point): a catalogue
        error, or ``{"ok": true}``. Changes nothing."""
        validate_field(body.field, body.value)
        return {"ok": True}
