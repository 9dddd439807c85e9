"""Switchover and out of service across servers: what an operator action does to the
other servers' copies before it acts here.

Contracts: every peer is asked (not read from heartbeats, which may be one interval
old); an unreachable holder refuses the action with 193010 before anything changed
here except the recorded target; each release waits for the holder to finish.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from standfast.engine.core import EngineCore
from standfast.engine.membership import Membership
from standfast.kits.base import ActionLog
from standfast.model.config import Operation, SetTarget, Target
from standfast.model.states import State

Ask = Callable[[str, str, dict[str, Any]], Awaitable[dict[str, Any]]]


class Switchover:
    def __init__(
        self, core: EngineCore, members: Membership, ask: Ask, publish: Callable[[], None]
    ) -> None:
        self.core = core
        self.members = members
        self.ask = ask
        self.publish = publish

    def root_equivs(self, tag: str) -> list[tuple[str, str]]:
        """(equivalency, root tag) of every hierarchy root above ``tag`` here."""
        core = self.core
        return [(core.resource(r).equiv, r) for r in core.graph().hierarchy_roots(tag)]

    async def before_in_service(self, tag: str, alog: ActionLog) -> None:
        core = self.core
        roots = self.root_equivs(tag)
        ops: list[Operation] = [
            SetTarget(equiv, True, core.server)
            for equiv, _ in roots
            if core.config.target(equiv) != Target(True, core.server)
        ]
        if ops:
            await core.apply(ops)
        serving = {equiv: await self.serving_elsewhere(equiv) for equiv, _ in roots}
        moving = any(serving.values())
        failed_here = [t for t in core.graph().hierarchy(tag) if core.states.get(t) == State.OSF]
        if moving and failed_here:
            # This copy was failed (OSF): the holder's placement would skip it and take
            # the hierarchy back as soon as it lets go. Clear it first and let every
            # peer hear that before asking for the switchover.
            for t in failed_here:
                core.set_state(t, State.OSU, "operator in service")
            self.publish()
            await asyncio.sleep(2 * self.members.definition.heartbeat.interval + 0.2)
        for equiv, root in roots:
            for holder in serving[equiv]:
                alog.add("193018", tag=root, source=holder, target=core.server)
                await self.ask(holder, "release", {"equiv": equiv})
                core.event("switchover", root, f"{holder} -> {core.server}")

    async def before_out_of_service(self, tag: str, alog: ActionLog) -> None:
        core = self.core
        roots = self.root_equivs(tag)
        ops: list[Operation] = [
            SetTarget(e, False, core.config.target(e).server)
            for e, _ in roots
            if core.config.wanted(e)
        ]
        if ops:
            await core.apply(ops, guarded=False)  # taking down is never refused
        for equiv, _root in roots:
            for holder in await self.serving_elsewhere(equiv):
                await self.ask(holder, "release", {"equiv": equiv})

    async def serving_elsewhere(self, equiv: str) -> list[str]:
        """Live peers whose copy is in service, asked now: a heartbeat's view can be one
        interval old, too old for a switchover decision."""
        core = self.core
        out = []
        alive = self.members.alive()
        for copy in core.config.equivalents(equiv):
            if copy.server == core.server or copy.server not in alive:
                continue
            reply = await self.ask(copy.server, "states", {})
            if State(reply["states"].get(copy.tag, "OSU")).in_service:
                out.append(copy.server)
        return out
