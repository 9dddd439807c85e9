"""The CLI's connection to the local daemon over its Unix socket."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from standfast.messages import Lang, StandfastError


class ApiError(Exception):
    """A refusal from the daemon: the catalogue message it sent."""

    def __init__(
        self, error: dict[str, Any], status: int, notices: list[dict[str, Any]] | None = None
    ) -> None:
        self.error = error
        self.status = status
        self.notices = notices or []
        super().__init__(f"{error.get('code')}: {error.get('message')}")


class Client:
    def __init__(self, socket_path: Path, *, timeout: float, lang: Lang) -> None:
        self.socket_path = socket_path
        self._http = httpx.Client(
            transport=httpx.HTTPTransport(uds=str(socket_path)),
            base_url="http://standfast",
            timeout=httpx.Timeout(timeout, connect=5.0),
            headers={"Accept-Language": lang},
        )
        self.timeout = timeout

    def request(self, method: str, path: str, json: Any | None = None) -> Any:
        try:
            resp = self._http.request(method, path, json=json)
        except httpx.TimeoutException:
            raise StandfastError("190202", seconds=f"{self.timeout:g}") from None
        except (httpx.TransportError, OSError) as exc:
            raise StandfastError("190201", socket=self.socket_path, reason=exc) from None
        body = resp.json()
        if resp.status_code >= 400:
            raise ApiError(body.get("error", {}), resp.status_code, body.get("notices"))
        return body

    def get(self, path: str) -> Any:
        return self.request("GET", path)

    def post(self, path: str, json: Any) -> Any:
        return self.request("POST", path, json)
