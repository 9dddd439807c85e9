"""OCF resource agents: their names, where they live, and their ``meta-data``.

An agent is named ``ocf:PROVIDER:TYPE`` and lives at
``$OCF_ROOT/resource.d/PROVIDER/TYPE``. Its ``meta-data`` action prints an XML document
(the OCF resource agent API, ra-api-1.dtd) describing its parameters and actions; that
document becomes the resource's property schema, so every agent gets validation, CLI and
GUI forms without code of its own.

Contracts:
- :func:`parse_agent_name` and :func:`parse_metadata` are pure; every bad input raises a
  numbered :class:`StandfastError` (195001-195005), nothing else escapes.
- :func:`load_metadata` runs the agent once per version of its file (cached by path,
  inode, size and modification time), bounded by :data:`METADATA_TIMEOUT`; its output
  is capped by the command runner and refused beyond :data:`METADATA_MAX_BYTES`.
"""

from __future__ import annotations

import os
import re
import threading
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from standfast.host.commands import run
from standfast.kits.schema import PropertySpec, PropType
from standfast.messages import StandfastError

DEFAULT_OCF_ROOT = "/usr/lib/ocf"
#: The meta-data action is a print of a document; the agents' own meta-data say 5 s.
METADATA_TIMEOUT = 5.0
#: The largest meta-data document accepted (the biggest of resource-agents 4.12 is ~40 kB).
METADATA_MAX_BYTES = 256 * 1024
#: Used when an agent gives no timeout for an action (Pacemaker's default is 20 s).
DEFAULT_ACTION_TIMEOUT = 20.0

