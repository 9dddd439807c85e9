"""Fencing with real fence scripts: success, hang, retry, confirmation, bad input."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from standfast.cluster.fencing import FenceConfig, FenceConfigError, expand, fence, fence_async
from standfast.host.commands import TERM_GRACE
from standfast.messages.quorum_codes import (
    BAD_FENCE_CONFIG,
    FENCE_FAILED,
    FENCE_NOT_CONFIGURED,
    FENCE_SUCCEEDED,
    FENCE_UNCONFIRMED,
)


def script(path: Path, body: str) -> str:
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return str(path)


@pytest.fixture
def marker_fence(tmp_path: Path) -> tuple[str, Path]:
    marker = tmp_path / "fenced"
    cmd = script(
        tmp_path / "fence.sh",
        f'printf "%s|%s|%s\\n" "$1" "$2" "$STANDFAST_FENCE_TARGET" >> {marker}\n'
        'echo "powered off $2"\n',
    )
    return cmd, marker


def test_fence_runs_the_command_with_the_server_as_one_argument(
    marker_fence: tuple[str, Path],
) -> None:
    cmd, marker = marker_fence
    cfg = FenceConfig(command=(cmd, "--plug={server}", "{server}"), timeout=5)
    result = fence("server2", cfg)
    assert result.ok and result.attempts == 1 and result.code == FENCE_SUCCEEDED
    assert result.confirmed is None
    assert marker.read_text() == "--plug=server2|server2|server2\n"
    assert "powered off server2" in result.output
    assert result.elapsed < 5


def test_per_server_command_overrides_the_default(tmp_path: Path) -> None:
    default = script(tmp_path / "default.sh", "exit 1\n")
    special = script(tmp_path / "special.sh", "exit 0\n")
    cfg = FenceConfig(command=(default,), per_server={"s2": (special,)}, timeout=5, attempts=1)
    assert fence("s2", cfg).ok
    assert not fence("s1", cfg).ok


def test_hanging_fence_command_is_killed_after_the_timeout(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    # Ignores SIGTERM, so the group has to be SIGKILLed after the grace period.
    cmd = script(tmp_path / "hang.sh", f"trap '' TERM\necho $$ >> {pids}\nsleep 30\n")
    cfg = FenceConfig(command=(cmd, "{server}"), timeout=0.5, attempts=2, retry_delay=0)
    started = time.monotonic()
    result = fence("s2", cfg)
    elapsed = time.monotonic() - started
    assert not result.ok and result.timed_out and result.attempts == 2
    assert result.code == FENCE_FAILED and "timed out" in result.detail
    assert elapsed <= 2 * (0.5 + TERM_GRACE) + 1.0, elapsed
    for pid in map(int, pids.read_text().split()):
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text()


def test_a_failing_command_is_retried_until_it_succeeds(tmp_path: Path) -> None:
    count = tmp_path / "count"
    cmd = script(
        tmp_path / "flaky.sh",
        f"n=$(cat {count} 2>/dev/null || echo 0)\nn=$((n+1))\necho $n > {count}\n"
        'if [ "$n" -lt 2 ]; then echo "device busy" >&2; exit 1; fi\necho ok\n',
    )
    cfg = FenceConfig(command=(cmd,), timeout=5, attempts=3, retry_delay=0.1)
    result = fence("s2", cfg)
    assert result.ok and result.attempts == 2
    assert count.read_text().strip() == "2"
    assert "device busy" in result.output and "[attempt 2]" in result.output


def test_every_attempt_failing_is_reported(tmp_path: Path) -> None:
    cmd = script(tmp_path / "fail.sh", "echo 'no route to PDU' >&2\nexit 3\n")
    result = fence("s2", FenceConfig(command=(cmd,), timeout=5, attempts=3, retry_delay=0))
    assert not result.ok and result.attempts == 3 and not result.timed_out
    assert result.code == FENCE_FAILED and "exit 3" in result.detail
    assert result.output.count("no route to PDU") == 3


def test_confirm_command(tmp_path: Path, marker_fence: tuple[str, Path]) -> None:
    cmd, marker = marker_fence
    off = script(tmp_path / "status_off.sh", f'grep -q "|$1$" {marker}\n')
    on = script(tmp_path / "status_on.sh", "echo 'still on' >&2\nexit 1\n")
    confirmed = fence(
        "s2",
        FenceConfig(command=(cmd, "x", "{server}"), confirm_command=(off, "{server}"), timeout=5),
    )
    assert confirmed.ok and confirmed.confirmed is True and confirmed.code == FENCE_SUCCEEDED
    refused = fence(
        "s3", FenceConfig(command=(cmd, "x", "{server}"), confirm_command=(on,), timeout=5)
    )
    assert not refused.ok and refused.confirmed is False
    assert refused.code == FENCE_UNCONFIRMED and "still on" in refused.output


def test_confirm_is_not_run_when_fencing_failed(tmp_path: Path) -> None:
    ran = tmp_path / "confirm-ran"
    fail = script(tmp_path / "fail.sh", "exit 1\n")
    confirm = script(tmp_path / "confirm.sh", f"touch {ran}\n")
    cfg = FenceConfig(command=(fail,), confirm_command=(confirm,), timeout=5, attempts=1)
    result = fence("s2", cfg)
    assert not result.ok and result.confirmed is None and not ran.exists()


@pytest.mark.parametrize("name", ["-rf", "a b", "s1;reboot", "", "../x", "s1\nx"])
def test_bad_target_names_never_reach_the_command(
    name: str, marker_fence: tuple[str, Path]
) -> None:
    cmd, marker = marker_fence
    result = fence(name, FenceConfig(command=(cmd, "{server}"), timeout=5))
    assert not result.ok and result.code == FENCE_NOT_CONFIGURED and result.attempts == 0
    assert not marker.exists()
    with pytest.raises(ValueError):
        expand((cmd, "{server}"), name)


def test_missing_command_is_a_failed_attempt(tmp_path: Path) -> None:
    result = fence("s2", FenceConfig(command=(str(tmp_path / "nope"),), timeout=5, attempts=1))
    assert not result.ok and "exit 127" in result.detail


@pytest.mark.parametrize(
    "kwargs",
    [
        {"command": "fence_ipmilan --plug {server}"},  # one string: would need a shell
        {"command": ()},
        {"command": ("{server}",)},
        {"command": ("/bin/true",), "timeout": 0},
        {"command": ("/bin/true",), "timeout": float("nan")},
        {"command": ("/bin/true",), "attempts": 0},
        {"command": ("/bin/true",), "attempts": 21},
        {"command": ("/bin/true",), "retry_delay": -1},
        {"command": ("/bin/true",), "confirm_command": ("a\0b",)},
        {"command": ("/bin/true",), "per_server": {"-x": ("/bin/true",)}},
        {},
    ],
)
def test_bad_configurations_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(FenceConfigError) as info:
        FenceConfig(**kwargs)  # type: ignore[arg-type]
    assert info.value.code == BAD_FENCE_CONFIG


async def test_fence_async_does_not_block_the_loop(tmp_path: Path) -> None:
    cmd = script(tmp_path / "slow.sh", "sleep 0.3\n")
    result = await fence_async("s2", FenceConfig(command=(cmd,), timeout=5))
    assert result.ok and result.elapsed >= 0.3
    assert os.environ.get("STANDFAST_FENCE_TARGET") is None
