"""probe_mount_point on ordinary paths; system facts (no root needed)."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from standfast.host.probe import probe_mount_point
from standfast.host.system import hostname, local_addresses


def test_probe_existing_directory(tmp_path: Path) -> None:
    result = probe_mount_point(str(tmp_path), syscall_timeout=5, overall_timeout=20)
    assert result.ok and result.attempts == 1 and not result.timed_out


def test_probe_missing_path_retries_and_reports_errno(tmp_path: Path) -> None:
    result = probe_mount_point(
        str(tmp_path / "missing"), syscall_timeout=5, overall_timeout=20, tries=2
    )
    assert not result.ok and not result.timed_out
    assert result.attempts == 2
    assert "stat of" in result.detail and "errno 2" in result.detail


def test_probe_refuses_relative_path_and_bad_arguments() -> None:
    result = probe_mount_point("relative/path", syscall_timeout=1, overall_timeout=5)
    assert not result.ok and result.attempts == 0
    with pytest.raises(ValueError):
        probe_mount_point("/", syscall_timeout=0, overall_timeout=5)


def test_local_addresses_flag_loopback() -> None:
    addrs = local_addresses()
    loop = [a for a in addrs if a.loopback]
    assert ipaddress.ip_address("127.0.0.1") in {a.address for a in loop}
    assert all(not a.address.is_loopback for a in addrs if not a.loopback)


def test_hostname() -> None:
    # The halt command's tests are tests/unit/test_host_power.py's (host.power.halt).
    assert hostname()