_NAME_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]{0,127}")
# A parameter reaches the agent as the environment variable OCF_RESKEY_<name>.
_PARAM_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
_TIME = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*(ms|msec|s|sec|m|min|h|hr)?\s*")
_TIME_UNITS = {"ms": 0.001, "msec": 0.001, "s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0}
_TIME_UNITS |= {"h": 3600.0, "hr": 3600.0}
#: OCF content types and the schema type each becomes (anything else is text).
_TYPES: Mapping[str, PropType] = {"integer": "int", "boolean": "bool", "select": "choice"}
# OCF integers may be negative or large (ports, priorities, byte counts).
_INT_MIN = -float(2**63)
_INT_MAX = float(2**63 - 1)


@dataclass(frozen=True)
class AgentName:
    """``ocf:PROVIDER:TYPE``, each part a plain file name."""

    provider: str
    type: str

    def __str__(self) -> str:
        return f"ocf:{self.provider}:{self.type}"

    def path(self, root: str) -> Path:
        return Path(root) / "resource.d" / self.provider / self.type


@dataclass(frozen=True)
class ParamInfo:
    name: str
    type: PropType
    shortdesc: str
    longdesc: str
    default: str | None
    required: bool
    unique: bool
    choices: tuple[str, ...] = ()

    def spec(self, *, show_default: bool) -> PropertySpec:
        """The schema entry. Defaults are the agent's own business (Pacemaker passes
        none): they are shown in listings, never stored nor passed to the agent."""
        number = self.type == "int"
        return PropertySpec(
            self.name,
            self.type,
            self.shortdesc or self.longdesc.split("\n")[0],
            self.default if show_default else None,
            required=self.required,
            choices=self.choices,
            minimum=_INT_MIN if number else None,
            maximum=_INT_MAX if number else None,
        )


@dataclass(frozen=True)
class ActionInfo:
    name: str
    timeout: float
    depth: int = 0


@dataclass(frozen=True)
class AgentMeta:
    agent: str
    shortdesc: str
    longdesc: str
    params: tuple[ParamInfo, ...]
    actions: tuple[ActionInfo, ...]

    def timeout(self, action: str) -> float:
        """The agent's advised timeout for ``action``; :data:`DEFAULT_ACTION_TIMEOUT`
        when it gives none."""
        for a in self.actions:
            if a.name == action:
                return a.timeout
        return DEFAULT_ACTION_TIMEOUT

    def has_action(self, action: str) -> bool:
        return any(a.name == action for a in self.actions)

    @property
    def deep_depth(self) -> int:
        """The deepest ``OCF_CHECK_LEVEL`` the agent's monitor offers (0 if only one)."""
        return max((a.depth for a in self.actions if a.name == "monitor"), default=0)

    def monitor_timeout(self, depth: int) -> float:
        for a in self.actions:
            if a.name == "monitor" and a.depth == depth:
                return a.timeout
        return self.timeout("monitor")

    def specs(self, *, show_default: bool = False) -> tuple[PropertySpec, ...]:
        return tuple(p.spec(show_default=show_default) for p in self.params)


def parse_agent_name(text: object) -> AgentName:
    """``ocf:PROVIDER:TYPE``; 195001 for anything else (other classes, paths, ``..``)."""
    if not isinstance(text, str):
        raise StandfastError("195001", agent=text)
    parts = text.split(":")
    if len(parts) != 3 or parts[0] != "ocf":
        raise StandfastError("195001", agent=text)
    provider, kind = parts[1], parts[2]
    for part in (provider, kind):
        if not _NAME_PART.fullmatch(part) or part in (".", ".."):
            raise StandfastError("195001", agent=text)
    return AgentName(provider, kind)


def parse_time(text: str | None) -> float | None:
    """An OCF time (``20s``, ``2m``, ``500ms``, ``30``) in seconds; None if unreadable."""
    if not text:
        return None
    m = _TIME.fullmatch(text)
    if not m:
        return None
    value = float(m.group(1)) * _TIME_UNITS[m.group(2) or "s"]
    return value if value > 0 else None


def _text(el: ET.Element | None, tag: str) -> str:
    if el is None:
        return ""
    found = el.find(tag)
    return " ".join((found.text or "").split()) if found is not None else ""


def _long_text(el: ET.Element, tag: str) -> str:
    found = el.find(tag)
    return (found.text or "").strip() if found is not None else ""


def _param(el: ET.Element) -> ParamInfo | None:
    name = el.get("name", "")
    if not _PARAM_NAME.fullmatch(name):
        return None  # cannot be passed as OCF_RESKEY_<name>
    content = el.find("content")
    ocf_type = content.get("type", "string") if content is not None else "string"
    kind: PropType = _TYPES.get(ocf_type, "str")
    choices: tuple[str, ...] = ()
    if kind == "choice" and content is not None:
        choices = tuple(o.get("value", "") for o in content.findall("option"))
        if not choices:
            kind = "str"
    default = content.get("default") if content is not None else None
    return ParamInfo(
        name=name,
        type=kind,
        shortdesc=_text(el, "shortdesc"),
        longdesc=_long_text(el, "longdesc"),
        default=default if default not in (None, "") else None,
        required=el.get("required") == "1",
        unique=el.get("unique") == "1",
        choices=choices,
    )


def _action(el: ET.Element) -> ActionInfo | None:
    name = el.get("name", "")
    if not name:
        return None
    depth_text = el.get("depth", "0").strip()
    depth = int(depth_text) if depth_text.isdigit() and len(depth_text) < 4 else 0
    return ActionInfo(name, parse_time(el.get("timeout")) or DEFAULT_ACTION_TIMEOUT, depth)


def parse_metadata(agent: str, text: str) -> AgentMeta:
    """The agent's meta-data document as an :class:`AgentMeta`; 195004 when it is not a
    resource-agent document. The DOCTYPE's external DTD is never fetched (ElementTree
    does not resolve external entities)."""
    if len(text.encode("utf-8", "replace")) > METADATA_MAX_BYTES:
        raise StandfastError("195004", agent=agent, reason="the document is too large")
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise StandfastError("195004", agent=agent, reason=exc) from None
    if root.tag != "resource-agent":
        raise StandfastError("195004", agent=agent, reason=f"root element is <{root.tag}>")
    params: list[ParamInfo] = []
    seen: set[str] = set()
    for el in root.iterfind("parameters/parameter"):
        p = _param(el)
        if p is not None and p.name not in seen:
            seen.add(p.name)
            params.append(p)
    actions = [a for a in map(_action, root.iterfind("actions/action")) if a is not None]
    return AgentMeta(
        agent=agent,
        shortdesc=_text(root, "shortdesc"),
        longdesc=_long_text(root, "longdesc"),
        params=tuple(params),
        actions=tuple(actions),
    )


def agent_executable(name: AgentName, root: str, server: str) -> Path:
    """The agent's file when it is an executable regular file; 195002 otherwise
    (the message the target of an extend refuses with)."""
    path = name.path(root)
    if not path.is_file() or not os.access(path, os.X_OK):
        raise StandfastError("195002", agent=str(name), path=path, server=server)
    return path


_cache: dict[tuple[str, int, int, int], AgentMeta] = {}
_cache_lock = threading.Lock()


def load_metadata(name: AgentName, root: str, env: Mapping[str, str], server: str) -> AgentMeta:
    """The agent's meta-data, from the cache when its file has not changed since.

    Runs ``TYPE meta-data`` (no shell) for at most :data:`METADATA_TIMEOUT`; 195002 when
    the agent is missing, 195003 when the action fails or times out, 195004 when its
    output is not a meta-data document."""
    path = agent_executable(name, root, server)
    st = path.stat()
    key = (str(path), st.st_ino, st.st_size, st.st_mtime_ns)
    with _cache_lock:
        cached = _cache.get(key)
    if cached is not None:
        return cached
    result = run([str(path), "meta-data"], timeout=METADATA_TIMEOUT, env=env, cwd="/")
    if result.timed_out or result.returncode != 0:
        reason = result.summary()
        raise StandfastError("195003", agent=str(name), reason=reason, server=server)
    if result.stdout_truncated:
        raise StandfastError("195004", agent=str(name), reason="the document is too large")
    meta = parse_metadata(str(name), result.stdout)
    with _cache_lock:
        _cache[key] = meta
    return meta


def installed_agents(root: str, limit: int = 2000) -> list[str]:
    """Every ``ocf:PROVIDER:TYPE`` installed under ``root`` (executable files), sorted;
    a directory listing, no agent is run. At most ``limit`` names."""
    out: list[str] = []
    base = Path(root) / "resource.d"
    try:
        providers = sorted(p for p in base.iterdir() if p.is_dir())
    except OSError:
        return []
    for prov in providers:
        if not _NAME_PART.fullmatch(prov.name):
            continue
        try:
            entries = sorted(prov.iterdir())
        except OSError:
            continue
        for f in entries:
            if _NAME_PART.fullmatch(f.name) and f.is_file() and os.access(f, os.X_OK):
                out.append(f"ocf:{prov.name}:{f.name}")
                if len(out) >= limit:
                    return out
    return out
