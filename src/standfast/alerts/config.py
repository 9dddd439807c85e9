"""Alert recipients as the cluster definition holds them (``cluster.json``, ``"alerts"``).

One value, ``AlertSet``: a version and the recipients, each one of three types:

- ``exec``: an absolute ``path`` and ``args``, run without a shell, the event in
  ``SF_ALERT_*`` environment variables;
- ``webhook``: an ``https://`` ``url`` and a shared ``secret`` (the body's HMAC-SHA256
  goes in a header), optionally ``ca_pem`` (a CA to trust instead of the system's);
- ``email``: ``smtp_host``/``smtp_port``, ``sender``, ``to`` (a list), STARTTLS (on by
  default; required when ``username`` and ``password`` are given), optionally
  ``ca_pem``.

Every recipient has a ``name`` (a tag), ``kinds`` (``["all"]`` or a list of
:data:`KINDS`) and a ``timeout`` (seconds per attempt). Contracts: ``parse_alerts`` and
``parse_recipient`` are pure and refuse any bad input with a numbered StandfastError
(197001, 197002) naming what is wrong; ``public`` never contains a secret.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from standfast.messages import StandfastError
from standfast.model.tags import validate_tag

#: Every alert kind, stable: scripts and receivers match on these names.
KINDS: tuple[str, ...] = (
    "failover_begun",
    "failover",
    "resource_failed",
    "local_recovery",
    "server_failed",
    "server_left",
    "server_joined",
    "comm_path_down",
    "comm_path_up",
    "quorum_lost",
    "quorum_regained",
    "fence",
    "fence_result",
    "nas_hung",
    "nas_back",
    "config_conflict",
    "maintenance_on",
    "maintenance_off",
    "standby",
    "unstandby",
    "test",
)
TYPES = ("exec", "webhook", "email")
SECRET_FIELDS = ("secret", "password")
DEFAULT_TIMEOUT = {"exec": 10.0, "webhook": 10.0, "email": 20.0}
MAX_TIMEOUT = 120.0
MAX_RECIPIENTS = 32

_FIELDS: dict[str, frozenset[str]] = {
    "exec": frozenset({"path", "args"}),
    "webhook": frozenset({"url", "secret", "ca_pem"}),
    "email": frozenset(
        {"smtp_host", "smtp_port", "sender", "to", "starttls", "username", "password", "ca_pem"}
    ),
}
_COMMON = frozenset({"name", "type", "kinds", "timeout"})


@dataclass(frozen=True)
class Recipient:
    name: str
    type: str
    kinds: tuple[str, ...]  # ("all",) or some of KINDS
    timeout: float
    options: Mapping[str, Any] = field(default_factory=dict)

    def wants(self, kind: str) -> bool:
        """Whether this recipient subscribes to ``kind`` (a test event reaches all)."""
        return kind == "test" or "all" in self.kinds or kind in self.kinds

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "kinds": list(self.kinds),
            "timeout": self.timeout,
            **{k: v for k, v in sorted(self.options.items())},
        }

    def public(self) -> dict[str, Any]:
        """``to_dict`` with every secret replaced by ``"***"`` (for list and status)."""
        out = self.to_dict()
        for key in SECRET_FIELDS:
            if out.get(key):
                out[key] = "***"
        if out.get("ca_pem"):
            out["ca_pem"] = "(set)"
        return out


@dataclass(frozen=True)
class AlertSet:
    version: int = 0
    recipients: tuple[Recipient, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.version, "recipients": [r.to_dict() for r in self.recipients]}

    def digest(self) -> str:
        """Ties between two sets of the same version are broken by this (newest wins)."""
        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    def get(self, name: str) -> Recipient:
        for r in self.recipients:
            if r.name == name:
                return r
        raise StandfastError("197004", name=name)

    def added(self, recipient: Recipient) -> AlertSet:
        """A new version with ``recipient``; 197003 when the name is taken."""
        if any(r.name == recipient.name for r in self.recipients):
            raise StandfastError("197003", name=recipient.name)
        if len(self.recipients) >= MAX_RECIPIENTS:
            raise StandfastError(
                "197001", name=recipient.name, reason=f"at most {MAX_RECIPIENTS} recipients"
            )
        return AlertSet(self.version + 1, (*self.recipients, recipient))

    def removed(self, name: str) -> AlertSet:
        """A new version without ``name``; 197004 when there is none."""
        self.get(name)
        return AlertSet(self.version + 1, tuple(r for r in self.recipients if r.name != name))


def _bad(name: object, reason: str) -> StandfastError:
    return StandfastError("197001", name=name, reason=reason)


def parse_kinds(value: object, name: object = "-") -> tuple[str, ...]:
    """``["all"]`` or a non-empty list of known kinds (``"a,b"`` is accepted too)."""
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not items:
        raise _bad(name, "kinds must be all or a list of alert kinds")
    kinds = [str(k).strip() for k in items]
    if kinds == ["all"]:
        return ("all",)
    for k in kinds:
        if k not in KINDS:
            raise StandfastError("197002", kind=k, kinds=", ".join(KINDS))
    return tuple(dict.fromkeys(kinds))


def _text(d: Mapping[str, Any], key: str, name: object, *, required: bool = True) -> str:
    value = d.get(key)
    if value is None or value == "":
        if required:
            raise _bad(name, f"{key} is required")
        return ""
    if not isinstance(value, str) or "\x00" in value or len(value) > 65536:
        raise _bad(name, f"{key} must be a text")
    return value


def _timeout(d: Mapping[str, Any], kind: str, name: object) -> float:
    value = d.get("timeout", DEFAULT_TIMEOUT[kind])
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _bad(name, "timeout must be a number of seconds")
    if not 0 < float(value) <= MAX_TIMEOUT:
        raise _bad(name, f"timeout must be more than 0 and at most {MAX_TIMEOUT:g} s")
    return float(value)


def _address(value: object, name: object, key: str) -> str:
    text = str(value)
    local, at, domain = text.rpartition("@")
    if not at or not local or not domain or any(c in text for c in " \r\n<>,;"):
        raise _bad(name, f"{key}: {text!r} is not an e-mail address")
    return text


def _exec_options(d: Mapping[str, Any], name: str) -> dict[str, Any]:
    path = _text(d, "path", name)
    if not path.startswith("/"):
        raise _bad(name, "path must be absolute (no shell and no PATH search)")
    args = d.get("args", [])
    if not isinstance(args, list) or not all(isinstance(a, str) and "\x00" not in a for a in args):
        raise _bad(name, "args must be a list of texts")
    return {"path": path, "args": list(args)}


def _webhook_options(d: Mapping[str, Any], name: str) -> dict[str, Any]:
    url = _text(d, "url", name)
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        raise _bad(name, "url must be https://HOST[:PORT]/PATH") from None
    if parts.scheme != "https" or not parts.hostname or any(c in url for c in " \r\n"):
        raise _bad(name, "url must be https://HOST[:PORT]/PATH")
    secret = _text(d, "secret", name)
    if len(secret) < 16:
        raise _bad(name, "secret must be at least 16 characters")
    out: dict[str, Any] = {"url": url, "secret": secret}
    if d.get("ca_pem"):
        out["ca_pem"] = _pem(d, name)
    return out


def _pem(d: Mapping[str, Any], name: str) -> str:
    pem = _text(d, "ca_pem", name)
    if "-----BEGIN CERTIFICATE-----" not in pem:
        raise _bad(name, "ca_pem must be a PEM certificate")
    return pem


def _email_options(d: Mapping[str, Any], name: str) -> dict[str, Any]:
    host = _text(d, "smtp_host", name)
    port = d.get("smtp_port", 587)
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise _bad(name, "smtp_port must be a port number")
    to = d.get("to")
    if isinstance(to, str):
        to = [to]
    if not isinstance(to, list) or not to:
        raise _bad(name, "to must list one or more e-mail addresses")
    starttls = d.get("starttls", True)
    if not isinstance(starttls, bool):
        raise _bad(name, "starttls must be true or false")
    username = _text(d, "username", name, required=False)
    password = _text(d, "password", name, required=False)
    if bool(username) != bool(password):
        raise _bad(name, "username and password go together")
    if username and not starttls:
        # Credentials must never cross the network in clear text.
        raise _bad(name, "authentication needs STARTTLS")
    out: dict[str, Any] = {
        "smtp_host": host,
        "smtp_port": port,
        "sender": _address(_text(d, "sender", name), name, "sender"),
        "to": [_address(a, name, "to") for a in to],
        "starttls": starttls,
    }
    if username:
        out.update(username=username, password=password)
    if d.get("ca_pem"):
        out["ca_pem"] = _pem(d, name)
    return out


_OPTIONS = {"exec": _exec_options, "webhook": _webhook_options, "email": _email_options}


def parse_recipient(d: Mapping[str, Any]) -> Recipient:
    """One recipient from its JSON form; 197001/197002 for anything wrong."""
    if not isinstance(d, Mapping):
        raise _bad("-", "a recipient is a JSON object")
    raw_name = d.get("name", "-")
    try:
        name = validate_tag(str(raw_name))
    except StandfastError:
        raise _bad(raw_name, "the name must be a tag (letters, digits, - _ .)") from None
    kind = d.get("type")
    if kind not in TYPES:
        raise _bad(name, f"type must be one of {', '.join(TYPES)}")
    unknown = set(d) - _COMMON - _FIELDS[str(kind)]
    if unknown:
        raise _bad(name, f"unknown field(s) for {kind}: {', '.join(sorted(unknown))}")
    return Recipient(
        name=name,
        type=str(kind),
        kinds=parse_kinds(d.get("kinds", ["all"]), name),
        timeout=_timeout(d, str(kind), name),
        options=_OPTIONS[str(kind)](d, name),
    )


def parse_alerts(data: object) -> AlertSet:
    """The ``alerts`` section (absent or empty: version 0, no recipient)."""
    if data is None or data == {}:
        return AlertSet()
    if not isinstance(data, Mapping):
        raise _bad("-", "alerts must be an object with version and recipients")
    version = data.get("version", 0)
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        raise _bad("-", "alerts version must be a whole number")
    items = data.get("recipients", [])
    if not isinstance(items, list) or len(items) > MAX_RECIPIENTS:
        raise _bad("-", f"recipients must be a list of at most {MAX_RECIPIENTS}")
    recipients = tuple(parse_recipient(r) for r in items)
    names = [r.name for r in recipients]
    for n in names:
        if names.count(n) > 1:
            raise StandfastError("197003", name=n)
    return AlertSet(version, recipients)
