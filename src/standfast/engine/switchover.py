"""Switchover and out of service across servers: what an operator action does to the
other servers' copies before it acts here.

Contracts: every peer is asked (not read from heartbeats, which may be one interval
old). An in service first asks every live peer with a copy for its states, at once:
an unreachable one refuses the action with 193010 before anything changed. Then it
records the target and asks every live peer with a copy to release the hierarchy, at
once; a release waits for the peer's locks, so a copy coming into service there (a
failover under way) is taken down too, not only one already in service. A release that
fails puts the previous target back (found by bench/chaos.py, seed 248: a refused in
service that kept its target let placement restore beside the holder).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from standfast.engine.core import EngineCore
from standfast.engine.membership import Membership
from standfast.kits.base import ActionLog
from standfast.messages import StandfastError
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
        serving = await self.serving_elsewhere([equiv for equiv, _ in roots])
        previous = {equiv: core.config.target(equiv) for equiv, _ in roots}
        ops: list[Operation] = [
            SetTarget(equiv, True, core.server)
            for equiv, _ in roots
            if previous[equiv] != Target(True, core.server)
        ]
        if ops:
            await core.apply(ops)
        try:
            await self._take_over(tag, roots, serving, alog)
        except StandfastError:
            # Not on cancellation (quorum lost, 193026): the release that follows must
            # not wait for a push, and placement gives nothing to a server without quorum.
            await self._put_back(previous)
            raise

    async def _take_over(
        self,
        tag: str,
        roots: list[tuple[str, str]],
        serving: dict[str, list[str]],
        alog: ActionLog,
    ) -> None:
        core = self.core
        failed_here = [t for t in core.graph().hierarchy(tag) if core.states.get(t) == State.OSF]
        if any(serving.values()) and failed_here:
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
            await self.release_everywhere(equiv)
            for holder in serving[equiv]:
                core.event("switchover", root, f"{holder} -> {core.server}")

    async def _put_back(self, previous: dict[str, Target]) -> None:
        """Undo this action's target change where nothing else changed it since."""
        core = self.core
        ops: list[Operation] = [
            SetTarget(equiv, was.in_service, was.server)
            for equiv, was in previous.items()
            if was != core.config.target(equiv)
            and core.config.target(equiv) == Target(True, core.server)
        ]
        if ops:
            await core.apply(ops, guarded=False)  # the undo of a refused action

    async def release_everywhere(self, equiv: str) -> None:
        """Ask every live peer with a copy to release it, at once; raises the first
        error (193010, 193020) after every answer came."""
        await self._ask_all(self._live_copies([equiv]), "release", {"equiv": equiv})

    def _live_copies(self, equivs: list[str]) -> list[str]:
        """The live peers holding a copy of any of ``equivs``, in name order."""
        core = self.core
        alive = self.members.alive()
        return sorted(
            {
                c.server
                for equiv in equivs
                for c in core.config.equivalents(equiv)
                if c.server != core.server and c.server in alive
            }
        )

    async def _ask_all(
        self, peers: list[str], method: str, params: dict[str, Any]
    ) -> dict[str, dict[str, Any]]:
        """peer -> its answer, every peer asked at once; the first error (193010,
        193020) is raised once every peer has answered or failed."""
        replies = await asyncio.gather(
            *(self.ask(p, method, params) for p in peers), return_exceptions=True
        )
        out: dict[str, dict[str, Any]] = {}
        for peer, reply in zip(peers, replies, strict=True):
            if isinstance(reply, BaseException):
                raise reply
            out[peer] = reply
        return out

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
        serving = await self.serving_elsewhere([equiv for equiv, _ in roots])
        for equiv, _root in roots:
            for holder in serving[equiv]:
                await self.ask(holder, "release", {"equiv": equiv})

    async def serving_elsewhere(self, equivs: list[str]) -> dict[str, list[str]]:
        """equivalency -> the live peers whose copy is in service, every peer with a copy
        asked now and at once: a heartbeat's view can be one interval old, too old for a
        switchover decision. Raises 193010 for a live peer that does not answer."""
        replies = await self._ask_all(self._live_copies(equivs), "states", {})
        states = {peer: reply["states"] for peer, reply in replies.items()}
        core = self.core
        return {
            equiv: [
                c.server
                for c in core.config.equivalents(equiv)
                if c.server in states and State(states[c.server].get(c.tag, "OSU")).in_service
            ]
            for equiv in equivs
        }
