"""The per-server configuration database (SQLite).

Every change runs in one IMMEDIATE transaction that re-reads the configuration,
validates the operations against it, writes them, bumps the version and records
the change in the log that replication reads. A crash mid-change leaves the
previous configuration intact: SQLite's journal rolls the transaction back.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from standfast.messages import StandfastError
from standfast.model.config import (
    ClusterConfig,
    Modes,
    Operation,
    Target,
    op_from_dict,
    op_to_dict,
)
from standfast.model.resources import Dependency, Resource
from standfast.model.states import State, Switchback

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS resources (
    server TEXT NOT NULL, tag TEXT NOT NULL, kit TEXT NOT NULL, id TEXT NOT NULL,
    switchback TEXT NOT NULL, priority INTEGER NOT NULL, equiv TEXT NOT NULL,
    props TEXT NOT NULL, PRIMARY KEY (server, tag));
CREATE TABLE IF NOT EXISTS dependencies (
    server TEXT NOT NULL, parent TEXT NOT NULL, child TEXT NOT NULL,
    PRIMARY KEY (server, parent, child));
CREATE TABLE IF NOT EXISTS changes (
    version INTEGER PRIMARY KEY, ts REAL NOT NULL, origin TEXT NOT NULL, ops TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS targets (
    equiv TEXT PRIMARY KEY, in_service INTEGER NOT NULL, server TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS states (
    server TEXT NOT NULL, tag TEXT NOT NULL, state TEXT NOT NULL, reason TEXT NOT NULL,
    updated REAL NOT NULL, PRIMARY KEY (server, tag));
"""


@dataclass(frozen=True)
class Change:
    version: int
    ts: float
    origin: str
    ops: tuple[Operation, ...]


@dataclass(frozen=True)
class StoredState:
    state: State
    reason: str
    updated: float


