"""The failover gate, rule by rule: each row names the rule that must decide."""

from __future__ import annotations

from dataclasses import replace

import pytest
from tests.unit.test_placement import config

from standfast.engine.gate import FENCE_RETRY, Confirmation, GateFacts, Verdict, gate
from standfast.engine.placement import Placement, PlacementKind

RESTORE = Placement(PlacementKind.RESTORE, "E-app", "app", "s2")
SWITCHBACK = Placement(PlacementKind.SWITCHBACK, "E-app", "app", "s1")
SPLIT = Placement(PlacementKind.RESOLVE_SPLIT, "E-app", "app", "s3")

NOW = 1000.0
# s2 is deciding; s1 held the hierarchy and has just been declared failed.
BASE = GateFacts(
    now=NOW,
    local="s2",
    alive=frozenset({"s2", "s3"}),
    last_holder={"E-app": "s1"},
    failed=frozenset({"s1"}),
)
FENCING = replace(BASE, fencing=True)
CONFIRMING = replace(BASE, confirm_timeout=30.0)
UNSETTLED = replace(BASE, settled=False)


def pending(answer: str = "", deadline: float = NOW + 10) -> dict[str, Confirmation]:
    return {"E-app": Confirmation("app", "s1", deadline, answer)}


CASES = [
    # (name, placement, facts, verdict, rule)
    ("settling blocks everything", RESTORE, UNSETTLED, Verdict.WAIT, "settling"),
    (
        "settling blocks giving up",
        SWITCHBACK,
        replace(BASE, settled=False),
        Verdict.WAIT,
        "settling",
    ),
    ("switchback is always safe", SWITCHBACK, replace(BASE, quorum=False), Verdict.GO, "go"),
    ("a split is resolved at once", SPLIT, replace(BASE, quiet_until=NOW + 5), Verdict.GO, "go"),
    ("no quorum, no restore", RESTORE, replace(BASE, quorum=False), Verdict.WAIT, "quorum"),
    (
        "quiet period after a join",
        RESTORE,
        replace(BASE, quiet_until=NOW + 1),
        Verdict.WAIT,
        "quiet",
    ),
    ("quiet period over", RESTORE, replace(BASE, quiet_until=NOW - 1), Verdict.GO, "go"),
    (
        "released to a live peer: hold off",
        RESTORE,
        replace(BASE, hold_off={"E-app": ("s3", NOW + 2)}),
        Verdict.WAIT,
        "hold_off",
    ),
    (
        "hold-off ends when the requester dies",
        RESTORE,
        replace(BASE, hold_off={"E-app": ("s4", NOW + 2)}),
        Verdict.GO,
        "go",
    ),
    (
        "hold-off ends in time",
        RESTORE,
        replace(BASE, hold_off={"E-app": ("s3", NOW - 0.1)}),
        Verdict.GO,
        "go",
    ),
    ("previous holder failed, no fencing", RESTORE, BASE, Verdict.GO, "go"),
    ("fence the failed holder first", RESTORE, FENCING, Verdict.FENCE, "fence"),
    (
        "an already fenced holder is not fenced twice",
        RESTORE,
        replace(FENCING, fenced=frozenset({"s1"})),
        Verdict.GO,
        "go",
    ),
    (
        "a failed fence waits for its retry",
        RESTORE,
        replace(FENCING, fence_retry_at={"s1": NOW + FENCE_RETRY}),
        Verdict.WAIT,
        "fence",
    ),
    (
        "the previous holder alive: nothing to fence",
        RESTORE,
        replace(FENCING, alive=frozenset({"s1", "s2", "s3"})),
        Verdict.GO,
        "go",
    ),
    (
        "no holder seen: the best failed copy is presumed",
        RESTORE,
        replace(FENCING, last_holder={}),
        Verdict.FENCE,
        "fence",
    ),
    (
        "no holder seen and nobody failed: go",
        RESTORE,
        replace(FENCING, last_holder={}, failed=frozenset()),
        Verdict.GO,
        "go",
    ),
    (
        "a peer still counts the failed holder: wait",
        RESTORE,
        replace(BASE, counted=frozenset({"s1"})),
        Verdict.WAIT,
        "partition",
    ),
    (
        "just stopped being counted: wait the margin",
        RESTORE,
        replace(BASE, uncounted_since={"s1": NOW - 0.1}, counted_margin=0.3),
        Verdict.WAIT,
        "partition",
    ),
    (
        "no peer has counted it for the margin: go",
        RESTORE,
        replace(BASE, uncounted_since={"s1": NOW - 0.4}, counted_margin=0.3),
        Verdict.GO,
        "go",
    ),
    (
        "a watchdog holder: wait its timeout and margin",
        RESTORE,
        replace(BASE, watchdog_wait={"s1": (NOW - 5, 12.0)}),
        Verdict.WAIT,
        "watchdog",
    ),
    (
        "the watchdog wait is over",
        RESTORE,
        replace(BASE, watchdog_wait={"s1": (NOW - 13, 12.0)}),
        Verdict.GO,
        "go",
    ),
    (
        "fencing replaces the watchdog wait",
        RESTORE,
        replace(FENCING, watchdog_wait={"s1": (NOW - 5, 12.0)}),
        Verdict.FENCE,
        "fence",
    ),
    ("confirmation asked first", RESTORE, CONFIRMING, Verdict.CONFIRM, "confirm"),
    (
        "confirmation pending",
        RESTORE,
        replace(CONFIRMING, confirmations=pending()),
        Verdict.WAIT,
        "confirm",
    ),
    (
        "operator blocks",
        RESTORE,
        replace(CONFIRMING, confirmations=pending("block", NOW - 1)),
        Verdict.WAIT,
        "confirm",
    ),
    (
        "operator proceeds",
        RESTORE,
        replace(CONFIRMING, confirmations=pending("proceed")),
        Verdict.GO,
        "go",
    ),
    (
        "timeout applies the default (proceed)",
        RESTORE,
        replace(CONFIRMING, confirmations=pending("", NOW - 1)),
        Verdict.GO,
        "go",
    ),
    (
        "timeout applies the default (block)",
        RESTORE,
        replace(CONFIRMING, confirm_default="block", confirmations=pending("", NOW - 1)),
        Verdict.WAIT,
        "confirm",
    ),
    (
        "confirmed, then fenced",
        RESTORE,
        replace(CONFIRMING, fencing=True, confirmations=pending("proceed")),
        Verdict.FENCE,
        "fence",
    ),
    # A holder that took the hierarchy wholly down as its daemon stopped runs none of it:
    # no fence, no watchdog wait, no confirmation, no partition wait.
    (
        "left clean: fencing skipped",
        RESTORE,
        replace(FENCING, left_clean={"E-app": "s1"}),
        Verdict.GO,
        "left",
    ),
    (
        "left clean: no watchdog wait",
        RESTORE,
        replace(BASE, left_clean={"E-app": "s1"}, watchdog_wait={"s1": (NOW - 1, 12.0)}),
        Verdict.GO,
        "left",
    ),
    (
        "left clean: no confirmation",
        RESTORE,
        replace(CONFIRMING, left_clean={"E-app": "s1"}),
        Verdict.GO,
        "left",
    ),
    (
        "left clean: no partition wait",
        RESTORE,
        replace(BASE, left_clean={"E-app": "s1"}, counted=frozenset({"s1"})),
        Verdict.GO,
        "left",
    ),
    (
        "another server left clean: the failed holder is still fenced",
        RESTORE,
        replace(FENCING, left_clean={"E-app": "s3"}),
        Verdict.FENCE,
        "fence",
    ),
    (
        "left clean, but still the quiet period",
        RESTORE,
        replace(BASE, left_clean={"E-app": "s1"}, quiet_until=NOW + 1),
        Verdict.WAIT,
        "quiet",
    ),
]


