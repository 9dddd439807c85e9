"""Who may call the remote API: PAM login, roles from groups, session tokens, CSRF.

- A login's password is checked by PAM; the role comes from group membership: root and
  members of ``standfast-admin`` administer, members of ``standfast-operator`` operate
  (view, in service, out of service), members of ``standfast-guest`` view.
- A session is a random token kept server-side with an absolute expiry; it comes back
  as a bearer token or as an HttpOnly cookie. A change authenticated by the cookie must
  also carry ``X-Standfast: 1`` (a cross-site form cannot set it).
"""

# No "from __future__ import annotations": FastAPI reads the dependencies' annotations,
# which name closures, at run time.

import contextlib
import ctypes
import grp
import os
import pwd
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

from standfast.api.remote.middleware import SAFE_METHODS, note_action
from standfast.api.remote.settings import RemoteSettings
from standfast.messages import StandfastError

Role = Literal["guest", "operator", "administrator"]
ROLE_RANK: Mapping[str, int] = {"guest": 0, "operator": 1, "administrator": 2}
# The only changes an operator may make (REQUIREMENTS 4: roles).
OPERATOR_PATHS = frozenset({"/v1/in-service", "/v1/out-of-service"})
PAM_SONAME = "libpam.so.0"
COOKIE = "standfast_session"
CSRF_HEADER = "x-standfast"

Authenticator = Callable[[str, str, str], bool]

bearer_scheme = HTTPBearer(auto_error=False, description="The token returned by /api/v1/login.")
cookie_scheme = APIKeyCookie(name=COOKIE, auto_error=False, description="Set by /api/v1/login.")
BearerCredentials = Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)]
CookieToken = Annotated[str | None, Security(cookie_scheme)]


# -- roles -----------------------------------------------------------------------------------


def required_role(method: str, path: str) -> Role:
    """The least role that may call ``method path`` (path of the local API, ``/v1/...``)."""
    if method.upper() in SAFE_METHODS:
        return "guest"
    if method.upper() == "POST" and path.rstrip("/") in OPERATOR_PATHS:
        return "operator"
    return "administrator"


def may(role: str, needed: Role) -> bool:
    """True when ``role`` ranks at least ``needed`` (an unknown role may nothing)."""
    return ROLE_RANK.get(role, -1) >= ROLE_RANK[needed]


def pam_authenticate(user: str, password: str, service: str) -> bool:
    """True when PAM accepts the password and the account (not locked or expired).
    Blocks (PAM may delay a failure): call it in a thread, with a deadline. 194010
    when PAM itself cannot be used here (no libpam)."""
    pamela = _pamela()
    try:
        pamela.authenticate(user, password, service=service, resetcred=0)
    except pamela.PAMError:
        return False
    return True


def _pamela() -> Any:
    """pamela, with libpam loaded. pamela finds libpam through ldconfig's cache, which a
    minimal or volatile root may lack; it then binds to no library and fails at import
    (AttributeError: pam_strerror). Loading libpam by its soname first, into the
    global scope, lets the dynamic loader's own search find it either way."""
    try:
        ctypes.CDLL(PAM_SONAME, mode=ctypes.RTLD_GLOBAL)
        import pamela
    except (OSError, AttributeError) as exc:
        raise StandfastError("194010", reason=f"{PAM_SONAME}: {exc}") from None
    return pamela


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


# -- sessions --------------------------------------------------------------------------------


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
        """The live session of ``token``; 194004 (unknown) or 194002 (expired)."""
        s = self._sessions.get(token)
        if s is None:
            raise StandfastError("194004")
        if self.clock() >= s.expires:
            raise StandfastError("194002", user=s.user)
        return s

    def revoke(self, token: str) -> Session | None:
        """End ``token``'s session at once (idempotent: None when there was none)."""
        return self._sessions.pop(token, None)

    def _purge(self, now: float) -> None:
        for t in [t for t, s in self._sessions.items() if now - s.expires > self.KEEP_EXPIRED]:
            del self._sessions[t]


# -- request dependencies --------------------------------------------------------------------

IdentityDependency = Callable[[Request, BearerCredentials, CookieToken], Awaitable[Identity]]


def identity_dependency(sessions: SessionStore) -> IdentityDependency:
    """The FastAPI dependency that names the caller: a bearer token, else the session
    cookie (and then ``X-Standfast: 1`` on a change: 194021); neither: 194003."""

    async def identity(
        request: Request, bearer: BearerCredentials, cookie: CookieToken
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

    return identity


def check_role(ident: Identity, method: str, path: str) -> None:
    """Refuse (194020) a caller whose role is below what ``method path`` needs."""
    needed = required_role(method, path)
    if not may(ident.role, needed):
        raise StandfastError(
            "194020", user=ident.user, role=ident.role, operation=f"{method} {path}"
        )


def authorize_dependency(
    identity: IdentityDependency, server: str
) -> Callable[[Request, Identity], Awaitable[Identity]]:
    """The dependency in front of the local API's routes under ``/api``: the caller's
    role must allow the route, and a change is noted for the recent actions."""

    async def authorize(
        request: Request, ident: Annotated[Identity, Depends(identity)]
    ) -> Identity:
        path = request.url.path.removeprefix("/api")
        check_role(ident, request.method, path)
        if request.method not in SAFE_METHODS:
            note_action(request, ident.user, ident.role, server, path, await request.body())
        return ident

    return authorize
