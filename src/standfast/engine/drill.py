"""The switchover drill: ``standfast drill TAG`` moves a hierarchy to every server that
holds a copy, in priority order, checks it there with the kits' deep checks, and brings
it back to where it started, timing each move (the guide asks that every server be
tested after an extension).

Contracts:
- Refused (193030, nothing moved) unless the hierarchy is healthy everywhere: exactly
  one server holds it, every resource of it in service there (ISP), no copy failed
  (OSF) or degraded (ISU), every server with a copy alive, and at least two copies.
- Each move is the operator's in service on the target (the same rules as any
  switchover: quorum, the gate, the holder's release), asked of a peer over the peer
  channel (``drill_step``), so each is bounded by SF_ACTION_TIMEOUT.
- A move or a deep check that fails ends the drill: the hierarchy is brought back to
  where it started when that server can take it, and the report says which step failed
  and why. The report is kept as one ``drill`` event (the history, the GUI's timeline).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from standfast.engine.core import EngineCore
from standfast.kits.base import CheckResult
from standfast.kits.registry import get_kit
from standfast.messages import Notice, StandfastError
from standfast.model.states import State

if TYPE_CHECKING:
    from standfast.engine.actions import OperatorActions
    from standfast.engine.member import ClusterMember

log = logging.getLogger("standfast.engine")


@dataclass
class DrillReport:
    tag: str
    start: str
    steps: list[dict[str, Any]] = field(default_factory=list)
    ok: bool = True
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "tag": self.tag,
            "start": self.start,
            "ok": self.ok,
            "reason": self.reason,
            "steps": self.steps,
        }


class Drill:
    def __init__(self, core: EngineCore, member: ClusterMember, actions: OperatorActions) -> None:
        self.core = core
        self.member = member
        self.actions = actions
        member.handlers.register("drill_step", self._peer_step)

    async def run(self, tag: str) -> DrillReport:
        """The whole drill of ``tag``'s hierarchy (see the module contract)."""
        core = self.core
        root = core.graph().hierarchy_roots(tag)[0]
        equiv = core.resource(root).equiv
        copies = core.config.equivalents(equiv)
        holder = self._check_healthy(root, [(c.server, c.tag) for c in copies])
        report = DrillReport(root, holder)
        order = [c.server for c in copies if c.server != holder] + [holder]
        tags = {c.server: c.tag for c in copies}
        for server in order:
            step = await self._step(server, tags[server])
            report.steps.append(step)
            if not step["ok"]:
                report.ok, report.reason = False, f"{server}: {step['detail']}"
                if server != holder:
                    back = await self._step(holder, tags[holder])
                    back["return"] = True
                    report.steps.append(back)
                break
        summary = ", ".join(
            f"{s['server']} {s['seconds']:.2f} s{'' if s['ok'] else ' FAILED'}"
            for s in report.steps
        )
        core.event("drill", root, summary, report.to_dict())
        if report.ok:
            log.info(Notice.of("193031", tag=root, steps=summary).text("en"))
        else:
            notice = Notice.of("193032", tag=root, steps=summary, reason=report.reason)
            log.error(notice.text("en"))
        return report

    def _check_healthy(self, root: str, copies: list[tuple[str, str]]) -> str:
        """The one server holding the hierarchy; 193030 when anything is not healthy."""
        snap = self.member.snapshot()

        def refuse(reason: str) -> StandfastError:
            return StandfastError("193030", tag=root, reason=reason)

        if len(copies) < 2:
            raise refuse("it has no copy on another server (extend it first)")
        holders = []
        for server, copy_root in copies:
            if server not in snap.alive:
                raise refuse(f"server {server} is not alive")
            states = snap.states.get(server, {})
            tags = self.core.config.graph(server).hierarchy(copy_root)
            found = {states.get(t, State.OSU) for t in tags}
            if State.OSF in found or State.ISU in found:
                raise refuse(f"its copy on {server} is not healthy ({sorted(found)})")
            if found == {State.ISP}:
                holders.append(server)
            elif found != {State.OSU}:
                raise refuse(f"its copy on {server} is partly in service")
        if len(holders) != 1:
            raise refuse(f"it must be in service on exactly one server, not {holders or 'none'}")
        return holders[0]

    async def _step(self, server: str, tag: str) -> dict[str, Any]:
        began = time.monotonic()
        try:
            if server == self.core.server:
                result = await self.step_here(tag)
            else:
                result = await self.member.ask(server, "drill_step", {"tag": tag})
        except StandfastError as exc:
            result = {"ok": False, "detail": exc.text("en"), "checks": []}
        return {
            "server": server,
            "seconds": round(time.monotonic() - began, 3),
            "ok": bool(result.get("ok")),
            "detail": str(result.get("detail", "")),
            "checks": result.get("checks", []),
        }

    async def _peer_step(self, sender: str, params: dict[str, Any]) -> dict[str, Any]:
        tag = params.get("tag")
        if not isinstance(tag, str):
            raise StandfastError("190206", detail="drill_step needs a tag")
        try:
            return await self.step_here(tag)
        except StandfastError as exc:
            return {"ok": False, "detail": exc.text("en"), "checks": []}

    async def step_here(self, tag: str) -> dict[str, Any]:
        """Bring ``tag``'s hierarchy into service here, then deep-check each resource."""
        core = self.core
        await self.actions.in_service(tag)
        checks = []
        ok = True
        for t in core.graph().start_order(core.graph().hierarchy(tag)):
            res = core.resource(t)
            kit = get_kit(res.kit)
            ctx = core.context()
            try:
                result: CheckResult = await core.call(
                    partial(kit.deep_check, ctx, res),
                    deadline=float(core.tunables.LKNFSTIMEOUT) + 5.0,
                    action="check",
                    tag=t,
                )
            except StandfastError as exc:
                result = CheckResult(False, exc.code, exc.params)
            notice = result.notice()
            checks.append({"tag": t, "ok": result.ok, "code": result.code})
            if not result.ok:
                ok = False
                detail = notice.text("en") if notice is not None else result.code
                return {"ok": False, "detail": f"deep check of {t}: {detail}", "checks": checks}
        return {"ok": ok, "detail": "", "checks": checks}
