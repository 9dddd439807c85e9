"""The remote API's settings, each from an environment variable of the daemon."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from standfast.api.limits import ApiLimits
from standfast.messages import Notice

_OFF = ("off", "no", "none", "0")
_MAX_TTL = 7 * 86400


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
    limits: ApiLimits = field(default_factory=ApiLimits)
    # /metrics on the HTTPS port without a login (STANDFAST_METRICS=open)
    metrics_open: bool = False
    # a separate plain HTTP port for /metrics and the health endpoints (0: none)
    metrics_host: str = ""
    metrics_port: int = 0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> tuple[RemoteSettings, list[Notice]]:
        """``STANDFAST_REMOTE_LISTEN`` (``host:port``, or ``off``), ``STANDFAST_TLS_CERT``
        and ``STANDFAST_TLS_KEY`` (an administrator's certificate; else one is made),
        ``STANDFAST_SESSION_TTL`` (seconds), ``STANDFAST_PAM_SERVICE``, and the limits of
        :meth:`ApiLimits.from_env <standfast.api.limits.ApiLimits.from_env>`.
        ``STANDFAST_SESSION_TTL`` (seconds), ``STANDFAST_PAM_SERVICE``,
        ``STANDFAST_METRICS`` (``login`` or ``open``), ``STANDFAST_METRICS_LISTEN``
        (``host:port`` of a plain HTTP port, or ``off``).

        A bad value gives a 194062 notice and leaves that setting at its default; this
        never raises."""
        env = os.environ if env is None else env
        notices: list[Notice] = []
        s = _listen(cls(), env.get("STANDFAST_REMOTE_LISTEN", "").strip(), notices)
        cert, key = env.get("STANDFAST_TLS_CERT", ""), env.get("STANDFAST_TLS_KEY", "")
        if cert and key:
            s = replace(s, certfile=Path(cert), keyfile=Path(key))
        s = _session_ttl(s, env.get("STANDFAST_SESSION_TTL", ""), notices)
        if env.get("STANDFAST_PAM_SERVICE"):
            s = replace(s, pam_service=env["STANDFAST_PAM_SERVICE"])
        limits, limit_notices = ApiLimits.from_env(env)
        notices.extend(limit_notices)
        s = replace(s, limits=limits)
        s = _metrics(s, env.get("STANDFAST_METRICS", "").strip(), notices)
        s = _metrics_listen(s, env.get("STANDFAST_METRICS_LISTEN", "").strip(), notices)
        return s, notices


def _host_port(listen: str) -> tuple[str, int]:
    """``host:port`` (``[v6]:port`` too); ValueError otherwise."""
    host, _, port = listen.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError("expected host:port")
    return host.strip("[]"), int(port)


def _listen(s: RemoteSettings, listen: str, notices: list[Notice]) -> RemoteSettings:
    if listen.lower() in _OFF:
        return replace(s, enabled=False)
    if not listen:
        return s
    try:
        host, port = _host_port(listen)
        return replace(s, host=host, port=port)
    except ValueError as exc:
        notices.append(
            Notice.of("194062", name="STANDFAST_REMOTE_LISTEN", value=listen, reason=str(exc))
        )
        return s


def _session_ttl(s: RemoteSettings, ttl: str, notices: list[Notice]) -> RemoteSettings:
    if not ttl:
        return s
    try:
        value = float(ttl)
        if not 1.0 <= value <= _MAX_TTL:
            raise ValueError("must be 1 to 604800 seconds")
        return replace(s, session_ttl=value)
    except ValueError as exc:
        notices.append(
            Notice.of("194062", name="STANDFAST_SESSION_TTL", value=ttl, reason=str(exc))
        )
        return s


def _metrics(s: RemoteSettings, value: str, notices: list[Notice]) -> RemoteSettings:
    if not value or value.lower() == "login":
        return s
    if value.lower() == "open":
        return replace(s, metrics_open=True)
    notices.append(
        Notice.of("194062", name="STANDFAST_METRICS", value=value, reason="expected login or open")
    )
    return s


def _metrics_listen(s: RemoteSettings, listen: str, notices: list[Notice]) -> RemoteSettings:
    if not listen or listen.lower() in _OFF:
        return s
    try:
        host, port = _host_port(listen)
    except ValueError as exc:
        notices.append(
            Notice.of("194062", name="STANDFAST_METRICS_LISTEN", value=listen, reason=str(exc))
        )
        return s
    if s.enabled and port == s.port and _overlap(host, s.host):
        notices.append(
            Notice.of(
                "194062",
                name="STANDFAST_METRICS_LISTEN",
                value=listen,
                reason="the remote API's HTTPS port; set STANDFAST_METRICS=open instead",
            )
        )
        return s
    return replace(s, metrics_host=host, metrics_port=port)


def _overlap(a: str, b: str) -> bool:
    """Two listen hosts that would share a port: the same, or either every address."""
    return a == b or bool({a, b} & {"0.0.0.0", "::", ""})
