"""The remote API: every daemon serves its REST API and the web GUI over HTTPS.

The routes are the local API's own (``standfast.api.app``), included under ``/api``
behind authentication; nothing here acts on a resource except through them.

- Login (``/api/v1/login``) checks a system account's password with PAM; the role comes
  from group membership: root and members of ``standfast-admin`` administer, members
  of ``standfast-operator`` operate (view, in service, out of service), members of
  ``standfast-guest`` view. Anyone else is refused.
- A login issues a random session token kept server-side with an expiry
  (``STANDFAST_SESSION_TTL`` seconds). It is sent back as a bearer token or as an
  HttpOnly cookie; a request authenticated by the cookie that changes something must
  also carry ``X-Standfast: 1`` (a cross-site form cannot set it).
- ``/api/servers/{server}/v1/...`` acts on any server of the cluster: for another
  server the request is relayed to that server's remote API, signed with the cluster
  key (HMAC over sender, user, role, time, nonce, method, path and body), so one login
  on one server manages the whole cluster. The relaying server verifies the other
  server's HTTPS certificate against the one that server announced over the
  authenticated cluster channel (pinned), so the reply is as trustworthy as the request.
- ``/api/v1/stream`` pushes the cluster's status, new events and recent actions as
  server-sent events whenever they change.
"""

import asyncio
import contextlib
import grp
import hashlib
import hmac
import inspect
import ipaddress
import json
import logging
import os
import pwd
import re
import secrets
import ssl
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Any, Literal

import httpx
import uvicorn
from fastapi import Depends, FastAPI, Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from fastapi.routing import APIRoute, APIRouter
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from standfast import __version__
from standfast.api.app import create_app
from standfast.api.tls import (
    CertificatePins,
    ensure_certificate,
    leaf_certificate,
    verification_error,
)
from standfast.cluster.auth import KeyFileError, load_key
from standfast.engine.cluster_engine import ClusterEngine
from standfast.engine.engine import Engine
from standfast.messages import Lang, Notice, StandfastError, language_from_env
from standfast.model.states import State
from standfast.model.tags import parse_switchback, validate_priority, validate_tag

log = logging.getLogger("standfast.api")

