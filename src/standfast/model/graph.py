"""Hierarchies: the dependency DAG of one server's resources.

A parent depends on its children; children start first and stop last.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from standfast.messages import StandfastError
from standfast.model.resources import Dependency, Resource


@dataclass(frozen=True)
class ServerGraph:
    """The resources and dependencies of one server, read-only."""

    server: str
    resources: Mapping[str, Resource]
    dependencies: frozenset[Dependency]

    @classmethod
    def build(
        cls, server: str, resources: Iterable[Resource], dependencies: Iterable[Dependency]
    ) -> ServerGraph:
        res = {r.tag: r for r in resources if r.server == server}
        deps = frozenset(d for d in dependencies if d.server == server)
        return cls(server, res, deps)

    def children(self, tag: str) -> list[str]:
        return sorted(d.child for d in self.dependencies if d.parent == tag)

    def parents(self, tag: str) -> list[str]:
        return sorted(d.parent for d in self.dependencies if d.child == tag)

    def roots(self) -> list[str]:
        return sorted(t for t in self.resources if not self.parents(t))

    def descendants(self, tag: str) -> set[str]:
        seen: set[str] = set()
        todo = [tag]
        while todo:
            for c in self.children(todo.pop()):
                if c not in seen:
                    seen.add(c)
                    todo.append(c)
        return seen

    def ancestors(self, tag: str) -> set[str]:
        seen: set[str] = set()
        todo = [tag]
        while todo:
            for p in self.parents(todo.pop()):
                if p not in seen:
                    seen.add(p)
                    todo.append(p)
        return seen

    def hierarchy(self, tag: str) -> set[str]:
        """Every resource connected to ``tag`` by dependencies, either way."""
        seen = {tag}
        todo = [tag]
        while todo:
            t = todo.pop()
            for n in (*self.children(t), *self.parents(t)):
                if n not in seen:
                    seen.add(n)
                    todo.append(n)
        return seen

    def hierarchy_roots(self, tag: str) -> list[str]:
        return sorted(t for t in self.hierarchy(tag) if not self.parents(t))

    def hierarchies(self) -> list[set[str]]:
        """Independent hierarchies, each a connected set, ordered by smallest root."""
        out: list[set[str]] = []
        seen: set[str] = set()
        for root in self.roots():
            if root in seen:
                continue
            h = self.hierarchy(root)
            seen |= h
            out.append(h)
        return out

    def start_order(self, tags: Iterable[str]) -> list[str]:
        """Children before parents; ties broken by tag for determinism."""
        wanted = set(tags)
        order: list[str] = []
        placed: set[str] = set()
        while len(placed) < len(wanted):
            ready = sorted(
                t
                for t in wanted - placed
                if all(c in placed or c not in wanted for c in self.children(t))
            )
            if not ready:  # only possible with a cycle, which check_new_dependency refuses
                raise RuntimeError("dependency cycle in " + ", ".join(sorted(wanted - placed)))
            order.extend(ready)
            placed.update(ready)
        return order

    def stop_order(self, tags: Iterable[str]) -> list[str]:
        return list(reversed(self.start_order(tags)))

    def check_new_dependency(self, parent: str, child: str) -> None:
        for t in (parent, child):
            if t not in self.resources:
                raise StandfastError("000019")
        if Dependency(self.server, parent, child) in self.dependencies:
            raise StandfastError("190008", parent=parent, child=child)
        if parent == child or parent in self.descendants(child):
            raise StandfastError("190007", parent=parent, child=child)

    def tree(self, root: str) -> dict[str, object]:
        """A nested view for status displays."""
        return {
            "tag": root,
            "children": [self.tree(c) for c in self.children(root)],
        }
