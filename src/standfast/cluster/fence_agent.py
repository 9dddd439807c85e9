"""Fence agents (the ClusterLabs ``fence_*`` programs): the pure part of their protocol.

A fence agent reads its arguments as ``name=value`` lines on standard input (the
FenceAgentAPI; Pacemaker's stonithd drives them the same way), one of them
``action=`` (``off``, ``reboot``, ``status``, ``monitor``, ``metadata`` ...). Its exit
code is the answer: 0 success, 1 failure, and for ``status`` 0 "on", 2 "off", 1 "the
device could not tell". Arguments go on stdin, never on the command line, so ``ps``
does not show a password.

This module builds that input, tells secret parameters from the others, masks them in
any text meant for people (logs, events, ``cluster show``, error messages), checks
parameters with numbered refusals (192070) and reads an agent's ``-o metadata``
parameter list. Nothing here runs a program except :func:`check_agent_parameters`
(``-o metadata``, bounded).

Names: letters, digits, ``_`` and ``-`` (``ipaddr``, ``login``, ``passwd``, ``plug``,
``lanplus`` ...). Values: text without line breaks or surrounding spaces (an agent
strips each line, so they would not arrive as written); whole numbers and booleans
are accepted and written as ``1``/``0`` for booleans. ``{server}`` in a value becomes
the target server's name (as in a fence command template). ``action`` and
``nodename`` belong to Standfast (``nodename=<target>`` is always sent; agents that do
not know it ignore it, as the protocol says).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from typing import Final

from standfast.messages import StandfastError
from standfast.messages.quorum_codes import BAD_FENCE_AGENT, FENCE_AGENT_PARAMETER

#: Parts of a parameter name that make it a secret (``passwd``, ``password``,
#: ``passwd_script``, ``api_key``, ``secret``, ``token``, SNMP ``community`` ...).
SECRET_MARKERS: Final = ("passw", "secret", "key", "token", "community", "credential")
#: Secret parameter names that carry none of the markers (IPMI's BMC key).
SECRET_NAMES: Final = frozenset({"hexadecimal_kg", "kg"})
#: What a masked value is shown as.
MASK: Final = "***"
#: Set by Standfast itself, refused in a definition.
RESERVED: Final = frozenset({"action", "nodename"})
#: Agent actions Standfast uses to fence (``off`` keeps the server off until an
#: administrator looks; ``reboot`` is Pacemaker's default).
FENCE_ACTIONS: Final = ("off", "reboot")
#: ``status`` exit codes (FenceAgentAPI).
STATUS_ON: Final = 0
STATUS_OFF: Final = 2

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
PLACEHOLDER: Final = "{server}"


class FenceAgentError(StandfastError):
    """A fence agent setting was refused (192070); the reason never holds a secret."""

    def __init__(self, reason: str) -> None:
        super().__init__(BAD_FENCE_AGENT, reason=reason)
        self.reason = reason


def is_secret(name: str) -> bool:
    """Whether parameter ``name`` holds a secret (masked wherever people can see it)."""
    low = name.lower().replace("-", "_")
    return low in SECRET_NAMES or any(m in low for m in SECRET_MARKERS)


def _value(where: str, name: str, value: object) -> str:
    shown = MASK if is_secret(name) else repr(value)
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if not isinstance(value, str):
        raise FenceAgentError(f"{where}: {name} must be text, a number or true/false")
    if any(c in value for c in "\n\r\0") or value != value.strip():
        raise FenceAgentError(f"{where}: {name} = {shown} has a line break or surrounding spaces")
    return value


def check_parameters(where: str, params: object) -> dict[str, str]:
    """``params`` (a mapping) as agent parameters, or 192070 naming the first bad one.

    The message names the parameter, never a secret's value. Pure; idempotent.
    """
    if not isinstance(params, Mapping):
        raise FenceAgentError(f"{where} must be an object of agent parameters")
    out: dict[str, str] = {}
    for name in sorted(params, key=str):
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise FenceAgentError(f"{where}: {name!r} is not a fence agent parameter name")
        if name in RESERVED:
            raise FenceAgentError(f"{where}: {name} is set by Standfast, not in the definition")
        out[name] = _value(where, name, params[name])
    return out


def merged(common: Mapping[str, str], own: Mapping[str, str] | None) -> dict[str, str]:
    """The parameters for one server: ``common``, overridden by its ``own``."""
    return {**common, **(own or {})}


def expand(params: Mapping[str, str], server: str) -> dict[str, str]:
    """``{server}`` in each value replaced by ``server`` (the caller checked the name)."""
    return {k: v.replace(PLACEHOLDER, server) for k, v in params.items()}


def agent_stdin(params: Mapping[str, str], action: str, server: str) -> bytes:
    """The agent's standard input: ``action=``, ``nodename=``, then every parameter.

    ``params`` are already checked (:func:`check_parameters`) and expanded.
    """
    lines = [f"action={action}", f"nodename={server}"]
    lines += [f"{k}={v}" for k, v in sorted(params.items()) if k not in RESERVED]
    return ("\n".join(lines) + "\n").encode("utf-8")


def secret_values(params: Mapping[str, str]) -> tuple[str, ...]:
    """The values to mask in any output: every secret parameter's (longest first, so a
    secret containing another is masked whole)."""
    values = {v for k, v in params.items() if is_secret(k) and v}
    return tuple(sorted(values, key=len, reverse=True))


def mask(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every occurrence of each secret replaced by ``***``."""
    for value in secrets:
        if value:
            text = text.replace(value, MASK)
    return text