class Store:
    """One server's configuration database. Safe to use from one thread at a time."""

    def __init__(self, path: Path, *, busy_timeout: float = 5.0) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
            row = self._db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
        except (OSError, sqlite3.Error) as exc:
            raise StandfastError("190101", path=path, reason=exc) from exc
        if row is None:
            with self._transaction():
                self._db.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
                self._db.execute("INSERT INTO meta VALUES ('version', '0')")
        elif int(row[0]) != SCHEMA_VERSION:
            raise StandfastError("190102", path=path, found=row[0], expected=SCHEMA_VERSION)

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        else:
            self._db.execute("COMMIT")

    # -- configuration -------------------------------------------------------

    def version(self) -> int:
        row = self._db.execute("SELECT value FROM meta WHERE key='version'").fetchone()
        return int(row[0])

    def config(self) -> ClusterConfig:
        db = self._db
        resources = [
            Resource(
                server=s,
                tag=t,
                kit=k,
                id=i,
                switchback=Switchback(sb),
                priority=p,
                equiv=e,
                props=json.loads(props),
            )
            for s, t, k, i, sb, p, e, props in db.execute(
                "SELECT server, tag, kit, id, switchback, priority, equiv, props FROM resources"
            )
        ]
        deps = [
            Dependency(s, p, c)
            for s, p, c in db.execute("SELECT server, parent, child FROM dependencies")
        ]
        targets = {
            e: Target(bool(v), srv)
            for e, v, srv in db.execute("SELECT equiv, in_service, server FROM targets")
        }
        # Maintenance and standby live in one meta row (absent in older databases).
        row = db.execute("SELECT value FROM meta WHERE key='modes'").fetchone()
        modes = Modes.from_dict(json.loads(row[0])) if row is not None else Modes()
        return ClusterConfig.of(self.version(), resources, deps, targets, modes)

    def apply(
        self,
        ops: Sequence[Operation],
        *,
        origin: str,
        expected_version: int | None = None,
    ) -> ClusterConfig:
        """Validate and store ``ops`` as one versioned change; returns the new config."""
        with self._transaction() as db:
            current = self.config()
            if expected_version is not None and current.version != expected_version:
                raise StandfastError("190103", version=current.version)
            new = current.apply(ops)
            self._write(db, current, new)
            db.execute(
                "INSERT INTO changes VALUES (?, ?, ?, ?)",
                (new.version, time.time(), origin, json.dumps([op_to_dict(o) for o in ops])),
            )
            db.execute("UPDATE meta SET value=? WHERE key='version'", (str(new.version),))
        return new

    @staticmethod
    def _write(db: sqlite3.Connection, old: ClusterConfig, new: ClusterConfig) -> None:
        for key in old.resources.keys() - new.resources.keys():
            db.execute("DELETE FROM resources WHERE server=? AND tag=?", key)
            db.execute("DELETE FROM states WHERE server=? AND tag=?", key)
        for key, r in new.resources.items():
            if old.resources.get(key) != r:
                db.execute(
                    "INSERT OR REPLACE INTO resources VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        r.server,
                        r.tag,
                        r.kit,
                        r.id,
                        str(r.switchback),
                        r.priority,
                        r.equiv,
                        json.dumps(dict(r.props), sort_keys=True),
                    ),
                )
        for d in old.dependencies - new.dependencies:
            db.execute(
                "DELETE FROM dependencies WHERE server=? AND parent=? AND child=?",
                (d.server, d.parent, d.child),
            )
        for d in new.dependencies - old.dependencies:
            db.execute("INSERT INTO dependencies VALUES (?, ?, ?)", (d.server, d.parent, d.child))
        if old.targets != new.targets:
            db.execute("DELETE FROM targets")
            db.executemany(
                "INSERT INTO targets VALUES (?, ?, ?)",
                [(e, int(t.in_service), t.server) for e, t in sorted(new.targets.items())],
            )
        if old.modes != new.modes:
            db.execute(
                "INSERT OR REPLACE INTO meta VALUES ('modes', ?)",
                (json.dumps(new.modes.to_dict(), sort_keys=True),),
            )

    def replace_config(self, new: ClusterConfig, *, origin: str) -> ClusterConfig:
        """Take another server's whole configuration (replication catch-up)."""
        with self._transaction() as db:
            current = self.config()
            self._write(db, current, new)
            db.execute(
                "INSERT OR REPLACE INTO changes VALUES (?, ?, ?, ?)",
                (new.version, time.time(), origin, json.dumps([{"op": "replace"}])),
            )
            db.execute("UPDATE meta SET value=? WHERE key='version'", (str(new.version),))
        return self.config()

    def roll_back(self, previous: ClusterConfig) -> ClusterConfig:
        """Put ``previous`` back, undoing this server's later change(s) (one a majority
        did not take, engine/core.py): the configuration and its version return, and
        the undone changes leave the log, so the next change can take their version."""
        with self._transaction() as db:
            self._write(db, self.config(), previous)
            db.execute("DELETE FROM changes WHERE version > ?", (previous.version,))
            db.execute("UPDATE meta SET value=? WHERE key='version'", (str(previous.version),))
        return self.config()

    def changes_since(self, version: int) -> list[Change]:
        return [
            Change(
                v,
                ts,
                origin,
                tuple(op_from_dict(o) for o in json.loads(ops) if o.get("op") != "replace"),
            )
            for v, ts, origin, ops in self._db.execute(
                "SELECT version, ts, origin, ops FROM changes WHERE version > ? ORDER BY version",
                (version,),
            )
        ]

    # -- runtime states (local, not versioned) --------------------------------

    def set_state(self, server: str, tag: str, state: State, reason: str = "") -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO states VALUES (?, ?, ?, ?, ?)",
                (server, tag, str(state), reason, time.time()),
            )

    def states(self, server: str) -> dict[str, StoredState]:
        return {
            tag: StoredState(State(st), reason, updated)
            for tag, st, reason, updated in self._db.execute(
                "SELECT tag, state, reason, updated FROM states WHERE server=?", (server,)
            )
        }
