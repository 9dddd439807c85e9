"""EventLog listeners: each sees every record added after it subscribed, in order,
and a failing listener neither stops the others nor reaches the recorder."""

from __future__ import annotations

from standfast.engine.events import EventLog, EventRecord


def test_listeners_see_each_record_once_in_order() -> None:
    log = EventLog(limit=2)
    log.add("before", "t", "not seen")
    seen: list[EventRecord] = []
    log.subscribe(seen.append)
    for i in range(3):
        log.add("state", f"t{i}", "", {"i": i})
    assert [(r.kind, r.tag, r.data) for r in seen] == [
        ("state", "t0", {"i": 0}),
        ("state", "t1", {"i": 1}),
        ("state", "t2", {"i": 2}),
    ]
    # The bounded history drops old records; the listener had each of them.
    assert [r.tag for r in log] == ["t1", "t2"]


def test_a_failing_listener_does_not_stop_the_others() -> None:
    log = EventLog()
    seen: list[str] = []

    def broken(record: EventRecord) -> None:
        raise RuntimeError("boom")

    log.subscribe(broken)
    log.subscribe(lambda r: seen.append(r.kind))
    log.add("failover", "db", "server1 -> server2")
    assert seen == ["failover"]
    assert [r.kind for r in log] == ["failover"]
