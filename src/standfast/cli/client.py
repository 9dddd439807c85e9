"""The CLI's connection to the local daemon over its Unix socket.

Standard library only (``http.client``): the CLI starts on every command, and in the
lab's emulated guests importing an HTTP client library cost seconds of each one.
"""

from __future__ import annotations

import http.client
import json as jsonlib
import socket
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from standfast.messages import Lang, StandfastError

#: The bound on connecting to the daemon's socket (the request has its own timeout).
CONNECT_TIMEOUT = 5.0


class ApiError(Exception):
    """A refusal from the daemon: the catalogue message it sent."""

    def __init__(
        self, error: dict[str, Any], status: int, notices: list[dict[str, Any]] | None = None
    ) -> None:
        self.error = error
        self.status = status
        self.notices = notices or []
        super().__init__(f"{error.get('code')}: {error.get('message')}")


def route_path(route: str, params: Sequence[str] = ()) -> str:
    """``route`` with each ``{}`` replaced by one path parameter, percent-encoded whole.

    Every character but letters, digits, ``-``, ``_`` and ``~`` is encoded, ``/`` and
    ``.`` included, so a parameter is always exactly one path segment: ``scratch?x``
    cannot become a query, ``db#x`` a fragment, ``zz/../db`` or ``..`` a step up that
    a URL parser would resolve (``../config`` addressed ``/v1/config``). The daemon
    decodes the segment back to the text given. ``route`` is the program's own, never
    user text; a wrong number of parameters is a programming error (ValueError)."""
    if route.count("{}") != len(params):
        raise ValueError(f"route {route!r} takes {route.count('{}')} parameters")
    parts = route.split("{}")
    out = [parts[0]]
    for param, rest in zip(params, parts[1:], strict=True):
        out.append(quote(param, safe="").replace(".", "%2E"))
        out.append(rest)
    return "".join(out)


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: Path, timeout: float) -> None:
        super().__init__("standfast", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(min(CONNECT_TIMEOUT, self.timeout or CONNECT_TIMEOUT))
            sock.connect(str(self._path))
            sock.settimeout(self.timeout)
        except BaseException:
            sock.close()
            raise
        self.sock = sock


class Client:
    """Requests to the daemon. Path parameters go through :func:`route_path` for every
    verb; each request waits at most ``timeout`` s for any one read or write (190202),
    connecting at most 5 s (190201 when it cannot); a refusal is :class:`ApiError`, an
    answer without a catalogue code 190210."""

    def __init__(self, socket_path: Path, *, timeout: float, lang: Lang) -> None:
        self.socket_path = socket_path
        self.timeout = timeout
        self._headers: dict[str, str] = {"Accept-Language": lang}

    def request(
        self, method: str, route: str, json: Any | None = None, *, params: Sequence[str] = ()
    ) -> Any:
        path = route_path(route, params)
        headers = dict(self._headers)
        payload = None
        if json is not None:
            payload = jsonlib.dumps(json).encode()
            headers["Content-Type"] = "application/json"
        conn = _UnixConnection(self.socket_path, self.timeout)
        try:
            conn.request(method, path, body=payload, headers=headers)
            resp = conn.getresponse()
            raw = resp.read()
        except TimeoutError:
            raise StandfastError("190202", seconds=f"{self.timeout:g}") from None
        except (http.client.HTTPException, OSError) as exc:
            raise StandfastError("190201", socket=self.socket_path, reason=exc) from None
        finally:
            conn.close()
        try:
            body = jsonlib.loads(raw)
        except ValueError:
            body = None
        error = body.get("error") if isinstance(body, dict) else None
        if resp.status >= 400 or body is None:
            if not isinstance(error, dict) or "code" not in error:
                # Not a refusal of ours (a crash, a route that does not exist): still
                # a numbered line, with what the daemon said, cut short.
                detail = raw.decode("utf-8", "replace").strip()[:200] or resp.reason
                raise StandfastError("190210", status=resp.status, detail=detail)
            raise ApiError(error, resp.status, body.get("notices"))
        return body

    def get(self, route: str, *, params: Sequence[str] = ()) -> Any:
        return self.request("GET", route, params=params)

    def post(self, route: str, json: Any) -> Any:
        return self.request("POST", route, json)
