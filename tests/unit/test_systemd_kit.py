"""The systemd kit's pure parts: unit names, ``systemctl show`` output, health."""

from __future__ import annotations

import pytest

from standfast.kits.systemd import check_unit_name, parse_show, unit_health
from standfast.messages import StandfastError


@pytest.mark.parametrize(
    "unit",
    ["nginx.service", "getty@tty1.service", "var-lib-data.mount", "a_b-c:d.socket", "x.timer"],
)
def test_unit_names(unit: str) -> None:
    assert check_unit_name(unit) == unit


@pytest.mark.parametrize(
    "unit",
    ["", "nginx", "not a unit", "-x.service", "--now.service", "a/b.service", "a.device",
     "x.service\n", "x\x00.service", "é.service", "a" * 250 + ".service"],
)  # fmt: skip
def test_bad_unit_names(unit: str) -> None:
    with pytest.raises(StandfastError) as info:
        check_unit_name(unit)
    assert info.value.code == "195102"


def test_parse_show() -> None:
    text = "LoadState=loaded\nActiveState=failed\nSubState=failed\nResult=signal\nnoise\n"
    assert parse_show(text) == {
        "LoadState": "loaded",
        "ActiveState": "failed",
        "SubState": "failed",
        "Result": "signal",
    }


@pytest.mark.parametrize(
    ("active", "sub", "healthy", "state"),
    [
        ("active", "running", True, "active/running"),
        ("active", "exited", True, "active/exited"),  # a oneshot with RemainAfterExit
        ("reloading", "reload", True, "reloading/reload"),
        ("activating", "auto-restart", False, "activating/auto-restart"),
        ("inactive", "dead", False, "inactive/dead"),
        ("failed", "failed", False, "failed/failed"),
        ("deactivating", "stop-sigterm", False, "deactivating/stop-sigterm"),
    ],
)
def test_unit_health(active: str, sub: str, healthy: bool, state: str) -> None:
    got = unit_health({"ActiveState": active, "SubState": sub, "Result": "success"})
    assert got == (healthy, state, "success")


def test_unit_health_of_nothing_shown() -> None:
    assert unit_health({}) == (False, "unknown", "unknown")
