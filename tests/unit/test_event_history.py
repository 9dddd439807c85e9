"""The lasting event history's pure parts (time parsing, filtering, retention) and its
store on a real SQLite file."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from standfast.cli.cmd_events import build_query
from standfast.config.tunables import parse_defaults
from standfast.engine.events import EventLog, EventRecord
from standfast.messages import StandfastError
from standfast.model.event_query import EventQuery, Retention, event_from_backup, parse_time
from standfast.store.database import Store
from standfast.store.history import EventHistory

NOW = 1_800_000_000.0


def code_of(fn: object, *args: object) -> str:
    with pytest.raises(StandfastError) as exc:
        fn(*args)  # type: ignore[operator]
    return exc.value.code


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("now", NOW),
        ("30s", NOW - 30),
        ("15m", NOW - 900),
        ("2h", NOW - 7200),
        ("7d", NOW - 7 * 86400),
        ("4w", NOW - 28 * 86400),
        ("2026-12-01T10:00:00Z", datetime(2026, 12, 1, 10, tzinfo=UTC).timestamp()),
        ("2026-12-01 19:00:00+09:00", datetime(2026, 12, 1, 10, tzinfo=UTC).timestamp()),
        ("2026-12-01T10:00", datetime(2026, 12, 1, 10).timestamp()),  # local time
        ("2026-12-01", datetime(2026, 12, 1).timestamp()),
    ],
)
def test_parse_time_accepts_iso_and_ago(text: str, expected: float) -> None:
    assert parse_time(text, "--since", NOW) == expected


@pytest.mark.parametrize(
    "text", ["", "yesterday", "2h ago", "-2h", "7y", "2026-13-01", "1e9", "٢h", "9" * 80, "0x10"]
)
def test_parse_time_refuses_anything_else_with_195001(text: str) -> None:
    assert code_of(parse_time, text, "--until", NOW) == "196001"


def test_query_checks_each_part_with_its_number() -> None:
    assert code_of(EventQuery(since=NOW, until=NOW - 1).checked) == "196002"
    assert code_of(EventQuery(limit=0).checked) == "196003"
    assert code_of(EventQuery(limit=1_000_001).checked) == "196003"
    assert code_of(EventQuery(kinds=("Fail over",)).checked) == "196004"
    assert code_of(EventQuery(tag="").checked) == "196004"
    assert code_of(EventQuery(since=float("nan")).checked) == "196001"
    assert EventQuery(since=NOW - 1, until=NOW, kinds=("failover",), tag="db").checked()


def test_cli_options_become_a_checked_query() -> None:
    q = build_query("2h", None, ("failover", "state"), "db", "5", NOW)
    assert q == EventQuery(NOW - 7200, None, ("failover", "state"), "db", 5)
    assert code_of(build_query, None, None, (), None, "ten", NOW) == "196003"
    assert code_of(build_query, None, None, (), None, "-1", NOW) == "196003"
    assert code_of(build_query, "1h", "2h", (), None, "10", NOW) == "196002"
    assert code_of(build_query, "soon", None, (), None, "10", NOW) == "196001"


def records() -> list[EventRecord]:
    return [
        EventRecord(NOW - 300, "state", "db", "ISP"),
        EventRecord(NOW - 200, "failover", "db", "server1 -> server2", {"timeline": [1, 2]}),
        EventRecord(NOW - 100, "state", "web", "OSF"),
        EventRecord(NOW - 50, "server_failed", "server1", ""),
    ]


def test_select_filters_and_keeps_the_newest_limit_oldest_first() -> None:
    recs = records()
    assert [e.kind for e in EventQuery(tag="db").select(recs)] == ["state", "failover"]
    assert [e.tag for e in EventQuery(kinds=("state",)).select(recs)] == ["db", "web"]
    got = EventQuery(since=NOW - 200, until=NOW - 100).select(recs)
    assert [e.ts for e in got] == [NOW - 200, NOW - 100]
    assert [e.ts for e in EventQuery(limit=2).select(reversed(recs))] == [NOW - 100, NOW - 50]


def test_retention_keeps_the_newest_count_within_the_age() -> None:
    rule = Retention(keep=3, days=1)
    stamps = [NOW - 2 * 86400, NOW - 5, NOW - 4, NOW - 3, NOW - 2, NOW - 1]
    assert rule.kept(stamps, NOW) == [NOW - 3, NOW - 2, NOW - 1]
    assert Retention(keep=10, days=1).kept(stamps, NOW) == stamps[1:]


def test_backup_events_are_checked_entry_by_entry() -> None:
    row = event_from_backup({"ts": NOW, "kind": "failover", "tag": "db", "data": {"a": 1}}, 0)
    assert row == (NOW, "failover", "db", "", '{"a": 1}')
    for bad in (
        "x",
        {"ts": "yesterday", "kind": "state", "tag": "t"},
        {"ts": True, "kind": "state", "tag": "t"},
        {"ts": NOW, "kind": "DROP TABLE", "tag": "t"},
        {"ts": NOW, "kind": "state", "tag": 5},
        {"ts": NOW, "kind": "state", "tag": "t", "data": []},
        {"ts": float("inf"), "kind": "state", "tag": "t"},
    ):
        with pytest.raises(StandfastError) as exc:
            event_from_backup(bad, 3)
        assert exc.value.code == "196005" and "events[3]" in str(exc.value)


def test_retention_tunables_are_checked_like_the_others(tmp_path: Path) -> None:
    t, notices = parse_defaults("SF_EVENT_KEEP=500\nSF_EVENT_KEEP_DAYS=7\n", tmp_path, "s1")
    assert (t.SF_EVENT_KEEP, t.SF_EVENT_KEEP_DAYS, notices) == (500, 7, [])
    for text in ("SF_EVENT_KEEP=10", "SF_EVENT_KEEP=1e4", "SF_EVENT_KEEP_DAYS=0"):
        t, notices = parse_defaults(text + "\n", tmp_path, "s1")
        assert [n.code for n in notices] == ["190302"]
        assert (t.SF_EVENT_KEEP, t.SF_EVENT_KEEP_DAYS) == (10_000, 30)


@pytest.fixture
def history(tmp_path: Path) -> EventHistory:
    Store(tmp_path / "db.sqlite").close()  # the configuration database it lives in
    return EventHistory(tmp_path / "db.sqlite", Retention(keep=3, days=1))


def test_the_writer_stores_every_event_and_the_query_filters(history: EventHistory) -> None:
    log = EventLog()
    log.subscribe(history.record)
    history.start()
    for e in records():
        log.add(e.kind, e.tag, e.detail, e.data)
    history.close()
    stored = history.query(EventQuery(kinds=("failover",)))
    assert [(e.tag, e.data) for e in stored] == [("db", {"timeline": [1, 2]})]
    # Four events, a count of three: the oldest (db's state) went when the writer pruned.
    assert [e.kind for e in history.query(EventQuery(tag="db"))] == ["failover"]
    assert [e.tag for e in history.recent(500)] == ["db", "web", "server1"]


def test_pruning_in_sqlite_matches_the_rule(history: EventHistory) -> None:
    now = time.time()
    stamps = [now - 3 * 86400, now - 30, now - 20, now - 10, now - 5]
    rows = [(ts, "state", f"t{i}", "", "{}") for i, ts in enumerate(stamps)]
    assert history.merge(rows) == (5, 0)  # merge prunes too
    assert [e.ts for e in history.recent(100)] == history.retention.kept(stamps, now)


def test_merge_adds_only_what_is_missing(history: EventHistory) -> None:
    now = time.time()
    rows = [(now - 2, "state", "a", "ISP", "{}"), (now - 1, "failover", "a", "x", '{"t": 1}')]
    assert history.merge(rows) == (2, 0)
    assert history.merge(rows) == (0, 2)
    assert history.count() == 2


def test_preloaded_history_comes_before_new_records_without_listeners() -> None:
    log = EventLog(limit=3)
    seen: list[EventRecord] = []
    log.subscribe(seen.append)
    log.add("state", "new", "")
    log.preload(records())
    assert [e.tag for e in log] == ["web", "server1", "new"]
    assert [e.tag for e in seen] == ["new"]
