"""The systemd kit: a systemd unit as a resource, started, stopped and watched by the
service manager itself (Pacemaker's ``systemd:`` resource class).

The resource's id is the unit's name (``nginx.service``). Restore is ``systemctl
start`` (after ``reset-failed``, so a unit that failed before can start again), then
the unit's ``ActiveState`` read back; remove is ``systemctl stop``; the quick check
reads ``ActiveState``, ``SubState`` and ``Result`` with ``systemctl show``; local
recovery is ``systemctl restart``. Every call is ``systemctl --no-ask-password``, its
argv built here (no shell), bounded by the resource's timeouts through
``host.commands.run``. systemctl is used rather than D-Bus bindings: it is on every
systemd host, speaks the manager's own protocol, and adds no compiled dependency.

While the cluster owns a unit it must not start at boot (it would run beside the
cluster's copy): after create, a unit enabled at boot is disabled and the administrator
told (195106; 195107 if that fails); an extend to a server where it is enabled is
refused with the command that fixes it (195108), since a target changes nothing.

Contracts: as :class:`~standfast.kits.base.Kit`. ``restore`` of an active unit and
``remove`` of an inactive one succeed at once (systemctl's own idempotency). Create and
extend refuse with 195101 (not systemd), 195102 (not a unit name) or 195103 (unit not
loaded on that server) and change nothing.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import ClassVar

from standfast.host.commands import CommandResult, run
from standfast.host.starved import HostStarved
from standfast.kits.base import (
    CheckResult,
    CreatePlan,
    CreateRequest,
    Kit,
    KitContext,
    require_tag_free,
)
from standfast.kits.schema import PropertySpec
from standfast.messages import StandfastError
from standfast.model.config import ClusterConfig
from standfast.model.resources import Resource
from standfast.model.tags import validate_tag

SYSTEMCTL = "systemctl"
#: The runtime directory systemd creates when it is PID 1 (sd_booted(3)'s own test).
SYSTEMD_RUNTIME = "/run/systemd/system"
_UNIT = re.compile(r"^[A-Za-z0-9:_.\\@-]+\.(service|socket|target|mount|timer|path)$")
_GOOD = frozenset({"active", "reloading"})
_SHOWN = ("LoadState", "ActiveState", "SubState", "Result")
_OUTPUT_SHOWN = 300


def check_unit_name(unit: str) -> str:
    """``unit`` when it is a unit name systemctl takes as a name, never as an option
    (195102 otherwise)."""
    if len(unit) > 255 or unit.startswith("-") or not _UNIT.fullmatch(unit):
        raise StandfastError("195102", unit=unit)
    return unit


def parse_show(text: str) -> dict[str, str]:
    """``systemctl show -p A -p B ...`` output (``Name=value`` lines) as a dict."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        name, sep, value = line.partition("=")
        if sep:
            out[name.strip()] = value.strip()
    return out


def unit_health(props: Mapping[str, str]) -> tuple[bool, str, str]:
    """(healthy, state shown, result) of a unit from its ``show`` properties."""
    active = props.get("ActiveState", "unknown")
    sub = props.get("SubState", "")
    state = f"{active}/{sub}" if sub else active
    return active in _GOOD, state, props.get("Result", "") or "unknown"


