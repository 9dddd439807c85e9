"""The cluster configuration as one immutable value, and the changes to it.

Every change is a list of operations validated here, purely, against the current
configuration; the store applies them in one transaction and bumps the version.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
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


Operation = AddResource | UpdateResource | DeleteResource | AddDependency | DeleteDependency


def op_to_dict(op: Operation) -> dict[str, object]:
    if isinstance(op, AddResource | UpdateResource):
        return {"op": op.op, "resource": op.resource.to_dict()}
    if isinstance(op, DeleteResource):
        return {"op": op.op, "server": op.server, "tag": op.tag}
    d = op.dependency
    return {"op": op.op, "server": d.server, "parent": d.parent, "child": d.child}


def resource_from_dict(d: Mapping[str, object]) -> Resource:
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

    @classmethod
    def of(
        cls, version: int, resources: Iterable[Resource], dependencies: Iterable[Dependency]
    ) -> ClusterConfig:
        return cls(version, {(r.server, r.tag): r for r in resources}, frozenset(dependencies))

    def graph(self, server: str) -> ServerGraph:
        return ServerGraph.build(server, self.resources.values(), self.dependencies)

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
        for op in ops:
            if isinstance(op, AddResource):
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
        return ClusterConfig(self.version + 1, res, frozenset(deps))


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
