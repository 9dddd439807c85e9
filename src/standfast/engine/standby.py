"""Standby copies made ready for a takeover (issue 12, item 2).

A server that holds a copy of a hierarchy may have to bring it into service at any
moment; whatever the restore would wait for besides the action itself (an NFS
copy: the client modules, rpc.statd, the mount point) is done ahead, by the kit's
``prepare``, when the daemon starts and whenever it gains a copy or a copy changes.

Contracts:
- ``cycle()`` is called once per control-loop cycle and returns at once: it does
  work only when the configuration object changed or a retry fell due; the
  preparations themselves run in the action runner, off the loop, one at a time
  (one worker of the runner at most), each bounded by PREPARE_DEADLINE.
- Never under a hierarchy's lock and never changes a state: a takeover running at
  the same time simply does the remaining work itself (every kit's ``prepare`` is
  idempotent and safe beside its ``restore``).
- A copy that could not be prepared is logged once per reason (190422, WARNING) and
  tried again after RETRY_AFTER; one prepared with something done is logged once
  (190423, INFO); one that needed nothing is not logged.
"""

from __future__ import annotations

import logging
import math
import time

from standfast.engine.core import EngineCore
from standfast.kits.base import ActionLog, Kit
from standfast.kits.registry import get_kit
from standfast.messages import Notice, StandfastError
from standfast.model.config import ClusterConfig
from standfast.model.resources import Resource

log = logging.getLogger("standfast.engine")

#: Seconds before a copy that could not be prepared is tried again.
RETRY_AFTER = 300.0
#: Outer bound of one copy's preparation (its commands have their own, shorter ones).
PREPARE_DEADLINE = 120.0


def _prepares(kit: Kit) -> bool:
    return type(kit).prepare is not Kit.prepare


class StandbyPreparer:
    """Runs every local copy's ``Kit.prepare`` once per version of that copy."""

    def __init__(self, core: EngineCore) -> None:
        self.core = core
        #: tag -> the resource as last prepared (a changed copy is prepared again).
        self.prepared: dict[str, Resource] = {}
        #: tag -> the version waiting its turn; one task drains it, one copy at a time,
        #: so preparations never take more than one of the runner's workers.
        self._queue: dict[str, Resource] = {}
        self._current: Resource | None = None
        self._draining = False
        self._retry_at: dict[str, float] = {}
        self._said: dict[str, str] = {}  # tag -> the last 190422 reason logged
        self._seen: ClusterConfig | None = None
        self._next_retry = math.inf

    def cycle(self) -> None:
        now = time.monotonic()
        config = self.core.config
        if config is self._seen and now < self._next_retry:
            return
        self._seen = config
        self._next_retry = math.inf
        local = config.graph(self.core.server).resources
        for tag in [t for t in self.prepared if t not in local]:
            del self.prepared[tag]  # unextended or deleted: a new copy starts afresh
        for tag, res in local.items():
            if res in (self.prepared.get(tag), self._queue.get(tag), self._current):
                continue
            if not _prepares(get_kit(res.kit)):
                continue
            retry_at = self._retry_at.get(tag, 0.0)
            if now < retry_at:
                self._next_retry = min(self._next_retry, retry_at)
                continue
            self._queue[tag] = res
        if self._queue and not self._draining:
            self._draining = True
            self.core.spawn(self._drain())

    async def _drain(self) -> None:
        try:
            while self._queue:
                self._current = self._queue.pop(next(iter(self._queue)))
                await self._prepare(self._current)
        finally:
            self._current = None
            self._draining = False

    async def _prepare(self, res: Resource) -> None:
        try:
            done: list[str] = await self.core.kit_call(
                "prepare", res, ActionLog(), PREPARE_DEADLINE
            )
        except Exception as exc:  # any failure only leaves the takeover slower
            self._failed(res, exc)
            return
        self.prepared[res.tag] = res
        self._retry_at.pop(res.tag, None)
        self._said.pop(res.tag, None)
        if done:
            notice = Notice.of("190423", tag=res.tag, server=self.core.server, done=", ".join(done))
            log.info(notice.text("en"))

    def _failed(self, res: Resource, exc: Exception) -> None:
        if isinstance(exc, StandfastError) and exc.code == "190422":
            reason = str(exc.params.get("reason", ""))
        else:
            reason = str(exc) or type(exc).__name__
        retry_at = time.monotonic() + RETRY_AFTER
        self._retry_at[res.tag] = retry_at
        self._next_retry = min(self._next_retry, retry_at)
        if self._said.get(res.tag) != reason:
            self._said[res.tag] = reason
            notice = Notice.of("190422", tag=res.tag, server=self.core.server, reason=reason)
            log.warning(notice.text("en"))


__all__ = ["PREPARE_DEADLINE", "RETRY_AFTER", "StandbyPreparer"]