def public(params: Mapping[str, object]) -> dict[str, object]:
    """``params`` with secret values replaced by ``***`` (for show, status, API)."""
    return {k: MASK if is_secret(str(k)) else v for k, v in params.items()}


#: Short options that carry a password in the fence agents' own command line
#: (``fence_ipmilan -p PASSWORD``, ``-P`` is lanplus, not a secret).
SECRET_SHORT_OPTIONS: Final = frozenset({"-p"})


def command_secrets(argv: Sequence[str]) -> tuple[str, ...]:
    """The secret values inside a fence *command* (the argv form): the argument after
    ``-p`` or after a long option whose name holds a secret marker (``--password X``,
    ``--api-key X``), and the value of ``--password=X``. Longest first. Pure."""
    found: set[str] = set()
    for i, arg in enumerate(argv):
        name, eq, value = arg.partition("=")
        if arg.startswith("--") and is_secret(name[2:]):
            if eq:
                found.add(value)
            elif i + 1 < len(argv):
                found.add(argv[i + 1])
        elif arg in SECRET_SHORT_OPTIONS and i + 1 < len(argv):
            found.add(argv[i + 1])
    return tuple(sorted((v for v in found if v), key=len, reverse=True))


def public_command(argv: Sequence[str]) -> list[str]:
    """A fence command as people may see it: its secrets (:func:`command_secrets`)
    replaced by ``***``."""
    secrets = command_secrets(argv)
    return [mask(arg, secrets) for arg in argv]


def public_fencing(fencing: Mapping[str, object]) -> dict[str, object]:
    """A ``fencing`` section as people may see it: agent parameters masked, common and
    per server, and the secrets inside command templates (``-p``, ``--password``)."""
    out = dict(fencing)
    params = out.get("parameters")
    if isinstance(params, Mapping):
        out["parameters"] = public(params)
    for key in ("command", "confirm_command"):
        value = out.get(key)
        if isinstance(value, list | tuple):
            out[key] = public_command([str(a) for a in value])
    per = out.get("per_server")
    if isinstance(per, Mapping):
        out["per_server"] = {
            s: public(v)
            if isinstance(v, Mapping)
            else public_command([str(a) for a in v])
            if isinstance(v, list | tuple)
            else v
            for s, v in per.items()
        }
    return out


def status_word(returncode: int) -> str:
    """What a ``status`` exit code says: ``on`` (0), ``off`` (2) or ``unknown``."""
    return {STATUS_ON: "on", STATUS_OFF: "off"}.get(returncode, "unknown")


def metadata_parameters(xml_text: str) -> frozenset[str]:
    """The parameter names an agent's ``-o metadata`` XML declares (with the
    ``obsoletes`` aliases such as ``ipaddr`` for ``ip``). ValueError if it is not that XML."""
    try:
        root = ET.fromstring(xml_text)
    except ET.ParseError as exc:
        raise ValueError(f"agent metadata is not XML: {exc}") from None
    if root.tag != "resource-agent":
        raise ValueError("agent metadata is not a <resource-agent> document")
    names: set[str] = set()
    for p in root.iter("parameter"):
        for attr in ("name", "obsoletes"):
            if p.get(attr):
                names.add(str(p.get(attr)))
    return frozenset(names)


#: Bound of ``agent -o metadata`` at ``cluster check`` (agents answer in well under 1 s).
METADATA_TIMEOUT: Final = 15.0


def check_agent_parameters(agent: str, names: Iterable[str]) -> None:
    """At ``cluster check``: ``agent`` must run here and declare every parameter in
    ``names`` in its ``-o metadata`` (192070 when it cannot be run or read, 192071
    naming the first unknown parameter). Bound: METADATA_TIMEOUT + a few seconds.
    Runs the agent with ``-o metadata`` only: no device is contacted."""
    from standfast.host.commands import run

    result = run((agent, "-o", "metadata"), timeout=METADATA_TIMEOUT)
    if not result.ok:
        raise FenceAgentError(f"agent {agent} -o metadata: {result.summary()}")
    try:
        known = metadata_parameters(result.stdout)
    except ValueError as exc:
        raise FenceAgentError(f"agent {agent}: {exc}") from None
    normal = {k.replace("-", "_") for k in known}
    for name in sorted(set(names)):
        if name.replace("-", "_") not in normal:
            raise StandfastError(
                FENCE_AGENT_PARAMETER,
                agent=agent,
                name=name,
                known=", ".join(sorted(known - RESERVED)),
            )
