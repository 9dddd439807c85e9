"""The remote API: every daemon serves its REST API and the web GUI over HTTPS.

The routes are the local API's own (``standfast.api.app``), included under ``/api``
behind authentication; nothing here acts on a resource except through them.

- Login (``/api/v1/login``) checks a system account's password with PAM; the role comes
  from group membership (``sessions``). A login issues a random session token kept
  server-side with an expiry (``STANDFAST_SESSION_TTL`` seconds), sent back as a bearer
  token or as an HttpOnly cookie; a change authenticated by the cookie must also carry
  ``X-Standfast: 1``.
- ``/api/servers/{server}/v1/...`` acts on any server of the cluster: for another
  server the request is relayed to that server's remote API in a cluster envelope
  sealed with the cluster key (``relay``), so one login on one server manages the whole
  cluster. The relaying server pins the other server's HTTPS certificate to the one it
  announced over the authenticated cluster channel.
- ``/api/v1/stream`` pushes the cluster's status, new events and recent actions as
  server-sent events whenever they change (``stream``).

Modules: ``settings`` (environment), ``sessions`` (PAM, roles, tokens, CSRF),
``middleware`` (recent actions, security headers), ``errors``, ``view`` (the cluster as
the GUI shows it), ``stream``, ``relay``, ``routes_session``, ``routes_status``,
``routes_cluster``, ``remote_app`` (the app), ``server`` (serving it for the daemon).
The engine is reached only through its facade, ``standfast.engine.service.EngineService``.
"""

from standfast.api.remote.remote_app import create_remote_app
from standfast.api.remote.server import serve_remote, start_remote_from_env
from standfast.api.remote.sessions import (
    ROLE_RANK,
    Identity,
    SessionStore,
    required_role,
    role_of,
)
from standfast.api.remote.settings import RemoteSettings
from standfast.api.remote.view import cluster_view

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
