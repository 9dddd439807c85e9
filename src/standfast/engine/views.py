"""What ``status`` and the GUI show, rendered from one ``ClusterSnapshot``.

Pure functions of the snapshot: the CLI's ``status``, the GUI's server-by-resource
table and a peer's ``status`` request all come from here, so they agree.
"""

from __future__ import annotations

from standfast.engine.snapshot import ClusterSnapshot
from standfast.model.resources import Resource
from standfast.model.states import State


def status(snap: ClusterSnapshot) -> dict[str, object]:
    """This server's hierarchies as trees, and (in a cluster) the servers, quorum and
    every hierarchy's copies."""
    graph = snap.config.graph(snap.local)
    local_states = snap.states.get(snap.local, {})
    maintained = snap.config.maintained_tags(snap.local)

    def node(tag: str) -> dict[str, object]:
        r = graph.resources[tag]
        return {
            "tag": tag,
            "kit": r.kit,
            "id": r.id,
            "state": str(local_states.get(tag, State.UNKNOWN)),
            "reason": snap.reasons.get(tag, ""),
            "switchback": str(r.switchback),
            "priority": r.priority,
            "maintenance": tag in maintained,
            "children": [node(c) for c in graph.children(tag)],
        }

    out: dict[str, object] = {
        "server": snap.local,
        "config_version": snap.config.version,
        "started": snap.started,
        "hierarchies": [node(r) for r in graph.roots()],
        "busy": sorted(snap.busy),
        "maintenance": _maintenance(snap),
        "standby": snap.config.standby(snap.local),
    }
    if snap.clustered:
        out["cluster"] = _cluster_part(snap)
    return out


def _maintenance(snap: ClusterSnapshot) -> dict[str, object]:
    """Maintenance mode as status shows it: cluster-wide, and the root tags (on any
    server's copy, this server's first) of the hierarchies in it on their own."""
    modes = snap.config.modes
    tags: list[str] = []
    for equiv in sorted(modes.maintenance_hierarchies):
        copies = snap.config.equivalents(equiv)
        mine = [c.tag for c in copies if c.server == snap.local]
        if mine or copies:
            tags.append(mine[0] if mine else copies[0].tag)
    return {"cluster": modes.maintenance, "hierarchies": sorted(tags)}


def _cluster_part(snap: ClusterSnapshot) -> dict[str, object]:
    servers = {
        name: {
            "alive": name in snap.alive,
            "local": name == snap.local,
            "paths": dict(snap.paths.get(name, {})),
            "failover_blocked": name in snap.blocked,
            "standby": snap.config.standby(name),
            "stopping": name in snap.leaving,  # its daemon hands its hierarchies over
        }
        for name in snap.servers
    }
    roots: dict[str, Resource] = {}
    for r in snap.config.resources.values():
        if not snap.config.graph(r.server).parents(r.tag):
            roots.setdefault(r.equiv, r)
    hierarchies = []
    for equiv, some_root in sorted(roots.items(), key=lambda kv: kv[1].tag):
        copies = [
            {
                "server": c.server,
                "tag": c.tag,
                "priority": c.priority,
                "state": str(snap.state(c.server, c.tag)),
            }
            for c in snap.config.equivalents(equiv)
        ]
        target = snap.config.target(equiv)
        hierarchies.append(
            {
                "tag": some_root.tag,
                "equiv": equiv,
                "copies": copies,
                "target": {"in_service": target.in_service, "server": target.server},
                "maintenance": snap.config.in_maintenance(equiv),
            }
        )
    q = snap.quorum_status
    return {
        "name": snap.name,
        "servers": servers,
        "quorum": {
            "has_quorum": q.has_quorum,
            "votes": q.votes,
            "needed": q.needed,
            "mode": q.mode,
            **({"etcd": dict(snap.arbiter)} if snap.arbiter else {}),
        },
        "hierarchies": hierarchies,
        "pending_confirmations": [dict(p) for p in snap.pending_confirmations],
    }


def gui_view(snap: ClusterSnapshot) -> dict[str, object]:
    """Every resource instance on every server with its state as this server knows it
    (its own states, and each live peer's from its heartbeat)."""
    config = snap.config
    resources: list[dict[str, object]] = []
    graphs = {s: config.graph(s) for s in {srv for srv, _ in config.resources}}
    maintained = {s: config.maintained_tags(s) for s in graphs}
    for (srv, tag), r in sorted(config.resources.items()):
        g = graphs[srv]
        resources.append(
            {
                "server": srv,
                "tag": tag,
                "kit": r.kit,
                "id": r.id,
                "equiv": r.equiv or f"{tag}@{srv}",
                "priority": r.priority,
                "switchback": str(r.switchback),
                "state": str(snap.state(srv, tag)),
                "reason": snap.reasons.get(tag, "") if srv == snap.local else "",
                "parents": g.parents(tag),
                "children": g.children(tag),
                "maintenance": tag in maintained[srv],
            }
        )
    return {
        "local": snap.local,
        "servers": list(snap.servers),
        "alive": sorted(snap.alive),
        "maintenance": snap.config.modes.maintenance,
        "standby": sorted(snap.config.modes.standby),
        "resources": resources,
    }
