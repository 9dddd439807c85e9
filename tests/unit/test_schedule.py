"""The check schedule's slots (engine/schedule.py): stable, spread, within the bound."""

from __future__ import annotations

import pytest

from standfast.engine.schedule import next_due, phase

TAGS = [f"app{i:03d}" for i in range(100)]


def test_phase_is_stable_and_within_the_interval() -> None:
    for tag in TAGS:
        p = phase(tag, 2.0)
        assert 0.0 <= p < 2.0
        assert phase(tag, 2.0) == p


@pytest.mark.parametrize("now", [0.0, 0.3, 1234.567, 98765.4321])
@pytest.mark.parametrize("interval", [0.5, 2.0, 30.0, 300.0])
def test_next_due_is_within_half_to_one_interval(now: float, interval: float) -> None:
    for tag in TAGS:
        due = next_due(tag, interval, now)
        assert now + interval / 2 <= due <= now + interval + 1e-9


def test_a_check_converges_to_a_stable_offset() -> None:
    """A check of 0.1 s, rescheduled round after round: it ends up starting every
    interval exactly, at a fixed offset from its slot."""
    interval, duration = 2.0, 0.1
    for tag in TAGS[:20]:
        start = 1000.0
        starts = []
        for _ in range(30):
            starts.append(start)
            start = next_due(tag, interval, start + duration)
        assert starts[-1] - starts[-2] == pytest.approx(interval, abs=1e-6)
        offset = (starts[-1] - phase(tag, interval)) % interval
        assert offset == pytest.approx(duration, abs=1e-3)


def _per_cycle(dues: list[float], origin: float, tick: float = 0.2) -> dict[int, int]:
    cycles: dict[int, int] = {}
    for due in dues:
        k = int(((due - origin) % 2.0) // tick)
        cycles[k] = cycles.get(k, 0) + 1
    return cycles


def test_checks_started_together_spread_over_the_interval() -> None:
    """100 resources checked in the same cycle: the next round spreads over half the
    interval (5 cycles of 0.2 s), a few rounds later over all 10, evenly."""
    interval, now = 2.0, 1000.0
    dues = [next_due(tag, interval, now) for tag in TAGS]
    first = _per_cycle(dues, now)
    assert len(first) == 5
    assert max(first.values()) <= 30
    for _ in range(8):
        dues = [next_due(tag, interval, due + 0.01) for tag, due in zip(TAGS, dues, strict=True)]
    later = _per_cycle(dues, now)
    assert len(later) == 10
    assert max(later.values()) <= 20


def test_a_late_check_is_not_run_again_at_once() -> None:
    interval = 2.0
    tag = TAGS[0]
    slot = phase(tag, interval) + 10 * interval
    late = slot + 1.9  # ended just before the next slot
    due = next_due(tag, interval, late)
    assert due >= late + interval / 2
    assert due <= late + interval


def test_degenerate_interval_is_plain_addition() -> None:
    assert next_due("a", 0.0, 5.0) == 5.0
    assert next_due("a", float("inf"), 5.0) == float("inf")