@pytest.mark.parametrize(
    ("placement", "facts", "verdict", "rule"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_gate_rule(placement: Placement, facts: GateFacts, verdict: Verdict, rule: str) -> None:
    d = gate(placement, config(), facts)
    assert (d.verdict, d.rule) == (verdict, rule)


def test_a_used_answer_is_marked_confirmed() -> None:
    d = gate(RESTORE, config(), replace(CONFIRMING, confirmations=pending("proceed")))
    assert d.confirmed and d.previous == "s1"
    d = gate(RESTORE, config(), CONFIRMING)
    assert not d.confirmed


def test_gate_never_fences_this_server() -> None:
    facts = replace(FENCING, last_holder={"E-app": "s2"})
    assert gate(RESTORE, config(), facts).verdict is Verdict.GO


def test_seed_181_the_partition_margin_outlasts_a_holders_stale_quorum() -> None:
    """Seed 181, its timing pinned (heartbeats 0.3 s x 5; seconds from the schedule's
    start). s1 and s2 no longer hear each other; s3 hears both. At about 2.75 s s3's last
    heartbeat reached s2 still counting it (its partition was all three); s3 then chose
    {s1, s3}, and the heartbeat saying so was lost when s3's link to s2 went down at
    2.90 s. s2 kept its quorum from that older report until s3 was no longer fresh
    (2.75 + 0.9 = 3.65 s; it lost quorum at 3.662 s) and took appB down 27 ms later.
    s1 saw s3 stop counting s2 at about 2.95 s and restored appB at 3.42 s: 0.17 s of
    appB on both. The margin must reach past s2's stale quorum and its next cycle."""
    from standfast.engine.partition import fresh_window, takeover_margin
    from standfast.engine.role import TICK

    interval, miss = 0.3, 5
    s2_quorum_ends = 2.75 + fresh_window(interval, miss)
    s2_begins_release = s2_quorum_ends + TICK
    facts = replace(
        BASE,
        local="s1",
        alive=frozenset({"s1", "s3"}),
        last_holder={"E-app": "s2"},
        failed=frozenset({"s2"}),
        uncounted_since={"s2": 2.95},
        counted_margin=takeover_margin(interval, miss, TICK),
    )
    placement = Placement(PlacementKind.RESTORE, "E-app", "app", "s1")
    assert gate(placement, config(), replace(facts, now=3.42)).rule == "partition"
    first_go = next(
        t / 100
        for t in range(300, 600)
        if gate(placement, config(), replace(facts, now=t / 100)).verdict is Verdict.GO
    )
    assert first_go >= s2_begins_release
