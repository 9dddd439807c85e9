"""A cluster member's side of the etcd arbiter (``"quorum": "etcd"``): what the arbiter
must hold for this server, what it does when etcd names another holder, and the view
of the arbiter that status and placement read. Without an arbiter every method is a
no-op (an empty status, no peer passed over).

Contracts: nothing here waits; a release on a conflict is spawned (the hierarchy's
locks, bounded by SF_ACTION_TIMEOUT, as every release).
"""

from __future__ import annotations

import logging

from standfast.engine.core import EngineCore
from standfast.engine.hierarchy import HierarchyOps
from standfast.engine.membership import Membership
from standfast.messages import Notice

log = logging.getLogger("standfast.engine")


class Arbitration:
    def __init__(self, core: EngineCore, hierarchy: HierarchyOps, members: Membership) -> None:
        self.core = core
        self.hierarchy = hierarchy
        self.members = members
        arbiter = members.arbiter
        if arbiter is not None:
            hierarchy.holders = arbiter
            arbiter.held = self.held_equivs
            arbiter.on_conflict = self.held_elsewhere

    def held_equivs(self) -> set[str]:
        """Hierarchies with something in service here (what the arbiter must hold)."""
        core = self.core
        out = set()
        for h in core.graph().hierarchies():
            if any(core.state(t).in_service for t in h):
                out |= {core.resource(r).equiv for r in core.graph().hierarchy_roots(min(h))}
        return out

    def held_elsewhere(self, equiv: str, holder: str) -> None:
        """etcd says another server holds a hierarchy running here: give it up (199010)."""
        core = self.core
        for h in core.graph().hierarchies():
            roots = core.graph().hierarchy_roots(min(h))
            if any(core.resource(r).equiv == equiv for r in roots):
                note = Notice.of("199010", tag=min(roots), server=core.server, holder=holder)
                log.error(note.text("en"))
                core.spawn(self.hierarchy.release(h, f"held by {holder} in etcd"))

    def peers_without_quorum(self, alive: frozenset[str]) -> frozenset[str]:
        """Live peers whose heartbeats say they hold no lease (placement passes over
        them); always empty without an arbiter, so other modes place as before."""
        if self.members.arbiter is None:
            return frozenset()
        out = set()
        for peer in alive - {self.core.server}:
            report = self.members.peer_report(peer)
            if report is not None and not report.quorum:
                out.add(peer)
        return frozenset(out)

    def status(self) -> dict[str, object]:
        """The arbiter's status with the holders by tag; empty without an arbiter."""
        arbiter = self.members.arbiter
        if arbiter is None:
            return {}
        status = arbiter.status()
        tags = {r.equiv: tag for (_, tag), r in self.core.config.resources.items()}
        holders = status.pop("holders")
        assert isinstance(holders, dict)
        status["holders"] = {tags.get(e, e): s for e, s in holders.items()}
        return status
