"""A cluster member's clean stop: it hands its hierarchies over before its daemon exits.

Why: the units stop the daemon alone (``KillMode=process``) and a peer cannot tell a
silent server from a crashed one. A daemon that exited leaving its applications running
was declared failed 1.5 s later and its hierarchies were started elsewhere; without
fencing both ran (the vm lab's NAS ledger showed two writers for 56 s). Pacemaker moves
the resources off a node whose cluster stack stops; so does Standfast.

``Departure.leave`` (SIGTERM, ``systemctl stop`` or ``restart``):

1. From now on this server's heartbeat report says ``leaving``: its peers place nothing
   here, and restore none of its hierarchies while any resource of it is in service or
   failed here (``placement.still_stopping``).
2. Every hierarchy with something in service here is released (parents first), except
   those in maintenance: nothing moves in maintenance, they stay running (198204) and
   the restarted daemon finds them.
3. The final states go out on every comm path at once. A peer that hears a hierarchy
   wholly out of service (OSU) here while this server is leaving notes it as left clean
   (``note``); its gate then restores it at once (rule ``left``): no fence, watchdog
   wait or confirmation, because this server runs none of it. When this server falls
   silent its peers log 198205 (left), not 191007 (failed).

Whatever is still in service or failed here when the stop ends is logged (198203); for
those the peers apply the rules of a failure once this server is silent.

Contracts: ``leave`` is bounded by its ``timeout`` (SF_STOP_TIMEOUT) as a whole, never
raises, and is idempotent. ``note`` is pure bookkeeping, once per cycle. Peers running
an older release ignore ``leaving``: they restore a released hierarchy once its root is
out of service here (their rule before) and count this server failed when it is silent.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from standfast.engine.core import EngineCore
from standfast.engine.failover import TakeoverBook
from standfast.engine.hierarchy import HierarchyOps
from standfast.engine.membership import Membership
from standfast.messages import Notice
from standfast.model.states import State

log = logging.getLogger("standfast.engine")

LAST_WORDS = 3  # datagrams of the final report on every path, LAST_WORD_GAP apart
LAST_WORD_GAP = 0.1  # seconds


class Departure:
    def __init__(
        self,
        core: EngineCore,
        hierarchy: HierarchyOps,
        members: Membership,
        book: TakeoverBook,
        publish: Callable[[], None],
    ) -> None:
        self.core = core
        self.hierarchy = hierarchy
        self.members = members
        self.book = book
        self.publish = publish
        self.leaving = False

    def _running(self) -> list[set[str]]:
        """This server's hierarchies with something in service or failed here."""
        core = self.core
        return [
            h
            for h in core.graph().hierarchies()
            if any((s := core.state(t)).in_service or s is State.OSF for t in h)
        ]

    def _roots(self, hierarchies: list[set[str]]) -> str:
        graph = self.core.graph()
        return ", ".join(sorted({r for h in hierarchies for r in graph.roots() if r in h}))

    def _say(self) -> None:
        """This server's report, on every path now (not at the next beat)."""
        self.publish()
        self.members.heartbeat.send_now()

    async def leave(self, timeout: float) -> None:
        core = self.core
        self.leaving = True
        self._say()
        began = time.monotonic()
        running = self._running()
        kept = [h for h in running if core.config.in_maintenance(core.resource(min(h)).equiv)]
        doomed = [h for h in running if h not in kept]
        if kept:
            log.info(Notice.of("198204", server=core.server, tags=self._roots(kept)).text("en"))
        reason = ""
        if doomed:
            tags = self._roots(doomed)
            log.info(
                Notice.of("198201", server=core.server, count=len(doomed), tags=tags).text("en")
            )
            try:
                async with asyncio.timeout(timeout):
                    await asyncio.gather(
                        *(self.hierarchy.release(h, "daemon stopping") for h in doomed),
                        return_exceptions=True,
                    )
            except TimeoutError:
                reason = f"the stop's time limit of {timeout:g} s passed"
        left = [h for h in self._running() if h not in kept]
        if left:
            log.warning(
                Notice.of(
                    "198203",
                    server=core.server,
                    tags=self._roots(left),
                    reason=reason or "a resource is failed (OSF) and may still run",
                ).text("en")
            )
        elif doomed:
            seconds = f"{time.monotonic() - began:.2f}"
            tags = self._roots(doomed)
            log.info(Notice.of("198202", server=core.server, tags=tags, seconds=seconds).text("en"))
        for _ in range(LAST_WORDS):
            self._say()
            await asyncio.sleep(LAST_WORD_GAP)

    def note(self) -> None:
        """Which hierarchies a live peer that is stopping has wholly taken down
        (``book.left_clean``); a peer heard again without stopping clears its entries.
        Entries of a peer that fell silent stay: that is what they are for."""
        core, book = self.core, self.book
        config = core.config
        for peer in self.members.alive() - {core.server}:
            report = self.members.peer_report(peer)
            if report is None or not report.leaving:
                for equiv in [e for e, s in book.left_clean.items() if s == peer]:
                    del book.left_clean[equiv]
                continue
            graph = config.graph(peer)
            states = report.states_of(graph.resources)
            for root in graph.roots():
                equiv = graph.resources[root].equiv
                if all(states.get(t, State.OSU) is State.OSU for t in graph.hierarchy(root)):
                    book.left_clean[equiv] = peer
                elif book.left_clean.get(equiv) == peer:
                    del book.left_clean[equiv]
