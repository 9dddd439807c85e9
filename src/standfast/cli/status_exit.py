"""``standfast status``'s exit status, from the status it printed (docs/monitoring.md):

- 0: all well: no resource instance OSF or ISU, every comm path ALIVE, quorum held;
- 3: degraded: a resource instance ISU (a check failed, recovery pending), or a comm
  path DEAD (one path cut, or a server not heard at all);
- 4: failed: a resource instance OSF, or this server lost quorum;
- 1 (any command): the daemon did not answer or refused; 2: a usage error (click).

Maintenance mode and standby are no problem (the exit status ignores them) but are
always reported: ``notes`` gives one line each, printed after the problems.

A pure function of the status document, so scripts and the tests read the same rules.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

OK, DEGRADED, FAILED = 0, 3, 4


def _tree_states(nodes: list[Any]) -> Iterator[tuple[str, str]]:
    for n in nodes:
        yield str(n.get("tag", "")), str(n.get("state", ""))
        yield from _tree_states(list(n.get("children") or []))


def problems(status: Mapping[str, Any]) -> tuple[int, list[str]]:
    """The exit status and one line per problem found in ``status`` (``/v1/status``)."""
    failed: list[str] = []
    degraded: list[str] = []
    local = str(status.get("server", ""))
    seen: set[tuple[str, str]] = set()
    for tag, state in _tree_states(list(status.get("hierarchies") or [])):
        seen.add((local, tag))
        _judge(local, tag, state, failed, degraded)
    cluster = status.get("cluster") or {}
    for h in cluster.get("hierarchies") or []:
        for c in h.get("copies") or []:
            key = (str(c.get("server", "")), str(c.get("tag", "")))
            if key not in seen:
                seen.add(key)
                _judge(key[0], key[1], str(c.get("state", "")), failed, degraded)
    for name, srv in sorted((cluster.get("servers") or {}).items()):
        for net, state in sorted((srv.get("paths") or {}).items()):
            if state != "ALIVE":
                degraded.append(f"comm path {net} to {name}: {state}")
    quorum = cluster.get("quorum")
    if quorum is not None and not quorum.get("has_quorum", True):
        failed.append(f"quorum lost ({quorum.get('votes')} of {quorum.get('needed')} votes)")
    if failed:
        return FAILED, failed + degraded
    return (DEGRADED if degraded else OK), degraded


def _judge(server: str, tag: str, state: str, failed: list[str], degraded: list[str]) -> None:
    if state == "OSF":
        failed.append(f"{tag} on {server}: OSF")
    elif state == "ISU":
        degraded.append(f"{tag} on {server}: ISU")


def notes(status: Mapping[str, Any]) -> list[str]:
    """One line per mode in force: maintenance (cluster-wide or per hierarchy) and the
    servers in standby."""
    out: list[str] = []
    maint = status.get("maintenance") or {}
    if maint.get("cluster"):
        out.append("MAINTENANCE mode on for the whole cluster: no checks, no failover")
    for tag in maint.get("hierarchies") or []:
        out.append(f"MAINTENANCE mode on for hierarchy {tag}: no checks, no failover")
    cluster = status.get("cluster") or {}
    for name, srv in sorted((cluster.get("servers") or {}).items()):
        if srv.get("standby"):
            out.append(f"server {name} in STANDBY: it takes no hierarchy")
    if not cluster and status.get("standby"):
        out.append(f"server {status.get('server', '')} in STANDBY: it takes no hierarchy")
    return out
