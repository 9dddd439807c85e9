"""power.halt and power.fence with real commands: results, errors, bounds (no root)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from standfast.cluster.fencing import FenceConfig, fence_plan
from standfast.host import power
from standfast.host.power import FencePlan, HaltError, fence, halt, halt_deadline
from standfast.messages.quorum_codes import FENCE_FAILED, FENCE_SUCCEEDED, FENCE_UNCONFIRMED

PY = sys.executable
TERM_IGNORED = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"


def script(path: Path, body: str) -> str:
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return str(path)


def test_halt_returns_when_the_command_succeeds(tmp_path: Path) -> None:
    marker = tmp_path / "halted"
    assert halt([script(tmp_path / "halt.sh", f"touch {marker}\n")], timeout=5) is None
    assert marker.exists()


def test_halt_failures_raise_190501() -> None:
    with pytest.raises(HaltError) as info:
        halt(["standfast-no-such-halt"], timeout=5)
    assert info.value.code == "190501" and info.value.result.returncode == 127
    assert "standfast-no-such-halt" in str(info.value)
    with pytest.raises(HaltError) as info:
        halt([PY, "-c", "raise SystemExit(3)"], timeout=5)
    assert info.value.result.returncode == 3
    with pytest.raises(ValueError):
        halt(["true"], timeout=0)


def test_a_hanging_halt_command_is_killed_within_its_deadline() -> None:
    t0 = time.monotonic()
    with pytest.raises(HaltError) as info:
        halt([PY, "-c", TERM_IGNORED], timeout=0.5)
    assert info.value.result.timed_out
    assert time.monotonic() - t0 < halt_deadline(0.5)
    assert halt_deadline(30.0) == 30.0 + power.COMMAND_GRACE + power.SLACK


def test_fence_plan_from_the_configuration_is_pure_and_bounded(tmp_path: Path) -> None:
    config = FenceConfig(
        command=("fence_x", "--plug={server}"),
        timeout=2.0,
        attempts=3,
        retry_delay=0.5,
        confirm_command=("status_x", "{server}"),
    )
    plan = fence_plan("s2", config)
    assert plan == FencePlan(
        target="s2",
        argv=("fence_x", "--plug=s2"),
        timeout=2.0,
        attempts=3,
        retry_delay=0.5,
        confirm_argv=("status_x", "s2"),
    )
    grace = power.COMMAND_GRACE
    assert plan.deadline == 3 * (2.0 + grace) + 2 * 0.5 + (2.0 + grace) + power.SLACK
    assert fence_plan("-bad", config) is None
    assert fence_plan("s2", FenceConfig(per_server={"s1": ("fence_x",)})) is None


@pytest.mark.parametrize(
    "kwargs",
    [
        {"target": ""},
        {"argv": ()},
        {"argv": ["fence_x"]},
        {"argv": ("",)},
        {"argv": ("a\0b",)},
        {"timeout": 0},
        {"timeout": float("inf")},
        {"attempts": 0},
        {"retry_delay": -1},
        {"confirm_timeout": 0},
        {"confirm_argv": ()},
    ],
)
def test_bad_plans_are_refused(kwargs: dict[str, object]) -> None:
    base: dict[str, object] = {"target": "s2", "argv": ("fence_x",), "timeout": 1.0}
    with pytest.raises(ValueError):
        FencePlan(**{**base, **kwargs})  # type: ignore[arg-type]


def test_fence_runs_retries_confirms_and_keeps_no_state(tmp_path: Path) -> None:
    count = tmp_path / "count"
    flaky = script(
        tmp_path / "flaky.sh",
        f"n=$(cat {count} 2>/dev/null || echo 0)\necho $((n+1)) > {count}\n"
        f'[ "$STANDFAST_FENCE_TARGET" = "$1" ] || exit 9\n[ "$n" -ge 1 ]\n',
    )
    off = script(tmp_path / "off.sh", "exit 0\n")
    plan = FencePlan("s2", (flaky, "s2"), timeout=5, attempts=3, confirm_argv=(off,))
    result = fence(plan)
    assert result.ok and result.code == FENCE_SUCCEEDED and result.attempts == 2
    assert result.confirmed is True and len(result.history) == 3
    assert "[attempt 2]" in result.output and "[confirm]" in result.output
    again = fence(plan)  # fencing an already fenced server just runs the command again
    assert again.ok and again.attempts == 1
    on = script(tmp_path / "on.sh", "echo 'still on' >&2\nexit 1\n")
    refused = fence(FencePlan("s2", (off,), timeout=5, confirm_argv=(on,)))
    assert not refused.ok and refused.code == FENCE_UNCONFIRMED and refused.confirmed is False
    assert "still on" in refused.detail


def test_a_hanging_fence_returns_within_the_plan_deadline() -> None:
    plan = FencePlan("s2", (PY, "-c", TERM_IGNORED), timeout=0.5, attempts=2)
    t0 = time.monotonic()
    result = fence(plan)
    assert time.monotonic() - t0 < plan.deadline
    assert not result.ok and result.timed_out and result.code == FENCE_FAILED
    assert result.attempts == 2 and "timed out" in result.detail
