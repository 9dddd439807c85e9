"""The lasting event history: every event of the engine, in the server's database
(table ``events`` of the configuration database, beside the configuration).

Contracts:
- ``record`` is an ``EventLog`` listener: it only puts the record on a queue and
  returns at once; it never blocks and never raises. A writer thread with its own
  SQLite connection stores what is queued in one short transaction per batch (at most
  ``BATCH`` rows, at least every ``FLUSH_EVERY`` s) and applies the retention rule
  every ``PRUNE_EVERY`` s. A write that fails is logged once as 196006 (then at most
  once a minute) and those rows are dropped; the daemon goes on.
- ``close`` stores what is queued, within ``deadline`` seconds, then stops the thread.
- ``query``, ``recent`` and ``merge`` open their own short-lived connection (safe from
  any thread) with a busy timeout of ``BUSY_TIMEOUT`` s; they raise 190101 when the
  database cannot be read.
- Rows are unique by (ts, kind, tag, detail): storing the same event twice (a restore
  of a backup made here) keeps one.
"""

from __future__ import annotations

import json
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from standfast.engine.events import EventRecord
from standfast.messages import Notice, StandfastError
from standfast.model.event_query import EventQuery, Retention

log = logging.getLogger(__name__)

BATCH = 200
FLUSH_EVERY = 0.5
PRUNE_EVERY = 60.0
BUSY_TIMEOUT = 5.0
_WARN_EVERY = 60.0

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY, ts REAL NOT NULL, kind TEXT NOT NULL, tag TEXT NOT NULL,
    detail TEXT NOT NULL, data TEXT NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS events_unique ON events (ts, kind, tag, detail);
CREATE INDEX IF NOT EXISTS events_kind ON events (kind, ts);
"""

Row = tuple[float, str, str, str, str]


def to_row(e: EventRecord) -> Row:
    return (e.ts, e.kind, e.tag, e.detail, json.dumps(e.data, sort_keys=True, default=str))


def from_row(ts: float, kind: str, tag: str, detail: str, data: str) -> EventRecord:
    try:
        loaded = json.loads(data)
    except ValueError:
        loaded = {}
    return EventRecord(ts, kind, tag, detail, loaded if isinstance(loaded, dict) else {})


class EventHistory:
    def __init__(self, path: Path, retention: Retention) -> None:
        self.path = path
        self.retention = retention
        self._queue: queue.SimpleQueue[EventRecord | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._warned_at = -_WARN_EVERY
        with self._connect() as db:
            db.executescript(SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        try:
            db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT, isolation_level=None)
        except sqlite3.Error as exc:
            raise StandfastError("190101", path=self.path, reason=exc) from exc
        try:
            # NORMAL in WAL mode: a power cut may lose the last batch, never corrupt.
            db.execute("PRAGMA synchronous=NORMAL")
            yield db
        except sqlite3.Error as exc:
            raise StandfastError("190101", path=self.path, reason=exc) from exc
        finally:
            db.close()

    # -- writing ---------------------------------------------------------------------

    def record(self, e: EventRecord) -> None:
        """The EventLog listener: queue ``e`` (never blocks, never raises)."""
        self._queue.put_nowait(e)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="event-history", daemon=True)
        self._thread.start()

    def close(self, deadline: float = 3.0) -> None:
        if self._thread is None:
            return
        self._queue.put_nowait(None)
        self._thread.join(deadline)
        self._thread = None

    def _run(self) -> None:
        next_prune = time.monotonic()
        stopping = False
        while not stopping:
            batch: list[EventRecord] = []
            try:
                item = self._queue.get(timeout=FLUSH_EVERY)
                while True:
                    if item is None:
                        stopping = True
                        break
                    batch.append(item)
                    if len(batch) >= BATCH:
                        break
                    item = self._queue.get_nowait()
            except queue.Empty:
                pass
            prune = stopping or time.monotonic() >= next_prune
            if batch or prune:
                self._write(batch, prune)
            if prune:
                next_prune = time.monotonic() + PRUNE_EVERY

    def _write(self, batch: Sequence[EventRecord], prune: bool) -> None:
        try:
            with self._connect() as db:
                db.execute("BEGIN IMMEDIATE")
                db.executemany(
                    "INSERT OR IGNORE INTO events (ts, kind, tag, detail, data)"
                    " VALUES (?, ?, ?, ?, ?)",
                    [to_row(e) for e in batch],
                )
                if prune:
                    self._prune(db, time.time())
                db.execute("COMMIT")
        except (StandfastError, sqlite3.Error, OSError) as exc:
            now = time.monotonic()
            if now - self._warned_at >= _WARN_EVERY:
                self._warned_at = now
                log.warning(Notice.of("196006", path=self.path, reason=exc).text("en"))

    def _prune(self, db: sqlite3.Connection, now: float) -> None:
        """The retention rule: nothing older than the age limit, at most the count."""
        db.execute("DELETE FROM events WHERE ts < ?", (self.retention.cutoff(now),))
        db.execute(
            "DELETE FROM events WHERE id IN (SELECT id FROM events"
            " ORDER BY ts DESC, id DESC LIMIT -1 OFFSET ?)",
            (self.retention.keep,),
        )

    def prune_now(self, now: float | None = None) -> None:
        """Apply the retention rule at once (the writer does it every PRUNE_EVERY s)."""
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            self._prune(db, time.time() if now is None else now)
            db.execute("COMMIT")

    def merge(self, rows: Iterable[Row]) -> tuple[int, int]:
        """Add ``rows`` (a backup's events) that are not here yet, then apply the
        retention rule; returns (added, already present). All or nothing."""
        rows = list(rows)
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            before = db.total_changes
            db.executemany(
                "INSERT OR IGNORE INTO events (ts, kind, tag, detail, data) VALUES (?, ?, ?, ?, ?)",
                rows,
            )
            added = db.total_changes - before
            self._prune(db, time.time())
            db.execute("COMMIT")
        return added, len(rows) - added

    # -- reading ---------------------------------------------------------------------

    def query(self, q: EventQuery) -> list[EventRecord]:
        """The newest ``q.limit`` stored events matching ``q``, oldest first."""
        where: list[str] = ["1"]
        args: list[object] = []
        if q.since is not None:
            where.append("ts >= ?")
            args.append(q.since)
        if q.until is not None:
            where.append("ts <= ?")
            args.append(q.until)
        if q.kinds:
            where.append(f"kind IN ({', '.join('?' * len(q.kinds))})")
            args.extend(q.kinds)
        if q.tag is not None:
            where.append("tag = ?")
            args.append(q.tag)
        sql = (
            "SELECT ts, kind, tag, detail, data FROM events WHERE "
            + " AND ".join(where)
            + " ORDER BY ts DESC, id DESC LIMIT ?"
        )
        with self._connect() as db:
            rows = db.execute(sql, (*args, q.limit)).fetchall()
        return [from_row(*r) for r in reversed(rows)]

    def recent(self, n: int) -> list[EventRecord]:
        """The newest ``n`` stored events, oldest first (the EventLog's start)."""
        return self.query(EventQuery(limit=max(n, 1)))

    def count(self) -> int:
        with self._connect() as db:
            return int(db.execute("SELECT count(*) FROM events").fetchone()[0])
