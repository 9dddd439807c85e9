"""What every part of the engine shares: this server's configuration and resource
states, the per-hierarchy locks, the action runner, the event history.

``EngineCore`` holds state and small primitives only; it decides nothing. The
collaborators built on it (``hierarchy``, ``loop``, ``actions``, the cluster parts)
each own one job and reach each other through it or through explicit references.

Contracts:
- ``hold`` locks every tag of a set in sorted order (no deadlock between holders) and
  raises 190204 when a lock is not free within ``wait`` seconds; it never waits longer.
- ``kit_call`` runs one kit action in the action runner, bounded by ``deadline``
  (SF_ACTION_TIMEOUT by default); an overrun raises 190207, the kit's refusals their
  own StandfastError.
- ``apply`` stores one versioned change (all or nothing: StandfastError and nothing
  stored) and then awaits every change listener (replication pushes it to peers). An
  operator's change (``guarded``, the default) first passes the change guard: a cluster
  member without quorum refuses it (193033), since a change made apart from the
  majority is replaced when the cluster is whole again (193016). Where a change needs
  acknowledging (``change_ack``: majority quorum, three servers or more), an
  operator's change is kept only once a majority holds it: at most PUSH_TIMEOUT later,
  or it is refused (193034) and this server's configuration goes back to the one
  before it, unless it adopted another meanwhile; until then peers are shown the one
  before (``published_config``), and such changes are made one at a time. An
  unguarded change is never refused for want of acknowledgements.
- ``set_state`` is idempotent: setting the state a resource already has records nothing.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from standfast.config.paths import Paths
from standfast.config.tunables import Tunables
from standfast.engine.events import EventLog
from standfast.engine.runner import ActionRunner
from standfast.engine.schedule import next_due
from standfast.kits.base import ActionLog, CheckResult, KitContext
from standfast.kits.registry import get_kit
from standfast.messages import StandfastError
from standfast.model.config import ClusterConfig, Operation
from standfast.model.graph import ServerGraph
from standfast.model.resources import Resource
from standfast.model.states import State
from standfast.store.database import Store

T = TypeVar("T")


class EngineCore:
    def __init__(self, server: str, store: Store, tunables: Tunables, paths: Paths) -> None:
        self.server = server
        self.store = store
        self.tunables = tunables
        self.paths = paths
        self.runner = ActionRunner()
        self.config = store.config()
        stored = store.states(server)
        self.states: dict[str, State] = {
            tag: stored[tag].state if tag in stored else State.OSU
            for (srv, tag) in self.config.resources
            if srv == server
        }
        self.reasons: dict[str, str] = {t: s.reason for t, s in stored.items()}
        # When each resource came into service (wall clock), for timelines and split-brain.
        self.stored_since: dict[str, float] = {
            t: s.updated for t, s in stored.items() if s.state.in_service
        }
        self.events = EventLog()
        self.started = time.time()
        # Check schedule (monotonic) and failures, written by the loop and hierarchy ops.
        self.next_quick: dict[str, float] = {}
        self.next_deep: dict[str, float] = {}
        self.failures: dict[str, CheckResult] = {}
        self.recovery_tried: set[str] = set()
        self.busy: set[str] = set()
        self._locks: dict[str, asyncio.Lock] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._change_listeners: list[Callable[[], Awaitable[int | None]]] = []
        #: Raises when an operator's change may not be stored now (ClusterMember: quorum).
        self.change_guard: Callable[[], None] | None = None
        #: Given how many servers hold an operator's change just stored (the listeners'
        #: count), raises when that is too few to keep it (ClusterMember: 193034).
        self.change_ack: Callable[[int], None] | None = None
        self._acknowledging = asyncio.Lock()  # one acknowledged change at a time
        # (before, made) while an operator's change waits for its acknowledgements.
        self._pending: tuple[ClusterConfig, ClusterConfig] | None = None

    # -- lookups -----------------------------------------------------------------------

    def context(self, alog: ActionLog | None = None) -> KitContext:
        return KitContext(self.server, self.tunables, self.paths, alog or ActionLog())

    def graph(self) -> ServerGraph:
        return self.config.graph(self.server)

    def resource(self, tag: str) -> Resource:
        """This server's resource ``tag``; 000019 when there is none."""
        return self.config.get(self.server, tag)

    def state(self, tag: str) -> State:
        return self.states.get(tag, State.OSU)

    # -- state and history ---------------------------------------------------------------

    def set_state(self, tag: str, state: State, reason: str = "") -> None:
        if self.states.get(tag) == state and self.reasons.get(tag, "") == reason:
            return
        self.states[tag] = state
        self.reasons[tag] = reason
        if state.in_service and tag not in self.stored_since:
            self.stored_since[tag] = time.time()
        elif not state.in_service:
            self.stored_since.pop(tag, None)
        self.store.set_state(self.server, tag, state, reason)
        self.event("state", tag, f"{state}" + (f" ({reason})" if reason else ""))

    def event(
        self, kind: str, tag: str, detail: str, data: dict[str, object] | None = None
    ) -> None:
        self.events.add(kind, tag, detail, data)

    def sync_states(self) -> None:
        """After the configuration changed: every local resource has a state, and
        resources that left the configuration have none."""
        for srv, tag in self.config.resources:
            if srv == self.server:
                self.states.setdefault(tag, State.OSU)
        for tag in [t for t in self.states if (self.server, t) not in self.config.resources]:
            del self.states[tag]

    def schedule_checks(self, tag: str) -> None:
        """A resource just came (back) into service: its checks start afresh, each on
        the tag's slot (``engine.schedule``): within one interval, at least half of
        one, so a hierarchy restored at once is not checked all in one cycle."""
        now = time.monotonic()
        self.next_quick[tag] = next_due(tag, self.tunables.SF_QUICKCHECK_INTERVAL, now)
        self.next_deep[tag] = next_due(tag, self.tunables.SF_DEEPCHECK_INTERVAL, now)
        self.failures.pop(tag, None)
        self.recovery_tried.discard(tag)

    def resume_checks(self, tag: str) -> None:
        """Maintenance ended for ``tag``: its quick check runs on the next cycle and its
        deep check one full interval later. A failure seen before maintenance began
        is kept, so it is handled now."""
        now = time.monotonic()
        self.next_quick[tag] = now
        self.next_deep[tag] = now + self.tunables.SF_DEEPCHECK_INTERVAL

    def since_roots(self) -> dict[str, float]:
        """When each in-service root came into service here (wall clock)."""
        out = {}
        for root in self.graph().roots():
            st = self.stored_since.get(root)
            if self.state(root).in_service and st is not None:
                out[root] = st
        return out

    # -- changes -------------------------------------------------------------------------

    def on_change(self, listener: Callable[[], Awaitable[int | None]]) -> None:
        """``listener`` is awaited after every change stored here; one that replicates it
        returns how many servers hold it (this one included), any other None."""
        self._change_listeners.append(listener)

    def published_config(self) -> ClusterConfig:
        """The configuration peers are told of (heartbeat reports, ``get_config``):
        while an operator's change waits for a majority, the one before it, so that no
        peer fetches a change that may yet be undone."""
        pending = self._pending
        if pending is not None and self.config is pending[1]:
            return pending[0]
        return self.config

    async def apply(self, ops: Sequence[Operation], *, guarded: bool = True) -> ClusterConfig:
        """Apply one versioned change here, then let the listeners (peers) know.
        ``guarded=False`` for what must be stored even apart from the majority: the
        engine's own bookkeeping, an operator's release, a restore from a backup."""
        if guarded and self.change_ack is not None:
            async with self._acknowledging:
                return await self._apply_acknowledged(ops, self.change_ack)
        if guarded and self.change_guard is not None:
            self.change_guard()
        self.config = self.store.apply(ops, origin=self.server)
        await self._tell_listeners()
        return self.config

    async def _apply_acknowledged(
        self, ops: Sequence[Operation], ack: Callable[[int], None]
    ) -> ClusterConfig:
        """An operator's change kept only if enough servers hold it (``change_ack``);
        otherwise (or if stopped while it waits: 193026) undone here, where this server
        still holds it."""
        if self.change_guard is not None:
            self.change_guard()
        before = self.config
        made = self.config = self.store.apply(ops, origin=self.server)
        self._pending = (before, made)
        try:
            holders = await self._tell_listeners()
            if holders is not None:
                ack(holders)
        except BaseException:
            if self.config is made:  # not when it adopted a peer's since
                self._roll_back(before, made)
            raise
        finally:
            self._pending = None
        return made

    async def _tell_listeners(self) -> int | None:
        """Await every listener; the fewest holders one counted (None: none counted)."""
        counts = [n for listener in self._change_listeners if (n := await listener()) is not None]
        return min(counts) if counts else None

    def _roll_back(self, before: ClusterConfig, made: ClusterConfig) -> None:
        self.config = self.store.roll_back(before)
        self.sync_states()
        self.event(
            "config",
            self.server,
            f"undid version {made.version}: back to version {before.version}",
            {"version": before.version, "undone": made.version},
        )

    def replace_config(self, config: ClusterConfig, origin: str) -> None:
        """Adopt a whole configuration (from a peer); no listener is told."""
        self.config = self.store.replace_config(config, origin=origin)

    # -- locks, actions, tasks -------------------------------------------------------------

    @asynccontextmanager
    async def hold(self, tags: set[str], *, wait: float) -> AsyncIterator[None]:
        """Lock every tag of a hierarchy, in sorted order so two holders never deadlock."""
        held: list[asyncio.Lock] = []
        try:
            for tag in sorted(tags):
                lock = self._locks.setdefault(tag, asyncio.Lock())
                try:
                    await asyncio.wait_for(lock.acquire(), timeout=wait)
                except TimeoutError:
                    raise StandfastError("190204", tag=min(tags)) from None
                held.append(lock)
            self.busy |= tags
            yield
        finally:
            self.busy -= tags
            for lock in held:
                lock.release()

    async def call(self, fn: Callable[[], T], *, action: str, tag: str, deadline: float) -> T:
        """Run blocking ``fn`` in the action runner, bounded by ``deadline``."""
        return await self.runner.call(fn, deadline=deadline, action=action, tag=tag)

    async def kit_call(
        self, action: str, res: Resource, alog: ActionLog, deadline: float | None = None
    ) -> Any:
        """``res``'s kit method ``action`` in the action runner (SF_ACTION_TIMEOUT unless
        ``deadline``); what the method returns."""
        kit = get_kit(res.kit)
        ctx = self.context(alog)
        fn = getattr(kit, action)
        return await self.runner.call(
            lambda: fn(ctx, res),
            deadline=deadline or self.tunables.SF_ACTION_TIMEOUT,
            action=action,
            tag=res.tag,
        )

    def spawn(self, coro: Coroutine[object, object, None]) -> None:
        """Run ``coro`` in the background for the daemon's life (cancelled at stop)."""
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def cancel_tasks(self) -> None:
        for t in self._tasks:
            t.cancel()
        self.runner.shutdown()
