"""The generic application kit: the administrator's own commands.

Each command is a command line split into argv (no shell), run with a time limit,
with the resource's tag, id and server in its environment.
"""

from __future__ import annotations

import os
import shlex
import shutil
from typing import ClassVar

from standfast.host.commands import run
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

_OUTPUT_SHOWN = 400


class AppKit(Kit):
    name = "app"
    description = "A generic application started, stopped and checked by your commands"
    supports_recover = True
    schema: ClassVar[tuple[PropertySpec, ...]] = (
        PropertySpec("restore", "argv", "Command that starts the application", required=True),
        PropertySpec("remove", "argv", "Command that stops the application", required=True),
        PropertySpec(
            "quick_check", "argv", "Command that exits 0 while the application is healthy"
        ),
        PropertySpec("recover", "argv", "Command that repairs the application in place (optional)"),
        PropertySpec("restore_timeout", "float", "Seconds allowed for restore", 60.0, minimum=0.1),
        PropertySpec("remove_timeout", "float", "Seconds allowed for remove", 60.0, minimum=0.1),
        PropertySpec("check_timeout", "float", "Seconds allowed for a check", 10.0, minimum=0.1),
        PropertySpec("recover_timeout", "float", "Seconds allowed for recover", 60.0, minimum=0.1),
    )

    def plan_create(self, ctx: KitContext, req: CreateRequest, config: ClusterConfig) -> CreatePlan:
        tag = validate_tag(req.tag or req.id or "")
        props = self.validate(req.props)
        for action in ("restore", "remove", "quick_check", "recover"):
            if props.get(action):
                _require_executable(str(props[action]), tag)
        rid = req.id or tag
        require_tag_free(config, ctx.server, tag, self.name, rid)
        res = self.local_resource(ctx, req, tag, rid, props)
        return CreatePlan((res,), (), tag)

    def _run(self, ctx: KitContext, res: Resource, action: str) -> None:
        cmd = str(res.props.get(action) or "")
        timeout = float(res.props.get(f"{action}_timeout", res.props.get("check_timeout", 10.0)))
        env = dict(os.environ)
        env.update(
            STANDFAST_TAG=res.tag,
            STANDFAST_ID=res.id,
            STANDFAST_SERVER=ctx.server,
            STANDFAST_ACTION=action,
        )
        result = run(shlex.split(cmd), timeout=timeout, env=env)
        if result.timed_out:
            raise StandfastError("190602", action=action, tag=res.tag, seconds=f"{timeout:g}")
        if result.returncode != 0:
            output = (result.stderr or result.stdout).strip()[-_OUTPUT_SHOWN:]
            raise StandfastError(
                "190601", action=action, tag=res.tag, status=result.returncode, output=output
            )

    def restore(self, ctx: KitContext, resource: Resource) -> None:
        self._run(ctx, resource, "restore")

    def remove(self, ctx: KitContext, resource: Resource) -> None:
        self._run(ctx, resource, "remove")

    def quick_check(self, ctx: KitContext, resource: Resource) -> CheckResult:
        if not resource.props.get("quick_check"):
            return CheckResult.good()
        try:
            self._run(ctx, resource, "quick_check")
        except HostStarved:
            raise  # the daemon's shortage, not the application's failure
        except StandfastError as exc:
            return CheckResult.bad("190417", tag=resource.tag, reason=exc.text("en"))
        return CheckResult.good()

    def recover(self, ctx: KitContext, resource: Resource) -> bool:
        if not resource.props.get("recover"):
            return False
        try:
            self._run(ctx, resource, "recover")
        except HostStarved:
            raise
        except StandfastError as exc:
            ctx.log.add("190417", tag=resource.tag, reason=exc.text("en"))
            return False
        return self.quick_check(ctx, resource).ok


def _require_executable(cmd: str, tag: str) -> None:
    argv = shlex.split(cmd)
    exe = argv[0]
    found = exe if "/" in exe else shutil.which(exe)
    if not found or not os.path.isfile(found) or not os.access(found, os.X_OK):
        raise StandfastError("190603", command=exe, tag=tag)
