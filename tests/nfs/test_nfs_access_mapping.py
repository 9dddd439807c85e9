"""check_export_access: which step failed, for failures a real ganesha cannot show
(its MOUNT and NFS services share one process): MNT hangs, MNT refusals of a listed
export, netgroup lists."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from standfast.nfs import (
    AccessResult,
    Export,
    MountAuth,
    NfsProtocolError,
    NfsTimeout,
    NfsUnreachable,
    check_export_access,
    checks,
)

ME = [ipaddress.ip_address("10.0.0.5")]


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    state: dict[str, Any] = {
        "null": 0.001,
        "exports": [Export("/data", ("10.0.0.0/24",))],
        "mount": MountAuth(ok=True, status=0, flavors=(1,), fh_length=24),
    }

    def outcome(key: str) -> Any:
        value = state[key]
        if isinstance(value, Exception):
            raise value
        return value

    monkeypatch.setattr(checks, "null_call", lambda host, **kw: outcome("null"))
    monkeypatch.setattr(checks, "export_list", lambda host, **kw: outcome("exports"))
    monkeypatch.setattr(checks, "mount_authorized", lambda host, export, **kw: outcome("mount"))
    return state


def _check(export: str = "/data") -> AccessResult:
    return check_export_access("10.0.0.1", export, ME, ["node1"], timeout=1.0).result


def test_ok(fake: dict[str, Any]) -> None:
    assert _check() is AccessResult.OK
    assert _check("/data/") is AccessResult.OK


@pytest.mark.parametrize(
    ("key", "error", "expected"),
    [
        ("null", NfsTimeout("h", "NULL", 1.0), AccessResult.SERVER_HUNG),
        ("null", NfsUnreachable("h", "NULL", 0.0), AccessResult.SERVER_DOWN),
        ("null", NfsProtocolError("h", "GETPORT", 0.0, "not registered"), AccessResult.SERVER_DOWN),
        ("exports", NfsTimeout("h", "EXPORT", 1.0), AccessResult.SERVER_HUNG),
        ("exports", NfsUnreachable("h", "EXPORT", 0.0), AccessResult.SERVER_DOWN),
        ("mount", NfsTimeout("h", "MNT", 1.0), AccessResult.AUTH_HUNG),
        ("mount", NfsProtocolError("h", "MNT", 0.0, "AUTH_TOOWEAK"), AccessResult.AUTH_DENIED),
        ("mount", NfsUnreachable("h", "MNT", 0.0), AccessResult.SERVER_DOWN),
        ("mount", MountAuth(ok=False, status=13, flavors=()), AccessResult.AUTH_DENIED),
    ],
)
def test_failed_steps(fake: dict[str, Any], key: str, error: Any, expected: AccessResult) -> None:
    fake[key] = error
    assert _check() is expected


def test_not_exported_and_not_allowed(fake: dict[str, Any]) -> None:
    assert _check("/other") is AccessResult.NOT_EXPORTED
    fake["exports"] = [Export("/data", ("192.0.2.0/24",))]
    assert _check() is AccessResult.NOT_ALLOWED


def test_netgroup_lists_are_left_to_the_mount_check(fake: dict[str, Any]) -> None:
    fake["exports"] = [Export("/data", ("@cluster",))]
    assert _check() is AccessResult.OK
    fake["mount"] = MountAuth(ok=False, status=13, flavors=())
    assert _check() is AccessResult.AUTH_DENIED


def test_unresolvable_server_name_is_down() -> None:
    result = check_export_access("no-such-nas.invalid", "/data", ME, [], timeout=2.0)
    assert result.result is AccessResult.SERVER_DOWN
