"""The lab writer's ledger: runs per server and the overlaps that show a double run."""

from __future__ import annotations

from standfast.lab.writer_ledger import parse_writer_log, writer_overlaps, writer_runs

LEDGER = """\
100.0 server1 1 11
100.5 server1 2 11
101.0 server1 3 11
torn line
103.0 server2 1 22
103.5 server2 2 22
"""


def test_parse_skips_torn_lines() -> None:
    lines = parse_writer_log(LEDGER + "104.0 server2 x 22\n104.5 serv")
    assert [(x.server, x.seq) for x in lines] == [
        ("server1", 1),
        ("server1", 2),
        ("server1", 3),
        ("server2", 1),
        ("server2", 2),
    ]


def test_runs_group_consecutive_lines_of_one_server() -> None:
    runs = writer_runs(parse_writer_log(LEDGER))
    assert [(r.server, r.first, r.last, r.lines) for r in runs] == [
        ("server1", 100.0, 101.0, 3),
        ("server2", 103.0, 103.5, 2),
    ]


def test_a_clean_handover_has_no_overlap() -> None:
    assert writer_overlaps(parse_writer_log(LEDGER)) == []


def test_interleaved_writers_overlap() -> None:
    text = "100.0 server1 1 11\n100.2 server2 1 22\n100.4 server1 2 11\n"
    # In time order, so no run overlaps another in time: server1's one process wrote
    # before and after server2's line, so it ran beside it.
    assert writer_overlaps(parse_writer_log(text)) == [
        "server1 (pid 11) wrote at 100.000 and 100.400, around server2's line at 100.200"
    ]


def test_a_restarted_writer_is_a_new_process() -> None:
    # server1 crashed (its writer died), server2 took over, server1 took it back with
    # a new writer: a handover each time, no overlap (even with the pid reused).
    text = "100.0 server1 1 11\n100.2 server1 2 11\n101.0 server2 1 22\n102.0 server1 1 11\n"
    assert writer_overlaps(parse_writer_log(text)) == []


def test_slack_absorbs_clock_difference() -> None:
    text = "100.0 server1 1 11\n101.0 server1 2 11\n100.9 server2 1 22\n"
    assert writer_overlaps(parse_writer_log(text)) != []
    assert writer_overlaps(parse_writer_log(text), slack=0.2) == []
