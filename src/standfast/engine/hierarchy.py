"""Bringing hierarchies up and down on this server: the ordering rules and rollback.

Contracts:
- ``restore`` brings children up first; resources already in service are skipped
  (idempotent). On a failure it rolls back only what this call brought up, leaves the
  failed resource OSF and raises 000022 naming the hierarchy's root.
- ``remove`` takes parents down first; it goes on past a failed remove (that resource
  is left OSF) and returns False if anything failed. Resources already out of service
  are skipped unless they are to be left failed (``fail``).
- Every kit call is bounded (``EngineCore.kit_call``); callers hold the hierarchy's locks.
- Every action logs the catalogue's BEGIN/END lines in ``alog``.
- With an arbiter (quorum etcd), a hierarchy with nothing in service here is claimed
  before its first restore (refused: 199002/199003, nothing started) and released when
  all of it is out of service again (OSU; a failed remove keeps the claim, the
  resource may still run). A failed restore releases what it claimed.
"""

from __future__ import annotations

import logging
import time
from typing import Protocol

from standfast.engine.core import EngineCore
from standfast.kits.base import ActionLog
from standfast.messages import StandfastError
from standfast.model.states import State

log = logging.getLogger("standfast.engine")


class Holders(Protocol):
    """Who may run a hierarchy, granted from outside (``cluster/etcd_arbiter.py``)."""

    async def claim(self, equiv: str) -> None: ...

    async def release(self, equiv: str) -> None: ...


