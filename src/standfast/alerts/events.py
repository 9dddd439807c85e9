"""From the engine's event records to alerts: the stable kinds recipients subscribe to,
and the three forms an alert is delivered in (environment, JSON, e-mail text).

Pure: no I/O. ``AlertMapper.map`` keeps the little state some kinds need (a NAS that
was reported hung is reported back once when its resource is healthy again).

An alert's ``fields`` are flat scalars; each becomes ``SF_ALERT_<NAME>`` for an
executable and a key of the webhook's JSON ``fields``.
"""

from __future__ import annotations

import datetime as _dt
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from standfast.engine.events import EventRecord

Scalar = str | int | float | bool


@dataclass(frozen=True)
class Alert:
    kind: str
    server: str  # the server that sends it (where it happened)
    cluster: str
    tag: str  # the resource, server or path concerned
    detail: str
    ts: float
    fields: dict[str, Scalar] = field(default_factory=dict)
    id: str = field(default_factory=lambda: uuid.uuid4().hex)

    @property
    def timestamp(self) -> str:
        return (
            _dt.datetime.fromtimestamp(self.ts, _dt.UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z")
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "server": self.server,
            "cluster": self.cluster,
            "tag": self.tag,
            "detail": self.detail,
            "ts": self.ts,
            "timestamp": self.timestamp,
            "fields": dict(self.fields),
        }

    def body(self) -> bytes:
        """The webhook's body: compact, keys sorted (what the signature covers)."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":")).encode()


def _env_value(value: Scalar) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value).replace("\x00", "")


def alert_env(alert: Alert, recipient: str, attempt: int) -> dict[str, str]:
    """The ``SF_ALERT_*`` variables an executable recipient gets (and nothing of the
    daemon's own environment but a fixed PATH and locale)."""
    env = {
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "LANG": "C.UTF-8",
        "SF_ALERT_VERSION": "1",
        "SF_ALERT_ID": alert.id,
        "SF_ALERT_KIND": alert.kind,
        "SF_ALERT_SERVER": alert.server,
        "SF_ALERT_CLUSTER": alert.cluster,
        "SF_ALERT_TAG": alert.tag,
        "SF_ALERT_DETAIL": alert.detail.replace("\x00", ""),
        "SF_ALERT_TIMESTAMP": alert.timestamp,
        "SF_ALERT_TS": f"{alert.ts:.3f}",
        "SF_ALERT_RECIPIENT": recipient,
        "SF_ALERT_ATTEMPT": str(attempt),
    }
    for key, value in alert.fields.items():
        env.setdefault(f"SF_ALERT_{key.upper()}", _env_value(value))
    return env


def mail_text(alert: Alert) -> tuple[str, str]:
    """Subject and plain-text body of an e-mail alert."""
    subject = f"[standfast {alert.cluster}] {alert.server}: {alert.kind} {alert.tag}"
    if alert.detail:
        subject += f" ({alert.detail})"
    lines = [
        f"kind:      {alert.kind}",
        f"server:    {alert.server}",
        f"cluster:   {alert.cluster}",
        f"tag:       {alert.tag}",
        f"detail:    {alert.detail}",
        f"time:      {alert.timestamp}",
        f"id:        {alert.id}",
        *(f"{k + ':':<10} {_env_value(v)}" for k, v in sorted(alert.fields.items())),
    ]
    return subject.replace("\r", " ").replace("\n", " ")[:200], "\n".join(lines) + "\n"


def _num(data: dict[str, object], key: str) -> float | None:
    value = data.get(key)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _failover_fields(data: dict[str, object]) -> dict[str, Scalar]:
    out: dict[str, Scalar] = {"from": str(data.get("from") or ""), "to": str(data.get("to", ""))}
    duration = _num(data, "restore_seconds")
    if duration is not None:
        out["duration"] = duration
    for key in ("outage_seconds", "detect_to_in_service_seconds"):
        value = _num(data, key)
        if value is not None:
            out[key.removesuffix("_seconds")] = value
    return out


class AlertMapper:
    """Which event records are alerts, as which kind, with which fields."""

    def __init__(self, server: str, cluster: str) -> None:
        self.server = server
        self.cluster = cluster
        self._nas_hung: set[str] = set()
        # Paths reported down: only those are reported up again (not every path at start).
        self._paths_down: set[tuple[str, str]] = set()

    def _alert(self, kind: str, e: EventRecord, **fields: Scalar) -> Alert:
        return Alert(kind, self.server, self.cluster, e.tag, e.detail, e.ts, fields)

    def map(self, e: EventRecord) -> Alert | None:
        """The alert for ``e``, or None when ``e`` is not one."""
        k, data = e.kind, e.data
        if k in ("failover_begun", "server_failed", "server_left", "server_joined", "fence"):
            return self._alert(k, e, **{str(a): str(b) for a, b in data.items()})
        if k == "failover":
            return self._alert("failover", e, **_failover_fields(data))
        if k == "check_failed":
            if data.get("nas_access") and e.tag not in self._nas_hung:
                self._nas_hung.add(e.tag)
                return self._alert("nas_hung", e, code=e.detail, nfs_server=_nfs_server(data))
            return self._alert("resource_failed", e, code=e.detail)
        if k == "recovered":
            return self._alert("local_recovery", e, result="recovered")
        if k == "state" and e.tag in self._nas_hung and e.detail == "ISP":
            self._nas_hung.discard(e.tag)
            return self._alert("nas_back", e)
        if k == "quorum":
            regained = e.detail.startswith("regained")
            return self._alert("quorum_regained" if regained else "quorum_lost", e)
        if k in ("fenced", "fence_failed"):
            ok = k == "fenced"
            extra: dict[str, Scalar] = {"result": "success" if ok else "failure"}
            seconds = _num(data, "seconds")
            if seconds is not None:
                extra["duration"] = seconds
            return self._alert("fence_result", e, **extra)
        if k == "comm_path":
            return self._path(e)
        if k == "maintenance":
            on = data.get("on") is True
            return self._alert(
                "maintenance_on" if on else "maintenance_off",
                e,
                scope=str(data.get("scope", "")),
                by=str(data.get("by", "")),
            )
        if k == "standby":
            on = data.get("on") is True
            return self._alert("standby" if on else "unstandby", e, by=str(data.get("by", "")))
        if k == "config" and data.get("conflict"):
            return self._alert("config_conflict", e, peer=e.tag)
        return None

    def _path(self, e: EventRecord) -> Alert | None:
        peer, network = str(e.data.get("peer", e.tag)), str(e.data.get("network", ""))
        key = (peer, network)
        if e.data.get("state") == "ALIVE":
            if key not in self._paths_down:
                return None
            self._paths_down.discard(key)
            return self._alert("comm_path_up", e, peer=peer, network=network)
        self._paths_down.add(key)
        return self._alert("comm_path_down", e, peer=peer, network=network)


def _nfs_server(data: dict[str, object]) -> str:
    return str(data.get("nfs_server") or data.get("ip") or "")


def make_test_alert(server: str, cluster: str, ts: float, who: str) -> Alert:
    """The event ``standfast alert test`` sends."""
    return Alert("test", server, cluster, server, f"test alert requested by {who}", ts)
