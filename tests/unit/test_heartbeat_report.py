"""The heartbeat report's wire form: what a peer reads back, and what it reads of an
older or damaged one."""

from __future__ import annotations

from standfast.cluster.report import HeartbeatReport
from standfast.model.states import State


def test_round_trip_keeps_every_field() -> None:
    report = HeartbeatReport(
        version=7,
        digest="ab",
        quorum=True,
        states={"app": State.ISP, "fs": State.OSU},
        since={"app": 12.5},
        sees=frozenset({"s1", "s2"}),
        partition=frozenset({"s1", "s2"}),
        watchdog=10.0,
        leaving=True,
    )
    back = HeartbeatReport.decode(report.encode())
    assert back is not None
    assert back == HeartbeatReport(**{**report.__dict__, "states": {"app": State.ISP}})
    assert back.states_of(["app", "fs"]) == {"app": State.ISP, "fs": State.OSU}


def test_leaving_is_said_only_while_stopping() -> None:
    assert "lv" not in HeartbeatReport(version=1).encode()  # every datagram stays small
    assert HeartbeatReport(leaving=True).encode()["lv"] == 1


def test_an_older_or_odd_sender_reads_as_not_leaving() -> None:
    older = {"v": 3, "dg": "x", "q": 1, "st": {"app": "ISP"}}  # before "lv" existed
    report = HeartbeatReport.decode(older)
    assert report is not None and report.leaving is False and report.version == 3
    for odd in ("yes", [1], 2, None):
        decoded = HeartbeatReport.decode({**older, "lv": odd})
        assert decoded is not None and decoded.leaving is False
    assert HeartbeatReport.decode({}) is None
