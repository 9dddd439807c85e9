"""The recovery-kit contract.

A kit knows how to create, bring into service (restore), take out of service
(remove) and check one kind of resource. Kits never decide placement: the engine
calls them, off its loop, each call bounded by a deadline. Every action must be
idempotent: restoring what is up, or removing what is down, succeeds.

Subclasses implement the ``_``-less public methods they need; the base class
gives safe defaults (no local recovery, deep check = quick check).
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar

from standfast.config.paths import Paths
from standfast.config.tunables import Tunables
from standfast.kits.schema import PropertySpec, validate_props
from standfast.messages import Notice, StandfastError
from standfast.model.config import ClusterConfig
from standfast.model.resources import Dependency, PropValue, Resource
from standfast.model.states import Switchback

log = logging.getLogger("standfast.kits")


@dataclass
class ActionLog:
    """Collects the notices of one action and logs each as it happens."""

    logger: logging.Logger = log
    notices: list[Notice] = field(default_factory=list)
    transcript: list[str] = field(default_factory=list)

    def add(self, code: str, **params: object) -> Notice:
        n = Notice.of(code, **params)
        self.notices.append(n)
        level = {"info": logging.INFO, "warning": logging.WARNING}.get(
            str(n.severity), logging.ERROR
        )
        self.logger.log(level, n.text("en"))
        return n

    def line(self, text: str) -> None:
        """A plain progress line (the guide's create/extend transcript style)."""
        self.transcript.append(text)
        self.logger.info(text)


@dataclass(frozen=True)
class KitContext:
    server: str
    tunables: Tunables
    paths: Paths
    log: ActionLog


@dataclass(frozen=True)
class CreateRequest:
    kit: str
    tag: str | None
    id: str | None
    switchback: Switchback
    props: Mapping[str, PropValue]


@dataclass(frozen=True)
class CreatePlan:
    """What a create adds to the configuration, children first."""

    resources: tuple[Resource, ...]
    dependencies: tuple[Dependency, ...]
    root: str


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    code: str = ""
    params: Mapping[str, object] = field(default_factory=dict)
    # A NAS access failure follows LKNASERROR instead of the generic policy.
    nas_access: bool = False

    @classmethod
    def good(cls) -> CheckResult:
        return cls(True)

    @classmethod
    def bad(cls, code: str, *, nas_access: bool = False, **params: object) -> CheckResult:
        return cls(False, code, params, nas_access)

    def notice(self) -> Notice | None:
        return None if self.ok else Notice.of(self.code, **self.params)


class Kit(ABC):
    name: ClassVar[str]
    description: ClassVar[str]
    schema: ClassVar[tuple[PropertySpec, ...]]
    supports_recover: ClassVar[bool] = False

    def validate(self, props: Mapping[str, PropValue]) -> dict[str, PropValue]:
        return validate_props(self.name, self.schema, props)

    def validate_edit(
        self, resource: Resource, changes: Mapping[str, PropValue]
    ) -> dict[str, PropValue]:
        return validate_props(self.name, self.schema, changes, base=resource.props)

    @abstractmethod
    def plan_create(self, ctx: KitContext, req: CreateRequest, config: ClusterConfig) -> CreatePlan:
        """Check the request against the host and configuration; host changes that the
        create needs before it is stored (such as a remount by IP address) happen here."""

    def after_create(self, ctx: KitContext, resource: Resource) -> None:
        """Host changes once the resource is stored and in service (fstab, ...)."""

    def delete(self, ctx: KitContext, resource: Resource) -> None:
        """Undo after_create's host changes; the resource is out of service."""

    @abstractmethod
    def restore(self, ctx: KitContext, resource: Resource) -> None:
        """Bring into service; raise StandfastError on failure."""

    @abstractmethod
    def remove(self, ctx: KitContext, resource: Resource) -> None:
        """Take out of service; raise StandfastError on failure."""

    @abstractmethod
    def quick_check(self, ctx: KitContext, resource: Resource) -> CheckResult:
        """Cheap, frequent health check."""

    def deep_check(self, ctx: KitContext, resource: Resource) -> CheckResult:
        return self.quick_check(ctx, resource)

    def recover(self, ctx: KitContext, resource: Resource) -> bool:
        """Local recovery in place; True when the resource is healthy again."""
        return False

    def props_for_copy(self, props: Mapping[str, PropValue]) -> dict[str, PropValue]:
        """Properties of another server's copy made by extend (what is only true of the
        template server is left out)."""
        return dict(props)

    def can_extend(self, ctx: KitContext, resource: Resource) -> None:
        """Checks on a target server before an extend; raise StandfastError to refuse."""

    def default_tag(self, ctx: KitContext, req: CreateRequest) -> str:
        if req.id:
            return req.id.strip("/").replace("/", "_") or self.name
        raise StandfastError("000030", phase="create")


def require_tag_free(config: ClusterConfig, server: str, tag: str, kit: str, rid: str) -> None:
    for r in config.resources.values():
        if r.server == server and (r.tag == tag or (r.kit == kit and r.id == rid)):
            raise StandfastError("000014", tag=tag)
