"""Resource instances and dependencies: immutable configuration records."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from standfast.model.states import Switchback

PropValue = str | int | float | bool


def _frozen(props: Mapping[str, PropValue]) -> Mapping[str, PropValue]:
    return MappingProxyType(dict(props))


@dataclass(frozen=True)
class Resource:
    """One protected thing on one server."""

    server: str
    tag: str
    kit: str
    id: str
    switchback: Switchback = Switchback.INTELLIGENT
    priority: int = 1
    # Equivalency group: every server's copy of this resource shares it.
    equiv: str = ""
    props: Mapping[str, PropValue] = field(default_factory=lambda: _frozen({}))

    def __post_init__(self) -> None:
        if not isinstance(self.props, MappingProxyType):
            object.__setattr__(self, "props", _frozen(self.props))

    def with_props(self, **changes: PropValue) -> Resource:
        merged = dict(self.props)
        merged.update(changes)
        return replace(self, props=_frozen(merged))

    def to_dict(self) -> dict[str, object]:
        return {
            "server": self.server,
            "tag": self.tag,
            "kit": self.kit,
            "id": self.id,
            "switchback": str(self.switchback),
            "priority": self.priority,
            "equiv": self.equiv,
            "props": dict(self.props),
        }


@dataclass(frozen=True, order=True)
class Dependency:
    """``parent`` depends on ``child`` on ``server``: the child starts first."""

    server: str
    parent: str
    child: str
