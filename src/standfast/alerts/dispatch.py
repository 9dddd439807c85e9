"""The alert dispatcher: one queue and one worker per recipient, so a slow or failing
recipient delays only its own later alerts, never another recipient, never the daemon.

Contracts:
- ``offer`` (the event listener's work) only maps and appends: it never blocks, never
  raises, and is safe to call from any thread.
- A queue holds at most ``queue_limit`` alerts; when full the oldest is dropped and
  logged (197007).
- Each attempt runs in this dispatcher's own thread pool under an outer deadline of the
  recipient's timeout plus ``OUTER_MARGIN``; a failed attempt is logged (197005) and
  retried after ``backoff[i]`` seconds; after the last one the alert is given up
  (197006). A delivery is logged 197009.
- ``test`` sends one test alert to every recipient (or one) at once, one attempt each,
  and returns per recipient whether it was delivered; bounded by the largest timeout.
- ``stop`` cancels the workers at once; an attempt already in a thread runs to its own
  timeout (the interpreter joins pool threads at exit, so a daemon's exit may wait that
  long, never more).
- ``replace`` swaps the recipients: a changed recipient keeps its queue, a removed one's
  queue is dropped, a new one gets a worker.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from standfast.alerts.config import AlertSet, Recipient
from standfast.alerts.deliver import DeliveryError, deliver
from standfast.alerts.events import Alert
from standfast.engine.metrics import record_alert_delivery
from standfast.messages import Notice

log = logging.getLogger("standfast.alerts")

BACKOFF: tuple[float, ...] = (1.0, 2.0, 4.0)  # seconds before the 2nd, 3rd and 4th try
QUEUE_LIMIT = 100
OUTER_MARGIN = 5.0  # beyond a recipient's own timeout (a child's kill wait, TLS close)
POOL_SIZE = 8

Deliver = Callable[[Recipient, Alert, int], str]


class _Worker:
    def __init__(self, recipient: Recipient, limit: int) -> None:
        self.recipient = recipient
        self.queue: deque[Alert] = deque()
        self.limit = limit
        self.ready = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    def put(self, alert: Alert) -> None:
        if len(self.queue) >= self.limit:
            dropped = self.queue.popleft()
            record_alert_delivery(self.recipient.name, "dropped")
            log.warning(
                Notice.of(
                    "197007", name=self.recipient.name, limit=self.limit, kind=dropped.kind
                ).text("en")
            )
        self.queue.append(alert)
        self.ready.set()


class AlertDispatcher:
    def __init__(
        self,
        alerts: AlertSet,
        *,
        send: Deliver = deliver,
        backoff: tuple[float, ...] = BACKOFF,
        queue_limit: int = QUEUE_LIMIT,
    ) -> None:
        self.alerts = alerts
        self._send = send
        self._backoff = backoff
        self._limit = queue_limit
        self._workers: dict[str, _Worker] = {}
        self._pool = ThreadPoolExecutor(max_workers=POOL_SIZE, thread_name_prefix="sf-alert")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending: list[Alert] = []  # offered before start
        self._lock = threading.Lock()
        #: Per recipient: alerts delivered and given up (for status and tests).
        self.delivered: dict[str, int] = {}
        self.given_up: dict[str, int] = {}

    # -- life cycle -----------------------------------------------------------------

    def start(self) -> None:
        """Start the workers (in the running event loop)."""
        self._loop = asyncio.get_running_loop()
        self._sync_workers()
        with self._lock:
            pending, self._pending = self._pending, []
        for alert in pending:
            self._enqueue(alert)

    def stop(self) -> None:
        """Cancel the workers; returns at once (a thread in flight ends at its timeout)."""
        for w in self._workers.values():
            if w.task is not None:
                w.task.cancel()
        self._workers.clear()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def replace(self, alerts: AlertSet) -> None:
        """New recipients (call in the event loop)."""
        self.alerts = alerts
        if self._loop is not None:
            self._sync_workers()

    def _sync_workers(self) -> None:
        wanted = {r.name: r for r in self.alerts.recipients}
        for name in list(self._workers):
            if name not in wanted:
                w = self._workers.pop(name)
                if w.task is not None:
                    w.task.cancel()
        for name, r in wanted.items():
            if name not in self._workers:
                new = _Worker(r, self._limit)
                new.task = asyncio.create_task(self._run(new), name=f"alert-{name}")
                self._workers[name] = new
            self._workers[name].recipient = r

    # -- intake ---------------------------------------------------------------------

    def offer(self, alert: Alert) -> None:
        """Queue ``alert`` for every recipient that subscribes to its kind; returns at
        once, from any thread."""
        loop = self._loop
        if loop is None:
            with self._lock:
                self._pending = [*self._pending[-self._limit + 1 :], alert]
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._enqueue(alert)
        else:
            loop.call_soon_threadsafe(self._enqueue, alert)

    def _enqueue(self, alert: Alert) -> None:
        for w in self._workers.values():
            if w.recipient.wants(alert.kind):
                w.put(alert)

    # -- delivery -------------------------------------------------------------------

    async def attempt(self, recipient: Recipient, alert: Alert, attempt: int) -> str:
        """One attempt in the pool under the outer deadline; DeliveryError on failure."""
        loop = asyncio.get_running_loop()
        fut = loop.run_in_executor(self._pool, self._send, recipient, alert, attempt)
        try:
            return await asyncio.wait_for(fut, recipient.timeout + OUTER_MARGIN)
        except TimeoutError:
            raise DeliveryError(f"no answer within {recipient.timeout:g} s") from None
        except DeliveryError:
            raise
        except Exception as exc:  # a bug in a sender must not end the worker
            raise DeliveryError(f"{type(exc).__name__}: {exc}") from None

    async def _run(self, w: _Worker) -> None:
        while True:
            await w.ready.wait()
            if not w.queue:
                w.ready.clear()
                continue
            alert = w.queue.popleft()
            await self._deliver(w, alert)

    async def _deliver(self, w: _Worker, alert: Alert) -> None:
        attempts = len(self._backoff) + 1
        for n in range(1, attempts + 1):
            r = w.recipient
            started = time.monotonic()
            try:
                await self.attempt(r, alert, n)
            except DeliveryError as exc:
                if n == attempts:
                    log.error(
                        Notice.of(
                            "197006", kind=alert.kind, name=r.name, attempts=attempts, reason=exc
                        ).text("en")
                    )
                    self.given_up[r.name] = self.given_up.get(r.name, 0) + 1
                    record_alert_delivery(r.name, "failed")
                    return
                delay = self._backoff[n - 1]
                log.warning(
                    Notice.of(
                        "197005",
                        kind=alert.kind,
                        name=r.name,
                        attempt=n,
                        attempts=attempts,
                        reason=exc,
                        delay=f"{delay:g}",
                    ).text("en")
                )
                await asyncio.sleep(delay)
                continue
            seconds = f"{time.monotonic() - started:.2f}"
            log.info(Notice.of("197009", kind=alert.kind, name=r.name, seconds=seconds).text("en"))
            self.delivered[r.name] = self.delivered.get(r.name, 0) + 1
            record_alert_delivery(r.name, "sent")
            return

    async def test(self, alert: Alert, name: str | None = None) -> dict[str, dict[str, object]]:
        """``alert`` (a test event) to every recipient, or to ``name``, one attempt each,
        all at once: ``{name: {"delivered": bool, "detail": str}}``."""
        targets = [self.alerts.get(name)] if name is not None else list(self.alerts.recipients)

        async def one(r: Recipient) -> dict[str, object]:
            try:
                detail = await self.attempt(r, alert, 1)
            except DeliveryError as exc:
                log.warning(
                    Notice.of(
                        "197005",
                        kind=alert.kind,
                        name=r.name,
                        attempt=1,
                        attempts=1,
                        reason=exc,
                        delay="-",
                    ).text("en")
                )
                return {"type": r.type, "delivered": False, "detail": str(exc)}
            log.info(Notice.of("197009", kind=alert.kind, name=r.name, seconds="-").text("en"))
            return {"type": r.type, "delivered": True, "detail": detail}

        results = await asyncio.gather(*(one(r) for r in targets))
        return {r.name: res for r, res in zip(targets, results, strict=True)}

    async def drain(self, timeout: float) -> bool:
        """Wait (at most ``timeout`` s) until every queue is empty; for tests."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(not w.queue and not w.ready.is_set() for w in self._workers.values()):
                return True
            await asyncio.sleep(0.02)
        return False


__all__ = ["BACKOFF", "AlertDispatcher"]
