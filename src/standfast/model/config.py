"""The cluster configuration as one immutable value, and the changes to it.

Every change is a list of operations validated here, purely, against the current
configuration; the store applies them in one transaction and bumps the version.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

from standfast.messages import StandfastError
from standfast.model.graph import ServerGraph
from standfast.model.resources import Dependency, Resource
from standfast.model.states import Switchback
from standfast.model.tags import validate_priority, validate_tag


@dataclass(frozen=True)
class AddResource:
    resource: Resource
    op: Literal["add_resource"] = "add_resource"


@dataclass(frozen=True)
class UpdateResource:
    resource: Resource
    op: Literal["update_resource"] = "update_resource"


@dataclass(frozen=True)
class DeleteResource:
    server: str
    tag: str
    op: Literal["delete_resource"] = "delete_resource"


@dataclass(frozen=True)
class AddDependency:
    dependency: Dependency
    op: Literal["add_dependency"] = "add_dependency"


@dataclass(frozen=True)
class DeleteDependency:
    dependency: Dependency
    op: Literal["delete_dependency"] = "delete_dependency"


@dataclass(frozen=True)
class Target:
    """Where the operator last put a hierarchy: in service (on ``server``, preferred
    while it is eligible) or out of service."""

    in_service: bool = True
    server: str = ""


@dataclass(frozen=True)
class SetTarget:
    """Set a hierarchy's target, by its root's equivalency."""

    equiv: str
    in_service: bool
    server: str = ""
    op: Literal["set_target"] = "set_target"


@dataclass(frozen=True)
class SetMaintenance:
    """Maintenance mode on or off: cluster-wide (``equiv`` empty) or for one hierarchy
    (by its root's equivalency). Idempotent: setting what is set changes nothing but
    the version."""

    on: bool
    equiv: str = ""
    op: Literal["set_maintenance"] = "set_maintenance"


@dataclass(frozen=True)
class SetStandby:
    """A server in or out of standby (it serves no hierarchy while in standby)."""

    server: str
    on: bool
    op: Literal["set_standby"] = "set_standby"


Operation = (
    AddResource
    | UpdateResource
    | DeleteResource
    | AddDependency
    | DeleteDependency
    | SetTarget
    | SetMaintenance
    | SetStandby
)


def op_to_dict(op: Operation) -> dict[str, object]:
    if isinstance(op, AddResource | UpdateResource):
        return {"op": op.op, "resource": op.resource.to_dict()}
    if isinstance(op, DeleteResource):
        return {"op": op.op, "server": op.server, "tag": op.tag}
    if isinstance(op, SetTarget):
        return {"op": op.op, "equiv": op.equiv, "in_service": op.in_service, "server": op.server}
    if isinstance(op, SetMaintenance):
        return {"op": op.op, "on": op.on, "equiv": op.equiv}
    if isinstance(op, SetStandby):
        return {"op": op.op, "server": op.server, "on": op.on}
    d = op.dependency
    return {"op": op.op, "server": d.server, "parent": d.parent, "child": d.child}


def _object(d: object, what: str) -> Mapping[str, object]:
    if not isinstance(d, dict):
        raise ValueError(f"each {what} must be an object")
    return d


def resource_from_dict(d: Mapping[str, object]) -> Resource:
    d = _object(d, "resource")
    props = d.get("props") or {}
    if not isinstance(props, dict):
        raise ValueError("props must be an object")
    return Resource(
        server=str(d["server"]),
        tag=str(d["tag"]),
        kit=str(d["kit"]),
        id=str(d["id"]),
        switchback=Switchback(str(d.get("switchback", "intelligent"))),
        priority=int(str(d.get("priority", 1))),
        equiv=str(d.get("equiv", "")),
        props={str(k): v for k, v in props.items() if isinstance(v, str | int | float | bool)},
    )


def op_from_dict(d: Mapping[str, object]) -> Operation:
    kind = d.get("op")
    if kind in ("add_resource", "update_resource"):
        res = d.get("resource")
        if not isinstance(res, dict):
            raise ValueError("resource missing")
        r = resource_from_dict(res)
        return AddResource(r) if kind == "add_resource" else UpdateResource(r)
    if kind == "delete_resource":
        return DeleteResource(str(d["server"]), str(d["tag"]))
    if kind == "set_target":
        return SetTarget(str(d["equiv"]), bool(d["in_service"]), str(d.get("server", "")))
    if kind == "set_maintenance":
        return SetMaintenance(d["on"] is True, str(d.get("equiv", "")))
    if kind == "set_standby":
        return SetStandby(str(d["server"]), d["on"] is True)
    dep = Dependency(str(d["server"]), str(d["parent"]), str(d["child"]))
    if kind == "add_dependency":
        return AddDependency(dep)
    if kind == "delete_dependency":
        return DeleteDependency(dep)
    raise ValueError(f"unknown operation {kind!r}")


@dataclass(frozen=True)
class ClusterConfig:
    version: int = 0
    resources: Mapping[tuple[str, str], Resource] = field(default_factory=dict)
    dependencies: frozenset[Dependency] = frozenset()
    # Hierarchy root equivalency -> target; absent means in service, no preference.
    targets: Mapping[str, Target] = field(default_factory=dict)
    # Maintenance mode (docs/maintenance.md): cluster-wide, and per hierarchy (root
    # equivalencies); servers in standby. Replicated like everything here.
    modes: Modes = field(default_factory=lambda: Modes())
    # Each server's graph, built once: the configuration never changes (a change is a
    # new ClusterConfig), and the control loop asks for it several times a cycle.
    _graphs: dict[str, ServerGraph] = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False
    )
    # The digest, computed once for the same reason: heartbeats, offers and adoption
    # each ask for it (a SHA-256 of the whole configuration).
    _digest: list[str] = field(
        default_factory=list, init=False, repr=False, compare=False, hash=False
    )

    @classmethod
    def of(
        cls,
        version: int,
        resources: Iterable[Resource],
        dependencies: Iterable[Dependency],
        targets: Mapping[str, Target] | None = None,
        modes: Modes | None = None,
    ) -> ClusterConfig:
        return cls(
            version,
            {(r.server, r.tag): r for r in resources},
            frozenset(dependencies),
            dict(targets or {}),
            modes or Modes(),
        )

    def in_maintenance(self, equiv: str) -> bool:
        """Whether the hierarchy whose root has ``equiv`` is in maintenance (its own or
        the cluster's)."""
        return self.modes.maintenance or equiv in self.modes.maintenance_hierarchies

    def standby(self, server: str) -> bool:
        return server in self.modes.standby

    def maintained_tags(self, server: str) -> frozenset[str]:
        """``server``'s resources that belong to a hierarchy in maintenance (a resource
        shared by two hierarchies is in maintenance when either is)."""
        graph = self.graph(server)
        if self.modes.maintenance:
            return frozenset(graph.resources)
        if not self.modes.maintenance_hierarchies:
            return frozenset()
        out: set[str] = set()
        for root in graph.roots():
            if graph.resources[root].equiv in self.modes.maintenance_hierarchies:
                out |= graph.hierarchy(root)
        return frozenset(out)

    def target(self, equiv: str) -> Target:
        return self.targets.get(equiv, Target())

    def wanted(self, equiv: str) -> bool:
        return self.target(equiv).in_service

    def to_dict(self) -> dict[str, object]:
        """Canonical form, for replication and the digest that breaks version ties."""
        return {
            "version": self.version,
            "resources": [r.to_dict() for _, r in sorted(self.resources.items())],
            "dependencies": [
                {"server": d.server, "parent": d.parent, "child": d.child}
                for d in sorted(self.dependencies)
            ],
            "targets": {
                e: {"in_service": t.in_service, "server": t.server}
                for e, t in sorted(self.targets.items())
            },
            # Absent when all off: configurations without modes keep their digest, so
            # servers of an earlier release agree with this one about them.
            **({"modes": self.modes.to_dict()} if self.modes.any() else {}),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> ClusterConfig:
        resources = data.get("resources") or []
        deps = data.get("dependencies") or []
        targets = data.get("targets") or {}
        if not isinstance(resources, list) or not isinstance(deps, list):
            raise ValueError("resources and dependencies must be lists")
        if not isinstance(targets, dict):
            raise ValueError("targets must be an object")
        return cls.of(
            int(str(data.get("version", 0))),
            [resource_from_dict(r) for r in resources],
            [
                Dependency(str(d["server"]), str(d["parent"]), str(d["child"]))
                for d in (_object(x, "dependency") for x in deps)
            ],
            {
                str(k): Target(bool(v["in_service"]), str(v.get("server", "")))
                for k, v in ((k, _object(v, "target")) for k, v in targets.items())
            },
            Modes.from_dict(data.get("modes", {})),
        )

    def digest(self) -> str:
        """The contents' digest, without the version (computed on first use, then kept)."""
        if not self._digest:
            body = self.to_dict()
            body.pop("version")
            raw = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
            self._digest.append(hashlib.sha256(raw).hexdigest()[:16])
        return self._digest[0]

    def graph(self, server: str) -> ServerGraph:
        """``server``'s resources and dependencies (built on first use, then kept)."""
        graph = self._graphs.get(server)
        if graph is None:
            graph = ServerGraph.build(server, self.resources.values(), self.dependencies)
            self._graphs[server] = graph
        return graph

    def servers(self) -> list[str]:
        return sorted({s for s, _ in self.resources})

    def get(self, server: str, tag: str) -> Resource:
        try:
            return self.resources[(server, tag)]
        except KeyError:
            raise StandfastError("000019") from None

    def find(self, server: str, tag: str) -> Resource | None:
        return self.resources.get((server, tag))

    def equivalents(self, equiv: str) -> list[Resource]:
        """Every server's copy of one resource, best priority first."""
        return sorted(
            (r for r in self.resources.values() if r.equiv == equiv),
            key=lambda r: (r.priority, r.server),
        )

    def apply(self, ops: Iterable[Operation]) -> ClusterConfig:
        """Validate and apply; raises StandfastError and changes nothing on bad input."""
        res = dict(self.resources)
        deps = set(self.dependencies)
        targets = dict(self.targets)
        modes = self.modes
        for op in ops:
            if isinstance(op, SetTarget):
                targets[op.equiv] = Target(op.in_service, op.server)
            elif isinstance(op, SetMaintenance | SetStandby):
                modes = modes.changed(op)
            elif isinstance(op, AddResource):
                _check_new_resource(res, op.resource)
                res[(op.resource.server, op.resource.tag)] = op.resource
            elif isinstance(op, UpdateResource):
                r = op.resource
                if (r.server, r.tag) not in res:
                    raise StandfastError("000019")
                validate_priority(r.priority)
                _check_priority_free(res, r)
                res[(r.server, r.tag)] = r
            elif isinstance(op, DeleteResource):
                if (op.server, op.tag) not in res:
                    raise StandfastError("000019")
                parents = sorted(
                    d.parent for d in deps if d.server == op.server and d.child == op.tag
                )
                if parents:
                    raise StandfastError(
                        "190015", tag=op.tag, parents=", ".join(parents), server=op.server
                    )
                del res[(op.server, op.tag)]
                deps = {d for d in deps if not (d.server == op.server and op.tag == d.parent)}
            elif isinstance(op, AddDependency):
                d = op.dependency
                ServerGraph.build(d.server, res.values(), deps).check_new_dependency(
                    d.parent, d.child
                )
                deps.add(d)
            else:
                d = op.dependency
                if d not in deps:
                    raise StandfastError("190009", parent=d.parent, child=d.child, server=d.server)
                deps.discard(d)
        _check_state_reports(res.values())
        live = {r.equiv for r in res.values()}
        targets = {e: v for e, v in targets.items() if e in live}
        modes = replace(
            modes,
            maintenance_hierarchies=frozenset(
                e for e in modes.maintenance_hierarchies if e in live
            ),
        )
        return ClusterConfig(self.version + 1, res, frozenset(deps), targets, modes)


@dataclass(frozen=True)
class Modes:
    """Maintenance and standby, as stored and replicated."""

    maintenance: bool = False  # cluster-wide
    maintenance_hierarchies: frozenset[str] = frozenset()  # root equivalencies
    standby: frozenset[str] = frozenset()  # server names

    def any(self) -> bool:
        return self.maintenance or bool(self.maintenance_hierarchies or self.standby)

    def changed(self, op: SetMaintenance | SetStandby) -> Modes:
        if isinstance(op, SetStandby):
            standby = self.standby | {op.server} if op.on else self.standby - {op.server}
            return replace(self, standby=frozenset(standby))
        if not op.equiv:
            return replace(self, maintenance=op.on)
        h = self.maintenance_hierarchies
        return replace(
            self, maintenance_hierarchies=frozenset(h | {op.equiv} if op.on else h - {op.equiv})
        )

    def ops_to(self, other: Modes) -> list[SetMaintenance | SetStandby]:
        """The operations that turn these modes into ``other`` (a backup's)."""
        out: list[SetMaintenance | SetStandby] = [SetMaintenance(other.maintenance)]
        mine, theirs = self.maintenance_hierarchies, other.maintenance_hierarchies
        out += [SetMaintenance(False, e) for e in sorted(mine - theirs)]
        out += [SetMaintenance(True, e) for e in sorted(theirs - mine)]
        out += [SetStandby(s, False) for s in sorted(self.standby - other.standby)]
        out += [SetStandby(s, True) for s in sorted(other.standby - self.standby)]
        return out

    def to_dict(self) -> dict[str, object]:
        return {
            "maintenance": self.maintenance,
            "maintenance_hierarchies": sorted(self.maintenance_hierarchies),
            "standby": sorted(self.standby),
        }

    @classmethod
    def from_dict(cls, data: object) -> Modes:
        """From ``to_dict``'s form; every key optional (older stored forms lack them)."""
        if not isinstance(data, dict):
            raise ValueError("modes must be an object")
        hier = data.get("maintenance_hierarchies") or []
        standby = data.get("standby") or []
        if not isinstance(hier, list) or not isinstance(standby, list):
            raise ValueError("maintenance_hierarchies and standby must be lists")
        return cls(
            data.get("maintenance") is True,
            frozenset(str(e) for e in hier),
            frozenset(str(s) for s in standby),
        )


#: Bytes of one server's heartbeat its resource states may take: every heartbeat
#: carries them (cluster/heartbeat.py caps the payload at 32 KiB), so a configuration
#: that could not be reported is refused rather than silently unreported.
STATE_REPORT_BUDGET = 24_000
# Worst case per instance: '"tag":"ISP",' in the states and '"tag":1795637771.123,' in
# the in-service times.
_STATE_ENTRY_BYTES = 28


def state_report_size(resources: Iterable[Resource], server: str) -> int:
    """The most bytes ``server``'s heartbeat needs for the states of its instances."""
    return sum(_state_entry_bytes(r) for r in resources if r.server == server)


def _state_entry_bytes(r: Resource) -> int:
    return len(r.tag) + _STATE_ENTRY_BYTES


def _check_state_reports(resources: Iterable[Resource]) -> None:
    """One pass over every server's instances: each server's report must fit."""
    size: dict[str, int] = {}
    count: dict[str, int] = {}
    for r in resources:
        size[r.server] = size.get(r.server, 0) + _state_entry_bytes(r)
        count[r.server] = count.get(r.server, 0) + 1
    for server in sorted(size):
        if size[server] > STATE_REPORT_BUDGET:
            raise StandfastError(
                "190021",
                server=server,
                count=count[server],
                size=size[server],
                limit=STATE_REPORT_BUDGET,
            )


def _check_new_resource(res: Mapping[tuple[str, str], Resource], r: Resource) -> None:
    validate_tag(r.tag)
    validate_priority(r.priority)
    if not r.id:
        raise StandfastError("000011")
    for other in res.values():
        if other.server == r.server and (
            other.tag == r.tag or (other.kit == r.kit and other.id == r.id)
        ):
            raise StandfastError("000014", tag=r.tag)
    _check_priority_free(res, r)


def _check_priority_free(res: Mapping[tuple[str, str], Resource], r: Resource) -> None:
    for other in res.values():
        if (
            r.equiv
            and other.equiv == r.equiv
            and other.server != r.server
            and other.priority == r.priority
        ):
            raise StandfastError("190006", priority=r.priority, server=other.server, tag=r.tag)
