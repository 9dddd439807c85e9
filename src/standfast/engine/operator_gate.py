"""The cluster side of operator actions: the failover gate for an operator's in
service, quorum-loss preemption of actions waiting on peers, failover confirmations.

Contracts: ``before_in_service`` raises 193022 without quorum and 193023 when the gate
says wait or a fence it asked for failed (nothing has changed then); a fence it runs
is never preempted. ``preempt`` is called once quorum is lost and cancels only the
waits on peers of actions under way (they end with 193026), never a kit action.
``answer_failover`` is idempotent per answer and raises 000019 when nothing is pending.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from standfast.engine.gate import Verdict, gate
from standfast.engine.placement import Placement, PlacementKind
from standfast.kits.base import ActionLog
from standfast.messages import StandfastError

if TYPE_CHECKING:
    from standfast.engine.member import ClusterMember


class OperatorGate:
    def __init__(self, member: ClusterMember) -> None:
        self.m = member
        #: Operator actions talking to peers while they hold a hierarchy's locks: quorum
        #: loss stops them (``preempt``), so that nothing delays giving the hierarchy up.
        self._talking: dict[asyncio.Task[Any], str] = {}
        self._preempted: set[asyncio.Task[Any]] = set()

    async def before_in_service(self, tag: str, alog: ActionLog) -> None:
        """An operator's in service obeys the rules a failover obeys (the gate): quorum,
        the previous holder's fate (fenced first, or its partition or watchdog waited
        for); the operator's request is itself the failover confirmation. Quorum lost
        while it waits for peers stops it with 193026 (see ``preempt``)."""
        await self._check(tag)  # a fence it runs is not preempted
        async with self._preemptible(tag):
            await self.m.switchover.before_in_service(tag, alog)

    async def before_out_of_service(self, tag: str, alog: ActionLog) -> None:
        async with self._preemptible(tag):
            await self.m.switchover.before_out_of_service(tag, alog)

    @asynccontextmanager
    async def _preemptible(self, tag: str) -> AsyncIterator[None]:
        """Run an operator action's talk with peers so that quorum loss can stop it.

        The action holds the hierarchy's locks while peers answer (up to PUSH_TIMEOUT or
        SF_ACTION_TIMEOUT); the quorum-loss release needs those locks, and the majority
        takes over a short, fixed time after this server stops being counted. Only the
        waits on peers are preempted, never a kit action, whose child would outlive its
        cancelled caller."""
        task = asyncio.current_task()
        if task is None:  # pragma: no cover - always inside a task under asyncio
            yield
            return
        self._talking[task] = tag
        try:
            yield
        except asyncio.CancelledError:
            if task not in self._preempted:
                raise
            task.uncancel()
            _, present, needed = self.m.members.quorum()
            raise StandfastError(
                "193026", tag=tag, server=self.m.core.server, votes=present, needed=needed
            ) from None
        finally:
            self._talking.pop(task, None)
            self._preempted.discard(task)

    def preempt(self) -> None:
        """Quorum is lost: stop every operator action waiting for peers here."""
        for task in list(self._talking):
            if not task.done():
                self._preempted.add(task)
                task.cancel()

    async def _check(self, tag: str) -> None:
        m = self.m
        server = m.core.server
        snap = m.snapshot()
        if not snap.quorum:
            q = snap.quorum_status
            raise StandfastError("193022", tag=tag, server=server, votes=q.votes, needed=q.needed)
        facts = replace(
            m.gate_facts(snap, time.monotonic()),
            settled=m.members.settled(),
            quiet_until=0.0,
            hold_off={},
            confirm_timeout=None,
            arbiter_holders=None,  # the switchover releases the holder first
        )
        for equiv, root in m.switchover.root_equivs(tag):
            decision = gate(
                Placement(PlacementKind.RESTORE, equiv, root, server), m.core.config, facts
            )
            if decision.verdict is Verdict.WAIT:
                raise StandfastError("193023", tag=root, server=server, reason=decision.reason)
            if decision.verdict is Verdict.FENCE and not await m.executor.fence(decision.previous):
                raise StandfastError(
                    "193023",
                    tag=root,
                    server=server,
                    reason=f"fencing of {decision.previous} failed",
                )

    def answer_failover(self, tag: str, answer: str) -> dict[str, object]:
        """The operator's answer to a pending failover confirmation."""
        if answer not in ("proceed", "block"):
            raise StandfastError("190206", detail="answer must be proceed or block")
        book = self.m.book
        for equiv, pending in book.confirmations.items():
            if pending.tag == tag:
                book.confirmations[equiv] = replace(pending, answer=answer)
                self.m.core.event("confirm_answer", tag, answer)
                return {"tag": tag, "answer": answer}
        raise StandfastError("000019")

    def pending_confirmations(self) -> list[dict[str, object]]:
        now = time.monotonic()
        return [
            {
                "tag": p.tag,
                "from": p.previous,
                "answer": p.answer,
                "seconds_left": max(0.0, round(p.deadline - now, 1)),
            }
            for p in self.m.book.confirmations.values()
        ]
