"""The engine's event history: what happened, in order, for the CLI, the GUI's
timeline and tests (which assert on ``kind`` and ``data``, never on ``detail``).

Kept in memory, newest ``LIMIT`` entries; appending never blocks or fails.

At start the daemon preloads the newest records of the lasting history
(``store.history``), so the timeline survives a restart.

Listeners (``subscribe``) see every record as it is added: the lasting history, the
alert dispatcher and the metrics each subscribe. Contract for a listener: it runs in the
caller's thread (the control loop), so it must return at once (queue any slow work); an
exception it raises is logged and never reaches the code that recorded the event.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

LIMIT = 500

log = logging.getLogger(__name__)


@dataclass
class EventRecord:
    ts: float  # wall clock
    kind: str
    tag: str
    detail: str
    data: dict[str, object] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return {
            "ts": self.ts,
            "kind": self.kind,
            "tag": self.tag,
            "detail": self.detail,
            "data": self.data,
        }


EventListener = Callable[[EventRecord], None]


class EventLog:
    """Append-only, bounded history."""

    def __init__(self, limit: int = LIMIT) -> None:
        self._limit = limit
        self._records: list[EventRecord] = []
        self._listeners: list[EventListener] = []

    def subscribe(self, listener: EventListener) -> None:
        """``listener`` is called with every record added from now on (see the module
        contract: it must not block)."""
        self._listeners.append(listener)

    def preload(self, older: list[EventRecord]) -> None:
        """Put ``older`` records (the lasting history, at start) before the ones held,
        keeping the newest ``limit``; no listener sees them (they are stored already)."""
        self._records[:0] = sorted(older, key=lambda e: e.ts)
        del self._records[: -self._limit]

    def add(self, kind: str, tag: str, detail: str, data: dict[str, object] | None = None) -> None:
        record = EventRecord(time.time(), kind, tag, detail, data or {})
        self._records.append(record)
        del self._records[: -self._limit]
        for listener in list(self._listeners):
            try:
                listener(record)
            except Exception:
                log.exception("event listener %r failed on %s", listener, kind)

    def since(self, ts: float = 0.0) -> list[EventRecord]:
        """Every record newer than ``ts`` (wall clock), oldest first."""
        return [e for e in self._records if e.ts > ts]

    def __iter__(self) -> Iterator[EventRecord]:
        return iter(list(self._records))