class SystemdKit(Kit):
    name = "systemd"
    description = "A systemd unit started, stopped and watched by the service manager"
    supports_recover = True
    schema: ClassVar[tuple[PropertySpec, ...]] = (
        PropertySpec("restore_timeout", "float", "Seconds allowed for start", 90.0, minimum=0.1),
        PropertySpec("remove_timeout", "float", "Seconds allowed for stop", 90.0, minimum=0.1),
        PropertySpec("check_timeout", "float", "Seconds allowed for a check", 10.0, minimum=0.1),
        PropertySpec(
            "recover_timeout", "float", "Seconds allowed for a restart in place", 90.0, minimum=0.1
        ),
    )

    # -- create and extend --------------------------------------------------------------

    def default_tag(self, ctx: KitContext, req: CreateRequest) -> str:
        return check_unit_name(req.id or "")

    def plan_create(self, ctx: KitContext, req: CreateRequest, config: ClusterConfig) -> CreatePlan:
        if not req.id:
            raise StandfastError("000030", phase="create")
        unit = check_unit_name(req.id)
        tag = validate_tag(req.tag or unit)
        props = self.validate(req.props)
        require_tag_free(config, ctx.server, tag, self.name, unit)
        self._require_loaded(ctx, unit, props)
        return CreatePlan((self.local_resource(ctx, req, tag, unit, props),), (), tag)

    def can_extend(self, ctx: KitContext, resource: Resource) -> None:
        # The target changes nothing here (the kit contract): a unit it would start at
        # boot is refused with the command that fixes it.
        unit = check_unit_name(resource.id)
        self._require_loaded(ctx, unit, resource.props)
        if self._enabled(ctx, resource):
            raise StandfastError("195108", unit=unit, server=ctx.server)

    def after_create(self, ctx: KitContext, resource: Resource) -> None:
        self._not_at_boot(ctx, resource)

    def _require_loaded(self, ctx: KitContext, unit: str, props: Mapping[str, object]) -> None:
        if not os.path.isdir(SYSTEMD_RUNTIME):
            raise StandfastError("195101", server=ctx.server)
        shown = self._show(ctx, unit, props)
        if shown.get("LoadState") != "loaded":
            raise StandfastError(
                "195103", unit=unit, server=ctx.server, state=shown.get("LoadState", "?")
            )

    def _enabled(self, ctx: KitContext, resource: Resource) -> bool:
        r = self._systemctl(ctx, resource, "check", "is-enabled", resource.id)
        return r.stdout.strip() in ("enabled", "enabled-runtime")

    def _not_at_boot(self, ctx: KitContext, resource: Resource) -> None:
        unit = resource.id
        if not self._enabled(ctx, resource):
            return
        r = self._systemctl(ctx, resource, "check", "disable", unit)
        if r.returncode == 0:
            ctx.log.add("195106", unit=unit, server=ctx.server)
        else:
            ctx.log.add("195107", unit=unit, server=ctx.server, reason=_output(r))

    # -- actions ------------------------------------------------------------------------

    def restore(self, ctx: KitContext, resource: Resource) -> None:
        unit = resource.id
        self._systemctl(ctx, resource, "restore", "reset-failed", unit)  # may fail: harmless
        self._must(ctx, resource, "restore", "start", unit)
        self._require_active(ctx, resource)

    def remove(self, ctx: KitContext, resource: Resource) -> None:
        unit = resource.id
        self._must(ctx, resource, "remove", "stop", unit)
        shown = self._show(ctx, unit, resource.props)
        if shown.get("ActiveState") not in ("inactive", "failed"):
            _, state, result = unit_health(shown)
            raise StandfastError("195105", unit=unit, server=ctx.server, state=state, result=result)

    def quick_check(self, ctx: KitContext, resource: Resource) -> CheckResult:
        try:
            shown = self._show(ctx, resource.id, resource.props)
        except HostStarved:
            raise  # the daemon's shortage, not the unit's failure
        except StandfastError as exc:
            return CheckResult(False, exc.code, dict(exc.params))
        healthy, state, result = unit_health(shown)
        if healthy:
            return CheckResult.good()
        return CheckResult.bad(
            "195105", unit=resource.id, server=ctx.server, state=state, result=result
        )

    def recover(self, ctx: KitContext, resource: Resource) -> bool:
        unit = resource.id
        try:
            self._systemctl(ctx, resource, "recover", "reset-failed", unit)
            self._must(ctx, resource, "recover", "restart", unit)
        except HostStarved:
            raise
        except StandfastError as exc:
            ctx.log.add(exc.code, **exc.params)
            return False
        return self.quick_check(ctx, resource).ok

    # -- systemctl ------------------------------------------------------------------------

    def _require_active(self, ctx: KitContext, resource: Resource) -> None:
        healthy, state, result = unit_health(self._show(ctx, resource.id, resource.props))
        if not healthy:
            raise StandfastError(
                "195105", unit=resource.id, server=ctx.server, state=state, result=result
            )

    def _show(self, ctx: KitContext, unit: str, props: Mapping[str, object]) -> dict[str, str]:
        argv = [SYSTEMCTL, "--no-ask-password", "show"]
        for name in _SHOWN:
            argv += ["-p", name]
        timeout = float(str(props.get("check_timeout", 10.0)))
        r = run([*argv, "--", unit], timeout=timeout)
        if r.timed_out or r.returncode != 0:
            raise StandfastError(
                "195104", verb="show", unit=unit, server=ctx.server, reason=_output(r)
            )
        return parse_show(r.stdout)

    def _systemctl(
        self, ctx: KitContext, resource: Resource, action: str, verb: str, unit: str
    ) -> CommandResult:
        key = "check_timeout" if action == "check" else f"{action}_timeout"
        timeout = float(resource.props.get(key, 10.0))
        return run([SYSTEMCTL, "--no-ask-password", verb, "--", unit], timeout=timeout)

    def _must(self, ctx: KitContext, resource: Resource, action: str, verb: str, unit: str) -> None:
        r = self._systemctl(ctx, resource, action, verb, unit)
        if r.timed_out or r.returncode != 0:
            raise StandfastError(
                "195104", verb=verb, unit=unit, server=ctx.server, reason=_output(r)
            )


def _output(r: CommandResult) -> str:
    if r.timed_out:
        return f"no answer within {r.duration:.0f} s"
    text = (r.stderr or r.stdout).strip()[-_OUTPUT_SHOWN:]
    return text or f"exit status {r.returncode}"