Role = Literal["guest", "operator", "administrator"]
ROLE_RANK: Mapping[str, int] = {"guest": 0, "operator": 1, "administrator": 2}
# The only changes an operator may make (REQUIREMENTS 4: roles).
OPERATOR_PATHS = frozenset({"/v1/in-service", "/v1/out-of-service"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
COOKIE = "standfast_session"
CSRF_HEADER = "x-standfast"
STATIC_DIR = Path(__file__).resolve().parent.parent / "web" / "static"
STREAM_INTERVAL = 0.3
RELAY_WINDOW = 30.0  # seconds a signed relay request stays valid
_USER_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}\$?")
_MAX_PASSWORD = 1024

_HTTP_STATUS = {
    "194001": 401,
    "194002": 401,
    "194003": 401,
    "194004": 401,
    "194005": 403,
    "194006": 503,
    "194007": 400,
    "194020": 403,
    "194021": 403,
    "194040": 404,
    "194041": 502,
    "194042": 403,
    "194043": 502,
    "190203": 403,
}


def required_role(method: str, path: str) -> Role:
    """The least role that may call ``method path`` (path of the local API, ``/v1/...``)."""
    if method.upper() in SAFE_METHODS:
        return "guest"
    if method.upper() == "POST" and path.rstrip("/") in OPERATOR_PATHS:
        return "operator"
    return "administrator"


def may(role: str, needed: Role) -> bool:
    return ROLE_RANK.get(role, -1) >= ROLE_RANK[needed]


# -- settings --------------------------------------------------------------------------


@dataclass(frozen=True)
class RemoteSettings:
    """Where and how the remote API listens; every value has an environment variable."""

    enabled: bool = True
    host: str = "0.0.0.0"
    port: int = 7443
    certfile: Path | None = None
    keyfile: Path | None = None
    session_ttl: float = 1800.0
    pam_service: str = "standfast"
    pam_timeout: float = 20.0
    admin_group: str = "standfast-admin"
    operator_group: str = "standfast-operator"
    guest_group: str = "standfast-guest"

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None
    ) -> "tuple[RemoteSettings, list[Notice]]":
        """``STANDFAST_REMOTE_LISTEN`` (``host:port``, or ``off``), ``STANDFAST_TLS_CERT``
        and ``STANDFAST_TLS_KEY`` (an administrator's certificate; else one is made),
        ``STANDFAST_SESSION_TTL`` (seconds), ``STANDFAST_PAM_SERVICE``."""
        env = os.environ if env is None else env
        notices: list[Notice] = []
        s = cls()
        listen = env.get("STANDFAST_REMOTE_LISTEN", "").strip()
        if listen.lower() in ("off", "no", "none", "0"):
            s = _replace(s, enabled=False)
        elif listen:
            host, _, port = listen.rpartition(":")
            try:
                if not host or not 0 < int(port) < 65536:
                    raise ValueError("expected host:port")
                s = _replace(s, host=host.strip("[]"), port=int(port))
            except ValueError as exc:
                notices.append(
                    Notice.of(
                        "194062", name="STANDFAST_REMOTE_LISTEN", value=listen, reason=str(exc)
                    )
                )
        cert, key = env.get("STANDFAST_TLS_CERT", ""), env.get("STANDFAST_TLS_KEY", "")
        if cert and key:
            s = _replace(s, certfile=Path(cert), keyfile=Path(key))
        ttl = env.get("STANDFAST_SESSION_TTL", "")
        if ttl:
            try:
                value = float(ttl)
                if not 1.0 <= value <= 7 * 86400:
                    raise ValueError("must be 1 to 604800 seconds")
                s = _replace(s, session_ttl=value)
            except ValueError as exc:
                notices.append(
                    Notice.of("194062", name="STANDFAST_SESSION_TTL", value=ttl, reason=str(exc))
                )
        if env.get("STANDFAST_PAM_SERVICE"):
            s = _replace(s, pam_service=env["STANDFAST_PAM_SERVICE"])
        return s, notices


def _replace(s: RemoteSettings, **changes: Any) -> RemoteSettings:
    return replace(s, **changes)


# -- accounts ----------------------------------------------------------------------------

Authenticator = Callable[[str, str, str], bool]


def pam_authenticate(user: str, password: str, service: str) -> bool:
    """True when PAM accepts the password and the account (not locked or expired)."""
    import pamela

    try:
        pamela.authenticate(user, password, service=service, resetcred=0)
    except pamela.PAMError:
        return False
    return True


def role_of(user: str, settings: RemoteSettings) -> Role | None:
    """root administers; otherwise the highest role among the user's groups."""
    try:
        pw = pwd.getpwnam(user)
    except KeyError:
        return None
    if pw.pw_uid == 0:
        return "administrator"
    names: set[str] = set()
    for gid in os.getgrouplist(user, pw.pw_gid):
        with contextlib.suppress(KeyError):
            names.add(grp.getgrgid(gid).gr_name)
    if settings.admin_group in names:
        return "administrator"
    if settings.operator_group in names:
        return "operator"
    if settings.guest_group in names:
        return "guest"
    return None


# -- sessions ----------------------------------------------------------------------------


@dataclass
class Session:
    token: str
    user: str
    role: Role
    created: float
    expires: float


@dataclass(frozen=True)
class Identity:
    user: str
    role: Role
    session: Session | None = None  # None: a request relayed by another server


