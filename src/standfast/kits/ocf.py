"""The ``ocf`` kit: any OCF resource agent (the agents Pacemaker uses) as a resource.

The resource's ``agent`` property (``ocf:PROVIDER:TYPE``) names the agent; its other
properties are the agent's parameters, checked against the agent's ``meta-data``
(names, types, required ones). The kit's own properties are :data:`KIT_SPECS`.

Actions: restore = ``start``, remove = ``stop``, quick check = ``monitor`` at
``OCF_CHECK_LEVEL`` 0, deep check = ``monitor`` at the deepest level the agent offers,
local recovery = ``stop`` + ``start`` + ``monitor`` (when ``recover`` is true). Each
action runs without a shell, in the OCF environment, bounded by its timeout: the
resource's ``timeout_<action>`` property, else the agent's advised timeout, never more
than SF_ACTION_TIMEOUT. Exit codes map as :func:`standfast.kits.ocf_exec.classify` says:
OCF_ERR_INSTALLED / OCF_ERR_PERM are "cannot run on this server" (195015: the server's
copy goes OSF and the next server is tried); OCF_ERR_CONFIGURED is a configuration error
(195014: the check result blocks failover, see :attr:`CheckResult.blocks_failover`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

from standfast.kits.base import (
    CheckResult,
    CreatePlan,
    CreateRequest,
    Kit,
    KitContext,
    require_tag_free,
)
from standfast.kits.ocf_exec import Kind, Outcome, agent_env, daemon_env, run_action
from standfast.kits.ocf_metadata import (
    AgentMeta,
    AgentName,
    agent_executable,
    installed_agents,
    load_metadata,
    parse_agent_name,
)
from standfast.kits.schema import PropertySpec, validate_props
from standfast.messages import StandfastError
from standfast.model.config import ClusterConfig
from standfast.model.resources import PropValue, Resource
from standfast.model.tags import validate_tag

_PARAM = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
_INSTANCE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")

KIT_SPECS: tuple[PropertySpec, ...] = (
    PropertySpec("agent", "str", "The OCF agent, ocf:PROVIDER:TYPE", required=True, mutable=False),
    PropertySpec("recover", "bool", "Restart in place (stop, start) before failing over", True),
    PropertySpec("timeout_start", "float", "Seconds for start (default: the agent's)", minimum=0.1),
    PropertySpec("timeout_stop", "float", "Seconds for stop (default: the agent's)", minimum=0.1),
    PropertySpec(
        "timeout_monitor", "float", "Seconds for monitor (default: the agent's)", minimum=0.1
    ),
    PropertySpec(
        "timeout_validate", "float", "Seconds for validate-all (default: the agent's)", minimum=0.1
    ),
)
_KIT_NAMES = frozenset(s.name for s in KIT_SPECS)
_ACTION_PROP = {
    "start": "timeout_start",
    "stop": "timeout_stop",
    "monitor": "timeout_monitor",
    "validate-all": "timeout_validate",
}


@dataclass(frozen=True)
class _Agent:
    name: AgentName
    meta: AgentMeta
    root: str


def _root(ctx: KitContext | None) -> str:
    return ctx.tunables.SF_OCF_ROOT if ctx is not None else "/usr/lib/ocf"


def _server(ctx: KitContext | None) -> str:
    return ctx.server if ctx is not None else "this server"


def agent_of(props: Mapping[str, PropValue], ctx: KitContext | None) -> _Agent:
    """The resource's agent and its meta-data; 195001-195005 when it cannot be used."""
    if "agent" not in props:
        raise StandfastError("190013", name="agent", kit="ocf")
    name = parse_agent_name(props["agent"])
    root = _root(ctx)
    meta = load_metadata(name, root, agent_env_base(root), _server(ctx))
    for p in meta.params:
        if p.name in _KIT_NAMES:
            raise StandfastError("195005", agent=str(name), name=p.name)
    return _Agent(name, meta, root)


def agent_env_base(root: str) -> dict[str, str]:
    env = daemon_env()
    env["OCF_ROOT"] = root
    return {k: v for k, v in env.items() if not k.startswith("OCF_") or k == "OCF_ROOT"}


def _schema(agent: _Agent) -> tuple[PropertySpec, ...]:
    return KIT_SPECS + agent.meta.specs()


