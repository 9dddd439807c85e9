"""The campaign's pure parts: schedules replay by seed and keep their rules; the judge
reads the ledger as documented (docs/chaos.md). No root, no daemons."""

from __future__ import annotations

import math

import pytest
from bench.chaos_plan import (
    APPS,
    KINDS,
    LINK_KINDS,
    OP_ANSWER,
    PROCESS_GAP,
    PROCESS_KINDS,
    Fault,
    generate,
)
from bench.chaos_verdict import (
    Overlap,
    Run,
    divergence,
    judge_safety,
    placement_problems,
    running_now,
    runs,
)


def test_a_seed_replays_its_schedule_exactly() -> None:
    for seed in range(1, 40):
        assert generate(seed) == generate(seed)
        assert generate(seed).compact() == generate(seed).compact()
    assert generate(1) != generate(2)
    assert generate(3, 6) != generate(3, 4)


@pytest.mark.parametrize("seed", range(1, 300))
def test_schedules_keep_their_rules(seed: int) -> None:
    s = generate(seed, 6)
    assert len(s.faults) == 6
    assert [f.at for f in s.faults] == sorted(f.at for f in s.faults)
    process = [f for f in s.faults if f.kind in PROCESS_KINDS]
    for i, a in enumerate(process):
        for b in process[i + 1 :]:
            if a.server == b.server:  # one process fault per server at a time, with a gap
                assert a.end + PROCESS_GAP <= b.at or b.end + PROCESS_GAP <= a.at, (a, b)
    real = [f for f in s.faults if f.kind not in ("in-service", "set")]
    for op in (f for f in s.faults if f.kind in ("in-service", "set")):
        assert op.tag in APPS and op.hold == 0
        for f in process:  # the operator's server answers
            if f.server == op.server:
                assert not (f.at <= op.at + OP_ANSWER and op.at <= f.end + PROCESS_GAP)
        inside = [f for f in real if f.at <= op.at <= f.end]
        after = op.at >= max(f.end for f in real)
        assert inside or after, op
    for f in s.faults:
        if f.kind == "split":
            assert f.server != f.other
            assert f.links() == [(f.server, "net1"), (f.other, "net2")]
        if f.kind in LINK_KINDS:
            assert 1.0 <= f.hold <= 6.0


def test_a_configuration_change_goes_inside_a_partition_when_there_is_one() -> None:
    for seed in range(1, 400):
        s = generate(seed, 5)
        parts = [f for f in s.faults if f.kind in LINK_KINDS]
        for op in (f for f in s.faults if f.kind == "set"):
            after_all = op.at > max(f.end for f in s.faults if f.kind not in ("in-service", "set"))
            if parts and not after_all:  # after all: every daemon was down or hung then
                assert any(p.at <= op.at <= p.end for p in parts), s.compact()


def test_kinds_can_be_chosen_and_bad_ones_are_refused() -> None:
    s = generate(9, 8, kinds=["split"])
    assert {f.kind for f in s.faults} == {"split"}
    s = generate(9, 3, kinds=["in-service", "cut"])
    assert any(f.kind == "cut" for f in s.faults)
    with pytest.raises(ValueError):
        generate(1, kinds=["meteor"])
    with pytest.raises(ValueError):
        generate(1, 0)
    assert set(KINDS) >= {"crash", "hang", "cut", "isolate", "split", "in-service", "set"}


def test_compact_form() -> None:
    assert Fault("crash", 1.2, 3.4, "server2").compact() == "crash(s2)1.2+3.4"
    assert Fault("cut", 0.5, 1.0, "server1", net="net2").compact() == "cut(s1:net2)0.5+1.0"
    split = Fault("split", 2.0, 2.0, "server1", other="server3")
    assert split.compact() == "split(s1:net1|s3:net2)2.0+2.0"
    op = Fault("set", 4.0, 0.0, "server3", tag="appA", value=7)
    assert op.compact() == "set(appA.check_timeout=7@s3)4.0"


LEDGER = """\
100.0 server1 appA start
100.5 server1 appA start
104.0 server2 appA start
105.0 server1 appA stop
105.2 server2 appA stop
106.0 server3 appA start
107.0 server3 appA powercut
107.1 server3 appA stop
110.0 server1 appB start
garbage line
"""


def test_runs_from_the_ledger() -> None:
    from bench.chaos_verdict import parse_ledger

    rs = runs(parse_ledger(LEDGER))
    assert rs == [
        Run("appA", "server1", 100.0, 105.0),  # a repeated start changes nothing
        Run("appA", "server2", 104.0, 105.2),
        Run("appA", "server3", 106.0, 107.0),  # the power cut ended it
        Run("appB", "server1", 110.0, math.inf),
    ]
    assert running_now(rs) == {"appB": ["server1"]}


def test_safety_overlap_violation_known_and_within_tolerance() -> None:
    found = judge_safety(LEDGER, {})
    assert [(o.first.server, o.second.server, o.seconds) for o in found.violations] == [
        ("server1", "server2", 1.0)
    ]
    # server1's daemon hung from 103 to 104.5: its copy outlived the takeover (known).
    found = judge_safety(LEDGER, {"server1": [(103.0, 104.5)]})
    assert found.violations == [] and [who for _, who in found.known] == ["server1"]
    # ... but not if it kept running more than the grace after it resumed.
    found = judge_safety(LEDGER, {"server1": [(103.0, 104.5)]}, grace=0.2)
    assert len(found.violations) == 1
    # A hang that ended before the overlap began explains nothing.
    assert len(judge_safety(LEDGER, {"server1": [(101.0, 103.0)]}).violations) == 1
    small = "1.0 server1 appC start\n1.95 server2 appC start\n2.0 server1 appC stop\n"
    found = judge_safety(small, {}, tolerance=0.1)
    assert found.violations == [] and len(found.within_tolerance) == 1
    assert len(judge_safety(small, {}, tolerance=0.01).violations) == 1


def test_overlap_description() -> None:
    o = Overlap("appA", Run("appA", "server1", 10.0, 12.0), Run("appA", "server2", 11.0, math.inf))
    assert o.describe(10.0) == "appA on server1 [0.00, 2.00] and server2 [1.00, running]: 1.00 s"


def test_placement_and_divergence() -> None:
    apps = ["appA", "appB"]
    ok = {"appA": ["server1"], "appB": ["server2"]}
    assert placement_problems(apps, ok, ok) == []
    twice = {"appA": ["server1", "server3"], "appB": ["server2"]}
    assert placement_problems(apps, twice, ok) == [
        "appA: running on [server1, server3], in service on [server1]"
    ]
    assert placement_problems(apps, ok, {"appA": ["server1"]}) == [
        "appB: running on [server2], in service on []"
    ]
    assert divergence({"server1": (3, "ab"), "server2": (3, "ab")}) is None
    assert (
        divergence({"server1": (3, "ab"), "server2": (4, "cd")}) == "server1 v3 ab, server2 v4 cd"
    )
    assert divergence({"server1": (3, "ab"), "server2": None}) == "server1 v3 ab, server2 no answer"