class SessionStore:
    """Random tokens, server-side, each with an absolute expiry. An expired token is
    remembered for a while so its holder learns it expired rather than that it is bad."""

    KEEP_EXPIRED = 3600.0

    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.clock = clock
        self._sessions: dict[str, Session] = {}

    def issue(self, user: str, role: Role) -> Session:
        now = self.clock()
        self._purge(now)
        s = Session(secrets.token_urlsafe(32), user, role, now, now + self.ttl)
        self._sessions[s.token] = s
        return s

    def get(self, token: str) -> Session:
        s = self._sessions.get(token)
        if s is None:
            raise StandfastError("194004")
        if self.clock() >= s.expires:
            raise StandfastError("194002", user=s.user)
        return s

    def revoke(self, token: str) -> Session | None:
        return self._sessions.pop(token, None)

    def _purge(self, now: float) -> None:
        for t in [t for t, s in self._sessions.items() if now - s.expires > self.KEEP_EXPIRED]:
            del self._sessions[t]


# -- recent actions ----------------------------------------------------------------------


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


class _ActionRecorder:
    """Pure ASGI middleware: times every change made through the API and notes who
    made it and how it ended (status, catalogue code)."""

    def __init__(self, app: ASGIApp, sink: deque[ActionRecord]) -> None:
        self.app = app
        self.sink = sink

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] in SAFE_METHODS
            or not str(scope["path"]).startswith("/api/")
            or scope["path"] in ("/api/v1/login", "/api/v1/logout", "/api/v1/validate")
            or str(scope["path"]).startswith("/api/relay/")
        ):
            await self.app(scope, receive, send)
            return
        started = time.monotonic()
        status = 0
        body = bytearray()

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            elif message["type"] == "http.response.body" and len(body) < 65536:
                body.extend(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            info = scope.get("standfast.action")
            if isinstance(info, dict):
                code = ""
                if status >= 400:
                    with contextlib.suppress(ValueError, AttributeError, TypeError):
                        code = str(json.loads(bytes(body))["error"]["code"])
                self.sink.append(
                    ActionRecord(
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
                )


def _target_of(body: bytes, path: str) -> str:
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


# -- the cluster as the GUI shows it ------------------------------------------------------


def cluster_view(engine: Engine) -> dict[str, object]:
    """Every resource instance on every server with its state as this server knows it
    (its own states, and each live peer's from its heartbeat)."""
    config = engine.config
    if isinstance(engine, ClusterEngine):
        servers = sorted(engine.definition.servers)
        alive = set(engine.members.alive())
        states: dict[str, Mapping[str, State]] = {engine.server: engine.states}
        for peer in alive - {engine.server}:
            try:
                states[peer] = engine.peer_states(peer)
            except Exception:  # a half-heard peer must not break the view
                states[peer] = {}
    else:
        servers, alive, states = [engine.server], {engine.server}, {engine.server: engine.states}
    resources: list[dict[str, object]] = []
    graphs = {s: config.graph(s) for s in {srv for srv, _ in config.resources}}
    for (srv, tag), r in sorted(config.resources.items()):
        g = graphs[srv]
        st = states.get(srv, {}).get(tag) if srv in alive else None
        resources.append(
            {
                "server": srv,
                "tag": tag,
                "kit": r.kit,
                "id": r.id,
                "equiv": r.equiv or f"{tag}@{srv}",
                "priority": r.priority,
                "switchback": str(r.switchback),
                "state": str(st) if st is not None else "UNKNOWN",
                "reason": engine.reasons.get(tag, "") if srv == engine.server else "",
                "parents": g.parents(tag),
                "children": g.children(tag),
            }
        )
    return {
        "local": engine.server,
        "servers": servers,
        "alive": sorted(alive),
        "resources": resources,
    }


def _event_dict(engine: Engine, e: Any) -> dict[str, object]:
    d = dict(e.__dict__)
    d["server"] = engine.server
    return d


# -- the app ---------------------------------------------------------------------------------


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


def _lang(request: Request) -> Lang:
    header = request.headers.get("accept-language", "")
    if header:
        return "ja" if header.lower().startswith("ja") else "en"
    return language_from_env()


def _error(exc: StandfastError, request: Request) -> JSONResponse:
    lang = _lang(request)
    status = _HTTP_STATUS.get(exc.code, 400)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(
        {"error": exc.to_dict(lang), "notices": [n.to_dict(lang) for n in exc.notices]},
        status_code=status,
        headers=headers,
    )


_bearer = HTTPBearer(auto_error=False, description="The token returned by /api/v1/login.")
_cookie = APIKeyCookie(name=COOKIE, auto_error=False, description="Set by /api/v1/login.")


def _fmt_host(addr: str) -> str:
    with contextlib.suppress(ValueError):
        if ipaddress.ip_address(addr).version == 6:
            return f"[{addr}]"
    return addr


def _relay_fields(
    sender: str, user: str, role: str, ts: str, nonce: str, method: str, path: str, body: bytes
) -> bytes:
    digest = hashlib.sha256(body).hexdigest()
    return "\n".join([sender, user, role, ts, nonce, method.upper(), path, digest]).encode()


def create_remote_app(
    engine: Engine,
    settings: RemoteSettings | None = None,
    *,
    authenticator: Authenticator = pam_authenticate,
) -> FastAPI:
    settings = settings or RemoteSettings.from_env()[0]
    local = create_app(engine)
    sessions = SessionStore(settings.session_ttl)
    actions: deque[ActionRecord] = deque(maxlen=200)
    key: bytes | None = None
    if isinstance(engine, ClusterEngine):
        try:
            key = load_key(engine.paths.cluster_key)
        except KeyFileError:
            key = None
    seen_nonces: dict[str, float] = {}
    pins = CertificatePins(engine) if isinstance(engine, ClusterEngine) else None
    pam_slots = asyncio.Semaphore(4)

    app = FastAPI(
        title="Standfast remote API",
        version=__version__,
        description=(
            "The Standfast daemon's REST API over HTTPS. Log in with a system account "
            "(`POST /api/v1/login`, checked by PAM); send the returned token as "
            "`Authorization: Bearer TOKEN` (or rely on the session cookie, adding the "
            "header `X-Standfast: 1` to every change). Roles by group: administrator "
            f"(root, `{settings.admin_group}`): everything; operator "
            f"(`{settings.operator_group}`): view, in service, out of service; guest "
            f"(`{settings.guest_group}`): view only. Tokens expire after "
            f"{int(settings.session_ttl)} s. `/api/servers/{{server}}/v1/...` acts on any "
            "server of the cluster. Errors are catalogue messages in an `error` object, "
            "in the language of `Accept-Language` (en, ja)."
        ),
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.sessions = sessions
    app.state.actions = actions
    app.state.settings = settings

    local_handler = local.exception_handlers.get(StandfastError)

    @app.exception_handler(StandfastError)
    async def on_error(request: Request, exc: StandfastError) -> Response:
        if exc.code in _HTTP_STATUS or local_handler is None:
            return _error(exc, request)
        # The local API's own mapping of engine codes to HTTP statuses.
        reply = local_handler(request, exc)
        return await reply if inspect.isawaitable(reply) else reply

    @app.exception_handler(RequestValidationError)
    async def on_invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        detail = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}"
            for e in exc.errors()
        )
        err = StandfastError("190206", detail=detail)
        return JSONResponse({"error": err.to_dict(_lang(request))}, status_code=422)

    # -- who is calling ---------------------------------------------------------------

    async def identity(
        request: Request,
        bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
        cookie: Annotated[str | None, Security(_cookie)],
    ) -> Identity:
        if bearer is not None and bearer.credentials:
            session = sessions.get(bearer.credentials)
        elif cookie:
            session = sessions.get(cookie)
            if request.method not in SAFE_METHODS and request.headers.get(CSRF_HEADER) != "1":
                raise StandfastError("194021")
        else:
            raise StandfastError("194003")
        return Identity(session.user, session.role, session)

    def check_role(ident: Identity, method: str, path: str) -> None:
        needed = required_role(method, path)
        if not may(ident.role, needed):
            raise StandfastError(
                "194020", user=ident.user, role=ident.role, operation=f"{method} {path}"
            )

    async def authorize(
        request: Request, ident: Annotated[Identity, Depends(identity)]
    ) -> Identity:
        path = request.url.path.removeprefix("/api")
        check_role(ident, request.method, path)
        if request.method not in SAFE_METHODS:
            request.scope["standfast.action"] = {
                "user": ident.user,
                "role": ident.role,
                "server": engine.server,
                "path": path,
                "target": _target_of(await request.body(), path),
            }
        return ident

    # -- the local API's routes, behind authorisation --------------------------------------

    router = APIRouter()
    for route in local.routes:
        if isinstance(route, APIRoute):
            router.routes.append(route)
    app.include_router(router, prefix="/api", dependencies=[Depends(authorize)])

    # -- sessions --------------------------------------------------------------------------

    @app.post("/api/v1/login", tags=["session"])
    async def login(request: Request, body: LoginBody) -> JSONResponse:
        """Check a system account's password with PAM; the reply carries a session
        token (and sets the session cookie)."""
        user = body.username.strip()
        if not user or not body.password:
            raise StandfastError("194007")
        if not _USER_RE.fullmatch(user) or len(body.password) > _MAX_PASSWORD:
            raise StandfastError("194001", user=user[:64])
        if "\0" in body.password:
            raise StandfastError("194001", user=user)
        async with pam_slots:
            try:
                ok = await asyncio.wait_for(
                    asyncio.to_thread(authenticator, user, body.password, settings.pam_service),
                    timeout=settings.pam_timeout,
                )
            except TimeoutError:
                raise StandfastError("194006", seconds=settings.pam_timeout) from None
        if not ok:
            log.warning(StandfastError("194001", user=user).text("en"))
            raise StandfastError("194001", user=user)
        role = role_of(user, settings)
        if role is None:
            groups = ", ".join(
                (settings.admin_group, settings.operator_group, settings.guest_group)
            )
            raise StandfastError("194005", user=user, groups=groups)
        session = sessions.issue(user, role)
        log.info(Notice.of("194008", user=user, role=role).text("en"))
        reply = JSONResponse(
            {
                "token": session.token,
                "user": user,
                "role": role,
                "server": engine.server,
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
    async def logout(
        bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
        cookie: Annotated[str | None, Security(_cookie)],
    ) -> JSONResponse:
        """End the session (its token stops working at once)."""
        token = (bearer.credentials if bearer else "") or cookie or ""
        gone = sessions.revoke(token) if token else None
        if gone is not None:
            log.info(Notice.of("194009", user=gone.user).text("en"))
        reply = JSONResponse({"logged_out": gone is not None})
        reply.delete_cookie(COOKIE, path="/", secure=True, httponly=True, samesite="strict")
        return reply

    @app.get("/api/v1/whoami", tags=["session"])
    async def whoami(ident: Annotated[Identity, Depends(identity)]) -> dict[str, object]:
        """The caller, its role, what it may do, and how long its session lasts."""
        s = ident.session
        return {
            "user": ident.user,
            "role": ident.role,
            "server": engine.server,
            "expires_in": round(s.expires - sessions.clock(), 1) if s else None,
            "may": {
                "view": True,
                "in_out_of_service": may(ident.role, "operator"),
                "administer": may(ident.role, "administrator"),
            },
        }

    @app.post("/api/v1/validate", tags=["session"])
    async def validate(
        body: ValidateBody, ident: Annotated[Identity, Depends(identity)]
    ) -> dict[str, object]:
        """Check one wizard field (tag, priority, switchback, mount point): a catalogue
        error, or ``{"ok": true}``. Changes nothing."""
        validate_field(body.field, body.value)
        return {"ok": True}

    @app.get("/api/v1/actions", tags=["status"])
    async def recent_actions(
        ident: Annotated[Identity, Depends(identity)],
    ) -> list[dict[str, object]]:
        """Changes made through this server's API: who, what, result, duration."""
        return [a.to_dict() for a in actions]

    @app.get("/api/v1/view", tags=["status"])
    async def view(ident: Annotated[Identity, Depends(identity)]) -> dict[str, object]:
        """Every resource instance on every server, as this server knows it."""
        return cluster_view(engine)

    # -- live status -------------------------------------------------------------------------

    def snapshot() -> dict[str, object]:
        return {"status": engine.status(), "view": cluster_view(engine)}

    @app.get(
        "/api/v1/stream",
        tags=["status"],
        response_class=StreamingResponse,
        responses={200: {"content": {"text/event-stream": {}}}},
    )
    async def stream(
        request: Request,
        ident: Annotated[Identity, Depends(identity)],
        since: float = 0.0,
    ) -> StreamingResponse:
        """Server-sent events: ``status`` (status and view) when they change, ``events``
        (new engine events after ``since``), ``actions`` (new changes), ``expired``."""

        async def gen() -> AsyncIterator[str]:
            last = ""
            last_event = since
            last_action = since
            last_send = time.monotonic()
            yield "retry: 2000\n\n"
            while True:
                if await request.is_disconnected():
                    return
                s = ident.session
                if s is not None and sessions.clock() >= s.expires:
                    err = StandfastError("194002", user=s.user).to_dict(_lang(request))
                    yield f"event: expired\ndata: {json.dumps(err)}\n\n"
                    return
                payload = json.dumps(snapshot(), sort_keys=True, default=str)
                if payload != last:
                    last = payload
                    last_send = time.monotonic()
                    yield f"event: status\ndata: {payload}\n\n"
                new = [_event_dict(engine, e) for e in engine.events if e.ts > last_event]
                if new:
                    last_event = float(str(new[-1]["ts"]))
                    last_send = time.monotonic()
                    yield f"event: events\ndata: {json.dumps(new, default=str)}\n\n"
                acts = [a.to_dict() for a in actions if a.ts > last_action]
                if acts:
                    last_action = float(str(acts[-1]["ts"]))
                    last_send = time.monotonic()
                    yield f"event: actions\ndata: {json.dumps(acts, default=str)}\n\n"
                if time.monotonic() - last_send > 15:
                    last_send = time.monotonic()
                    yield ": keep-alive\n\n"
                await asyncio.sleep(STREAM_INTERVAL)

        return StreamingResponse(
            gen(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    # -- any server of the cluster ------------------------------------------------------------

    async def dispatch_local(
        method: str, path: str, query: str, body: bytes, lang: str
    ) -> Response:
        transport = httpx.ASGITransport(app=local)
        async with httpx.AsyncClient(transport=transport, base_url="http://local") as c:
            r = await c.request(
                method,
                path + (f"?{query}" if query else ""),
                content=body,
                headers={"content-type": "application/json", "accept-language": lang},
                timeout=None,
            )
        return Response(r.content, r.status_code, media_type="application/json")

    def relay_port() -> int:
        return int(getattr(app.state, "port", settings.port))

    async def forward(
        server: str, method: str, rest: str, query: str, body: bytes, ident: Identity, lang: str
    ) -> Response:
        assert isinstance(engine, ClusterEngine) and key is not None and pins is not None
        sdef = engine.definition.servers[server]
        ts, nonce = f"{time.time():.3f}", secrets.token_hex(12)
        path = f"/api/relay/{rest}"
        sig = hmac.new(
            key,
            _relay_fields(engine.server, ident.user, ident.role, ts, nonce, method, path, body),
            hashlib.sha256,
        ).hexdigest()
        headers = {
            "content-type": "application/json",
            "accept-language": lang,
            "x-standfast-relay-from": engine.server,
            "x-standfast-relay-user": ident.user,
            "x-standfast-relay-role": ident.role,
            "x-standfast-relay-time": ts,
            "x-standfast-relay-nonce": nonce,
            "x-standfast-relay-signature": sig,
        }
        read = float(engine.tunables.SF_ACTION_TIMEOUT) + 15.0
        reason: object = "no address"
        for attempt in range(2):
            # The second round only after a certificate mismatch, with the certificate
            # asked afresh (the server may have restarted with a new one).
            verify = await pins.context(server, refresh=attempt > 0)
            mismatch: ssl.SSLCertVerificationError | None = None
            for net in sorted(sdef.addresses):
                url = f"https://{_fmt_host(sdef.addresses[net])}:{relay_port()}{path}"
                async with httpx.AsyncClient(
                    verify=verify, timeout=httpx.Timeout(read, connect=2.0)
                ) as c:
                    try:
                        r = await c.request(
                            method,
                            url + (f"?{query}" if query else ""),
                            content=body,
                            headers=headers,
                        )
                    except httpx.TransportError as exc:
                        mismatch = verification_error(exc) or mismatch
                        reason = exc.__class__.__name__ + (f": {exc}" if str(exc) else "")
                        continue
                return Response(r.content, r.status_code, media_type="application/json")
            if mismatch is None:
                break
        if mismatch is not None:
            notice = StandfastError("194043", server=server, reason=mismatch.verify_message)
            log.error(notice.text("en"))
            raise notice
        raise StandfastError("194041", server=server, reason=reason)

    async def on_server(
        request: Request,
        server: str,
        rest: str,
        ident: Annotated[Identity, Depends(identity)],
    ) -> Response:
        """Any route of this API (``v1/...``) on another server of the cluster, with the
        caller's identity and role; on this server's name it is served here."""
        path = "/" + rest
        if not path.startswith("/v1/"):
            raise StandfastError("190206", detail=f"unknown path {path}")
        check_role(ident, request.method, path)
        body = await request.body()
        if request.method not in SAFE_METHODS:
            request.scope["standfast.action"] = {
                "user": ident.user,
                "role": ident.role,
                "server": server,
                "path": path,
                "target": _target_of(body, path),
            }
        lang = _lang(request)
        query = request.url.query
        if server == engine.server:
            return await dispatch_local(request.method, path, query, body, lang)
        if not isinstance(engine, ClusterEngine) or server not in engine.definition.servers:
            raise StandfastError("194040", server=server)
        if key is None:
            raise StandfastError("194041", server=server, reason="no cluster key")
        return await forward(server, request.method, rest, query, body, ident, lang)

    for method in ("GET", "POST", "PATCH", "DELETE"):
        app.add_api_route(
            "/api/servers/{server}/{rest:path}",
            on_server,
            methods=[method],
            tags=["cluster"],
            operation_id=f"on_server_{method.lower()}",
        )

    @app.api_route(
        "/api/relay/{rest:path}",
        methods=["GET", "POST", "PATCH", "DELETE"],
        include_in_schema=False,
    )
    async def relayed(request: Request, rest: str) -> Response:
        h = request.headers
        sender = h.get("x-standfast-relay-from", "")
        if not isinstance(engine, ClusterEngine) or key is None:
            raise StandfastError("194042", peer=sender or "?", reason="not a cluster member")
        if sender not in engine.definition.servers or sender == engine.server:
            raise StandfastError("194042", peer=sender or "?", reason="unknown sender")
        user, role = h.get("x-standfast-relay-user", ""), h.get("x-standfast-relay-role", "")
        ts, nonce = h.get("x-standfast-relay-time", ""), h.get("x-standfast-relay-nonce", "")
        body = await request.body()
        expected = hmac.new(
            key,
            _relay_fields(sender, user, role, ts, nonce, request.method, request.url.path, body),
            hashlib.sha256,
        ).hexdigest()
        if not hmac.compare_digest(expected, h.get("x-standfast-relay-signature", "")):
            raise StandfastError("194042", peer=sender, reason="bad signature")
        try:
            age = abs(time.time() - float(ts))
        except ValueError:
            age = RELAY_WINDOW + 1
        now = time.monotonic()
        for n in [n for n, t in seen_nonces.items() if now - t > 2 * RELAY_WINDOW]:
            del seen_nonces[n]
        if age > RELAY_WINDOW or nonce in seen_nonces or role not in ROLE_RANK:
            raise StandfastError("194042", peer=sender, reason="stale or replayed request")
        seen_nonces[nonce] = now
        path = "/" + rest
        ident = Identity(user, role)  # type: ignore[arg-type]  # checked against ROLE_RANK
        check_role(ident, request.method, path)
        if request.method not in SAFE_METHODS:
            log.info("%s (%s) via %s: %s %s", user, role, sender, request.method, path)
        return await dispatch_local(request.method, path, request.url.query, body, _lang(request))

    # -- the GUI --------------------------------------------------------------------------------

    app.mount("/", StaticFiles(directory=STATIC_DIR, html=True), name="gui")
    app.add_middleware(_ActionRecorder, sink=actions)
    app.add_middleware(_SecurityHeaders)
    return app


class _SecurityHeaders:
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


# -- serving -------------------------------------------------------------------------------


class _Server(uvicorn.Server):
    """The daemon owns the signals; this server stops when its task is cancelled."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _addresses(engine: Engine) -> list[str]:
    if isinstance(engine, ClusterEngine):
        return list(engine.definition.server(engine.server).addresses.values())
    return []


async def serve_remote(
    engine: Engine,
    host: str,
    port: int,
    certfile: Path | str | None,
    keyfile: Path | str | None,
    settings: RemoteSettings | None = None,
) -> None:
    """Serve the remote API and GUI over HTTPS until cancelled. Without a certificate
    one is made (once) in the daemon's data directory."""
    settings = settings or RemoteSettings.from_env()[0]
    if certfile is None or keyfile is None:
        certfile, keyfile = await asyncio.to_thread(
            ensure_certificate,
            engine.paths.data_dir / "tls",
            engine.server,
            [host, *_addresses(engine)],
        )
    if isinstance(engine, ClusterEngine):
        try:
            engine.remote_certificate = leaf_certificate(Path(str(certfile)).read_text())
        except (OSError, ValueError) as exc:
            raise StandfastError("194060", path=certfile, reason=exc) from None
    app = create_remote_app(engine, settings)
    app.state.port = port
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        ssl_certfile=str(certfile),
        ssl_keyfile=str(keyfile),
        lifespan="off",
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=3,
        proxy_headers=False,
    )
    server = _Server(config)

    async def guarded() -> None:
        try:
            await server.serve()
        except SystemExit:  # uvicorn exits when it cannot bind: not the daemon's exit
            raise StandfastError("194063", host=host, port=port) from None

    task = asyncio.create_task(guarded())
    try:
        while not server.started and not task.done():
            await asyncio.sleep(0.02)
        if server.started:
            log.info(Notice.of("194061", host=host, port=port).text("en"))
        await asyncio.shield(task)
    except asyncio.CancelledError:
        server.should_exit = True
        with contextlib.suppress(TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(task, timeout=5.0)
        raise


def start_remote_from_env(
    engine: Engine, env: Mapping[str, str] | None = None
) -> asyncio.Task[None] | None:
    """For the daemon: start the remote API as a task per the environment
    (``RemoteSettings.from_env``); None when it is turned off."""
    settings, notices = RemoteSettings.from_env(env)
    for n in notices:
        log.warning(n.text("en"))
    if not settings.enabled:
        return None
    task = asyncio.create_task(
        serve_remote(
            engine,
            settings.host,
            settings.port,
            settings.certfile,
            settings.keyfile,
            settings,
        ),
        name="standfast-remote-api",
    )
    task.add_done_callback(_log_end)
    return task


def _log_end(task: "asyncio.Task[None]") -> None:
    """A remote API that cannot start (port taken, no certificate) is logged, never
    silent; the local socket API and the engine go on."""
    if task.cancelled():
        return
    exc = task.exception()
    if isinstance(exc, StandfastError):
        log.error(exc.text("en"))
    elif exc is not None:
        log.error("remote API stopped: %s", exc, exc_info=exc)


__all__ = [
    "ROLE_RANK",
    "Identity",
    "RemoteSettings",
    "SessionStore",
    "cluster_view",
    "create_remote_app",
    "required_role",
    "role_of",
    "serve_remote",
    "start_remote_from_env",
]