def _validate_offline(props: Mapping[str, PropValue]) -> dict[str, PropValue]:
    if "agent" not in props:
        raise StandfastError("190013", name="agent", kit="ocf")
    agent = str(parse_agent_name(props["agent"]))
    own = {k: v for k, v in props.items() if k in _KIT_NAMES}
    out = validate_props(agent, KIT_SPECS, own)
    for name, value in props.items():
        if name not in _KIT_NAMES:
            if not _PARAM.fullmatch(name):
                raise StandfastError("190012", name=name, kit=agent)
            text = PropertySpec(name, "str", "")
            out[name] = text.parse(agent, value) if isinstance(value, str) else value
    return out


class OcfKit(Kit):
    name = "ocf"
    description = "Any OCF resource agent (ocf:PROVIDER:TYPE), as Pacemaker runs them"
    supports_recover = True
    schema: ClassVar[tuple[PropertySpec, ...]] = KIT_SPECS

    # -- the schema, from the agent's meta-data ---------------------------------------

    def validate(
        self, props: Mapping[str, PropValue], ctx: KitContext | None = None
    ) -> dict[str, PropValue]:
        """Against the agent's meta-data on this server (``ctx``); without ``ctx`` (a
        configuration backup, which holds other servers' resources too) the agent's
        name and the kit's own properties are checked, and parameters only as text."""
        if ctx is None:
            return _validate_offline(props)
        agent = agent_of(props, ctx)
        return validate_props(str(agent.name), _schema(agent), props)

    def validate_edit(
        self,
        resource: Resource,
        changes: Mapping[str, PropValue],
        ctx: KitContext | None = None,
    ) -> dict[str, PropValue]:
        if ctx is None:
            return _validate_offline({**resource.props, **changes})
        agent = agent_of(resource.props, ctx)
        return validate_props(str(agent.name), _schema(agent), changes, base=resource.props)

    def agent_schema(self, ctx: KitContext, agent: str) -> dict[str, object]:
        """One agent's description and properties (the kit's own first), for the CLI
        (``standfast kits --agent``) and the GUI's create form."""
        a = agent_of({"agent": agent}, ctx)
        return {
            "agent": str(a.name),
            "description": a.meta.shortdesc,
            "longdesc": a.meta.longdesc,
            "properties": [p.to_dict() for p in KIT_SPECS[1:] + a.meta.specs(show_default=True)],
            "actions": [
                {"name": x.name, "timeout": x.timeout, "depth": x.depth} for x in a.meta.actions
            ],
        }

    def agents(self, ctx: KitContext) -> list[str]:
        return installed_agents(_root(ctx))

    # -- create and extend -------------------------------------------------------------

    def plan_create(self, ctx: KitContext, req: CreateRequest, config: ClusterConfig) -> CreatePlan:
        tag = validate_tag(req.tag or req.id or "")
        props = self.validate(req.props, ctx)
        rid = req.id or tag
        if not _INSTANCE.fullmatch(rid):
            raise StandfastError("195006", id=rid)
        require_tag_free(config, ctx.server, tag, self.name, rid)
        res = self.local_resource(ctx, req, tag, rid, props)
        agent = agent_of(props, ctx)
        if agent.meta.has_action("validate-all"):
            out = self._act(ctx, res, agent, "validate-all")
            if not out.ok and out.code != 3:  # OCF_ERR_UNIMPLEMENTED: nothing to check
                raise StandfastError(
                    "195010",
                    agent=str(agent.name),
                    tag=tag,
                    server=ctx.server,
                    meaning=out.meaning,
                    output=out.output,
                )
        return CreatePlan((res,), (), tag)

    def can_extend(self, ctx: KitContext, resource: Resource) -> None:
        """The agent must be installed on the target (195002) and accept the
        properties there (its meta-data, then validate-all)."""
        name = parse_agent_name(resource.props.get("agent"))
        agent_executable(name, _root(ctx), ctx.server)
        self.validate(resource.props, ctx)

    # -- actions -----------------------------------------------------------------------

    def _timeout(self, ctx: KitContext, res: Resource, agent: _Agent, action: str) -> float:
        prop = _ACTION_PROP.get(action)
        given = res.props.get(prop) if prop else None
        if isinstance(given, int | float) and not isinstance(given, bool):
            seconds = float(given)
        elif action == "monitor-deep":
            seconds = agent.meta.monitor_timeout(agent.meta.deep_depth)
        else:
            seconds = agent.meta.timeout(action)
        # The engine's outer deadline (SF_ACTION_TIMEOUT; for checks LKNFSTIMEOUT + 5 s)
        # must never fire before the agent's own, which kills the agent's process group.
        outer = float(ctx.tunables.SF_ACTION_TIMEOUT)
        if action.startswith("monitor"):
            outer = min(outer, float(ctx.tunables.LKNFSTIMEOUT) + 5.0)
        return max(0.1, min(seconds, outer - 1.0))

    def _act(
        self, ctx: KitContext, res: Resource, agent: _Agent, action: str, depth: int = 0
    ) -> Outcome:
        timeout = self._timeout(ctx, res, agent, "monitor-deep" if depth else action)
        params = {k: v for k, v in res.props.items() if k not in _KIT_NAMES}
        env = agent_env(
            daemon_env(),
            root=agent.root,
            provider=agent.name.provider,
            kind=agent.name.type,
            instance=res.id,
            params=params,
            timeout=timeout,
            check_level=depth if action == "monitor" else None,
        )
        path = agent_executable(agent.name, agent.root, ctx.server)
        return run_action(path, action, env, timeout)

    def _raise(self, ctx: KitContext, res: Resource, agent: _Agent, out: Outcome) -> None:
        common = {"tag": res.tag, "agent": str(agent.name), "server": ctx.server}
        if out.kind == Kind.TIMEOUT:
            seconds = f"{self._timeout(ctx, res, agent, out.action):g}"
            raise StandfastError("195012", action=out.action, seconds=seconds, **common)
        detail = {"action": out.action, "meaning": out.meaning, "output": out.output}
        if out.kind == Kind.CONFIG:
            raise StandfastError("195014", **detail, **common)
        if out.kind == Kind.NOT_HERE:
            raise StandfastError("195015", **detail, **common)
        raise StandfastError("195011", **detail, **common)

    def restore(self, ctx: KitContext, resource: Resource) -> None:
        agent = agent_of(resource.props, ctx)
        out = self._act(ctx, resource, agent, "start")
        if not out.ok:
            self._raise(ctx, resource, agent, out)

    def remove(self, ctx: KitContext, resource: Resource) -> None:
        agent = agent_of(resource.props, ctx)
        out = self._act(ctx, resource, agent, "stop")
        if not out.ok:
            self._raise(ctx, resource, agent, out)

    def _check(self, ctx: KitContext, res: Resource, depth: int) -> CheckResult:
        try:
            agent = agent_of(res.props, ctx)
        except StandfastError as exc:
            return CheckResult(False, exc.code, exc.params)
        out = self._act(ctx, res, agent, "monitor", depth)
        common: dict[str, object] = {
            "tag": res.tag,
            "agent": str(agent.name),
            "server": ctx.server,
        }
        if out.kind == Kind.DEGRADED:
            ctx.log.add("195016", output=out.output, **common)
        if out.ok:
            return CheckResult.good()
        if out.kind == Kind.CONFIG:
            return CheckResult(
                False,
                "195014",
                {"action": "monitor", "meaning": out.meaning, "output": out.output, **common},
                blocks_failover=True,
            )
        if out.kind == Kind.TIMEOUT:
            seconds = f"{self._timeout(ctx, res, agent, 'monitor'):g}"
            return CheckResult(False, "195012", {"action": "monitor", "seconds": seconds, **common})
        detail = {"depth": depth, "meaning": out.meaning, "output": out.output}
        return CheckResult(False, "195013", {**detail, **common})

    def quick_check(self, ctx: KitContext, resource: Resource) -> CheckResult:
        return self._check(ctx, resource, 0)

    def deep_check(self, ctx: KitContext, resource: Resource) -> CheckResult:
        try:
            depth = agent_of(resource.props, ctx).meta.deep_depth
        except StandfastError as exc:
            return CheckResult(False, exc.code, exc.params)
        return self._check(ctx, resource, depth)

    def recover(self, ctx: KitContext, resource: Resource) -> bool:
        """Restart in place: stop, start, then a quick monitor must pass. False (fail
        over) when ``recover`` is off, or for a failure no restart here can mend."""
        if resource.props.get("recover") is False:
            return False
        try:
            agent = agent_of(resource.props, ctx)
            for action in ("stop", "start"):
                out = self._act(ctx, resource, agent, action)
                if not out.ok:
                    self._raise(ctx, resource, agent, out)
        except StandfastError as exc:
            ctx.log.add(exc.code, **exc.params)
            return False
        return self.quick_check(ctx, resource).ok