class HierarchyOps:
    def __init__(self, core: EngineCore) -> None:
        self.core = core
        self.holders: Holders | None = None

    def _roots(self, tags: set[str]) -> list[str]:
        graph = self.core.graph()
        return sorted({r for t in tags for r in graph.hierarchy_roots(t)})

    def _idle(self, root: str, *, failed_too: bool) -> bool:
        """Nothing of ``root``'s hierarchy runs here (OSF counts only if ``failed_too``)."""
        for tag in self.core.graph().hierarchy(root):
            st = self.core.state(tag)
            if st.in_service or (st is State.OSF and not failed_too):
                return False
        return True

    async def _claim(self, tags: set[str], alog: ActionLog) -> None:
        """Claim each hierarchy of ``tags`` that has nothing in service here; on a
        refusal, release what this call claimed and raise it."""
        if self.holders is None:
            return
        claimed: list[str] = []
        for root in self._roots(tags):
            if not self._idle(root, failed_too=True):
                continue
            equiv = self.core.resource(root).equiv
            try:
                await self.holders.claim(equiv)
            except StandfastError as exc:
                alog.add(exc.code, **exc.params)
                for done in claimed:
                    await self.holders.release(done)
                raise
            claimed.append(equiv)

    async def _release_idle(self, tags: set[str], *, failed_too: bool = False) -> None:
        if self.holders is None:
            return
        for root in self._roots(tags):
            if self._idle(root, failed_too=failed_too):
                await self.holders.release(self.core.resource(root).equiv)

    async def restore(
        self, tags: set[str], alog: ActionLog, *, steps: list[dict[str, object]] | None = None
    ) -> None:
        """Children first. ``steps`` receives each restore's start and end (wall clock)
        for timelines."""
        core = self.core
        graph = core.graph()
        started: list[str] = []
        await self._claim(tags, alog)
        for tag in graph.start_order(tags):
            if core.state(tag).in_service:
                continue
            res = core.resource(tag)
            alog.line(f'restore: BEGIN restore of "{tag}" on server "{core.server}"')
            began = time.time()
            try:
                await core.kit_call("restore", res, alog)
            except StandfastError as exc:
                alog.add(exc.code, **exc.params)
                alog.add("000023", tag=tag, server=core.server)
                core.set_state(tag, State.OSF, exc.code)
                await self._roll_back(started, alog)
                await self._release_idle(tags, failed_too=True)
                root = graph.hierarchy_roots(tag)[0]
                raise StandfastError("000022", tag=root, server=core.server) from None
            started.append(tag)
            if steps is not None:
                steps.append({"tag": tag, "kit": res.kit, "began": began, "ended": time.time()})
            core.set_state(tag, State.ISP)
            core.schedule_checks(tag)
            alog.line(f'restore: END successful restore of "{tag}" on server "{core.server}"')

    async def _roll_back(self, started: list[str], alog: ActionLog) -> None:
        for done in reversed(started):
            try:
                await self.core.kit_call("remove", self.core.resource(done), alog)
                self.core.set_state(done, State.OSU)
            except StandfastError as exc:
                alog.add(exc.code, **exc.params)
                self.core.set_state(done, State.OSF, exc.code)

    async def remove(self, tags: set[str], alog: ActionLog, *, fail: set[str]) -> bool:
        """Parents first. ``fail`` are the resources to leave OSF rather than OSU."""
        core = self.core
        ok = True
        for tag in core.graph().stop_order(tags):
            if not core.state(tag).in_service and tag not in fail:
                continue
            res = core.resource(tag)
            alog.line(f'remove: BEGIN remove of "{tag}" on server "{core.server}"')
            try:
                await core.kit_call("remove", res, alog)
            except StandfastError as exc:
                ok = False
                alog.add(exc.code, **exc.params)
                alog.line(f'remove: END failed remove of "{tag}" on server "{core.server}"')
                core.set_state(tag, State.OSF, exc.code)
                continue
            core.set_state(tag, State.OSF if tag in fail else State.OSU)
            alog.line(f'remove: END successful remove of "{tag}" on server "{core.server}"')
        await self._release_idle(tags)
        return ok

    async def release(self, hierarchy: set[str], reason: str) -> None:
        """Take a whole hierarchy down here (a switchover, a release to a peer, quorum
        loss), waiting up to SF_ACTION_TIMEOUT for its locks."""
        alog = ActionLog()
        async with self.core.hold(hierarchy, wait=self.core.tunables.SF_ACTION_TIMEOUT):
            # A peer's switchover asks every copy (one may be coming up); only a copy
            # that ran something makes a "released" event.
            ran = any(self.core.state(t).in_service for t in hierarchy)
            await self.remove(hierarchy, alog, fail=set())
        if ran:
            self.core.event("released", min(hierarchy), reason)

    async def stop_found(self, tags: set[str], reason: str) -> None:
        """Stop local copies found running that this server does not hold (their state
        says out of service): each kit's remove, parents first, under the hierarchy's
        locks. A failure leaves that resource OSF; nothing is raised."""
        core = self.core
        alog = ActionLog()
        hierarchy = core.graph().hierarchy(min(tags))
        try:
            async with core.hold(hierarchy, wait=core.tunables.SF_ACTION_TIMEOUT):
                for tag in core.graph().stop_order(tags):
                    alog.line(f'remove: BEGIN remove of "{tag}" on server "{core.server}"')
                    try:
                        await core.kit_call("remove", core.resource(tag), alog)
                    except StandfastError as exc:
                        alog.add(exc.code, **exc.params)
                        alog.line(f'remove: END failed remove of "{tag}" on server "{core.server}"')
                        core.set_state(tag, State.OSF, exc.code)
                        continue
                    core.set_state(tag, State.OSU, reason)
                    alog.line(f'remove: END successful remove of "{tag}" on server "{core.server}"')
        except StandfastError as exc:
            log.error(exc.text("en"))
        core.event("stopped_at_start", min(tags), reason)

    async def restore_quietly(self, tags: set[str], *, wait: float) -> None:
        """Restore on the engine's own initiative; a failure is logged, not raised."""
        alog = ActionLog()
        try:
            async with self.core.hold(self.core.graph().hierarchy(min(tags)), wait=wait):
                await self.restore(tags, alog)
        except StandfastError as exc:
            log.error(exc.text("en"))
