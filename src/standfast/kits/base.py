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
from standfast.kits.schema import PropertySpec, validate_id, validate_props
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
    """A create as asked; an id that no command or file name could carry (a NUL, an
    unpaired surrogate) is refused here with 190023, before any kit or host step."""

    kit: str
    tag: str | None
    id: str | None
    switchback: Switchback
    props: Mapping[str, PropValue]

    def __post_init__(self) -> None:
        if self.id is not None:
            validate_id(self.kit, self.id)


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
    # A configuration error no other server can mend (an OCF agent's
    # OCF_ERR_CONFIGURED): no local recovery, and the hierarchy is taken out of the
    # wanted state so no other server tries it until the operator acts.
    blocks_failover: bool = False

    @classmethod
    def good(cls) -> CheckResult:
        return cls(True)

    @classmethod
    def bad(cls, code: str, *, nas_access: bool = False, **params: object) -> CheckResult:
        return cls(False, code, params, nas_access)

    def notice(self) -> Notice | None:
        return None if self.ok else Notice.of(self.code, **self.params)


class Kit(ABC):
    """A recovery kit: what Standfast knows about one kind of resource.

    Contracts that every kit keeps (the engine relies on them):

    - Timing: every action is called in a worker thread of the engine's action runner,
      under an outer deadline (SF_ACTION_TIMEOUT; checks LKNFSTIMEOUT + 5 s). Inside,
      every blocking call has its own, shorter bound (commands through
      ``host.commands.run``, NFS RPCs with socket deadlines, ``stat`` of a mount point in
      a child process killed after LKNFSSYSCALLTO), so an overrun is a kit bug, never a
      hung daemon. No action waits on the NFS server without such a bound.
    - Idempotency: ``restore`` on a resource already in service and ``remove`` on one
      already out of service succeed without changing anything; ``delete`` and
      ``after_create`` may be repeated.
    - Errors: a refusal or failure raises ``StandfastError`` with a catalogue code and
      changes nothing the engine has not been told of; checks never raise for the
      resource's own failure: they return ``CheckResult.bad`` (``nas_access`` when the
      NAS itself could not be reached).
    - Kits never decide placement and never touch the configuration store.
    """

    name: ClassVar[str]
    description: ClassVar[str]
    schema: ClassVar[tuple[PropertySpec, ...]]
    supports_recover: ClassVar[bool] = False

    def validate(
        self, props: Mapping[str, PropValue], ctx: KitContext | None = None
    ) -> dict[str, PropValue]:
        """The full property set, checked; ``ctx`` (this server) lets a kit whose schema
        comes from the host (the ocf kit's agent meta-data) check against it."""
        return validate_props(self.name, self.schema, props)

    def validate_edit(
        self,
        resource: Resource,
        changes: Mapping[str, PropValue],
        ctx: KitContext | None = None,
    ) -> dict[str, PropValue]:
        return validate_props(self.name, self.schema, changes, base=resource.props)

    @abstractmethod
    def plan_create(self, ctx: KitContext, req: CreateRequest, config: ClusterConfig) -> CreatePlan:
        """Check the request against the host and configuration; host changes that the
        create needs before it is stored (such as a remount by IP address) happen here.
        Raises StandfastError (000014, the kit's own codes) to refuse; nothing is stored
        before it returns."""

    def local_resource(
        self,
        ctx: KitContext,
        req: CreateRequest,
        tag: str,
        rid: str,
        props: Mapping[str, PropValue],
    ) -> Resource:
        """A new resource of this kit on this server, its own equivalency (for
        ``plan_create``)."""
        return Resource(
            server=ctx.server,
            tag=tag,
            kit=self.name,
            id=rid,
            switchback=req.switchback,
            equiv=f"{tag}@{ctx.server}",
            props=props,
        )

    def after_create(self, ctx: KitContext, resource: Resource) -> None:
        """Host changes once the resource is stored and in service (fstab, ...).
        Repeatable."""

    def delete(self, ctx: KitContext, resource: Resource) -> None:
        """Undo after_create's host changes; the resource is out of service. Repeatable
        (a copy removed while its server was down is cleaned up when it rejoins)."""

    @abstractmethod
    def restore(self, ctx: KitContext, resource: Resource) -> None:
        """Bring into service; raise StandfastError on failure. Succeeds at once when the
        resource is already in service (adopts what runs)."""

    @abstractmethod
    def remove(self, ctx: KitContext, resource: Resource) -> None:
        """Take out of service; raise StandfastError on failure. Succeeds at once when
        the resource is already out of service. Must not block on a hung NAS (find users
        without touching the mount, kill by policy, force, lazy unmount last)."""

    @abstractmethod
    def quick_check(self, ctx: KitContext, resource: Resource) -> CheckResult:
        """Cheap, frequent health check (every SF_QUICKCHECK_INTERVAL); returns, never
        raises, for the resource's own failure."""

    def deep_check(self, ctx: KitContext, resource: Resource) -> CheckResult:
        """Thorough check (every SF_DEEPCHECK_INTERVAL); by default the quick check."""
        return self.quick_check(ctx, resource)

    def recover(self, ctx: KitContext, resource: Resource) -> bool:
        """Local recovery in place; True when the resource is healthy again, False to
        let the engine fail over. Called once per failure, under the hierarchy's lock."""
        return False

    def prepare(self, ctx: KitContext, resource: Resource) -> list[str]:
        """Make ready on this server what a ``restore`` would otherwise wait for (issue
        12: a takeover pays only for the action itself): called for each of this
        server's copies when the daemon starts and when it gains one, whatever its state.
        Returns what it did (empty when nothing was needed). Idempotent and bounded like
        every action; never changes whether anything is in service; raises
        StandfastError (190422) when something could not be made ready, which only
        makes the takeover slower. By default nothing is needed."""
        return []

    def props_for_copy(self, props: Mapping[str, PropValue]) -> dict[str, PropValue]:
        """Properties of another server's copy made by extend (what is only true of the
        template server is left out)."""
        return dict(props)

    def can_extend(self, ctx: KitContext, resource: Resource) -> None:
        """Checks on a target server before an extend (run there, at the template's
        request); raise StandfastError to refuse. Changes nothing on the target except
        what it undoes before returning (a temporary mount point)."""

    def default_tag(self, ctx: KitContext, req: CreateRequest) -> str:
        if req.id:
            return req.id.strip("/").replace("/", "_") or self.name
        raise StandfastError("000030", phase="create")


def require_tag_free(config: ClusterConfig, server: str, tag: str, kit: str, rid: str) -> None:
    for r in config.resources.values():
        if r.server == server and (r.tag == tag or (r.kit == kit and r.id == rid)):
            raise StandfastError("000014", tag=tag)
