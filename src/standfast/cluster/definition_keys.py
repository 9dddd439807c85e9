"""The settings a cluster definition (``cluster.json``) may hold, section by section.

A misspelt setting must not silently do nothing (``"quorm": "none"`` would leave the
default quorum in force): every key is checked against this list and an unknown one is
refused with 193028, naming the closest known key. Ports are whole numbers from 1 to
65535 and the heartbeat and peer ports differ (193029).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping

from standfast.messages import StandfastError

TOP = frozenset(
    {
        "name",
        "servers",
        "heartbeat_port",
        "peer_port",
        "heartbeat",
        "quorum",
        "quorum_loss_action",
        "witness",
        "fencing",
        "confirm_failover",
        "alerts",
        "etcd",
    }
)
SERVER = frozenset({"addresses", "failover_blocked"})
HEARTBEAT = frozenset({"interval", "miss_count", "max_detection"})
# tcp_witness: host, port, timeout; storage_witness: lease_path, ttl, io_timeout.
WITNESS = frozenset({"host", "port", "timeout", "lease_path", "ttl", "io_timeout"})
FENCING = frozenset(
    {
        "command",
        "per_server",
        "timeout",
        "attempts",
        "retry_delay",
        "confirm_command",
        "confirm_timeout",
        "agent",
        "parameters",
        "action",
    }
)
CONFIRM = frozenset({"timeout", "default"})
ETCD = frozenset({"endpoints", "ca", "cert", "key", "prefix", "ttl", "timeout", "on_loss"})


def check_keys(where: str, section: object, known: frozenset[str]) -> None:
    """193028 for the first key of ``section`` (a mapping) that is not in ``known``."""
    if not isinstance(section, Mapping):
        raise StandfastError("193001", reason=f"{where} must be an object")
    for key in sorted(section, key=str):
        if key not in known:
            near = difflib.get_close_matches(str(key), sorted(known), n=1)
            raise StandfastError(
                "193028",
                key=key,
                where=where,
                hint=f"did you mean {near[0]}?" if near else "known: " + ", ".join(sorted(known)),
            )


def check_all_keys(data: Mapping[str, object]) -> None:
    """Every section of a definition, before anything in it is used."""
    check_keys("the cluster definition", data, TOP)
    servers = data.get("servers", {})
    if not isinstance(servers, Mapping):
        raise StandfastError("193001", reason="servers must be an object")
    for name, server in servers.items():
        check_keys(f"server {name}", server, SERVER)
    for key, known in (
        ("heartbeat", HEARTBEAT),
        ("witness", WITNESS),
        ("fencing", FENCING),
        ("confirm_failover", CONFIRM),
        ("etcd", ETCD),
    ):
        if data.get(key) is not None:
            check_keys(key, data[key], known)


def port(data: Mapping[str, object], key: str, default: int) -> int:
    """A port setting: a whole number from 1 to 65535 (193029)."""
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise StandfastError("193029", key=key, value=value)
    return value
