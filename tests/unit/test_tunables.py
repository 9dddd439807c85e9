"""The defaults file: names from the guide, the 107009 rule, bad lines reported."""

from __future__ import annotations

import re
from pathlib import Path

from standfast.config.tunables import (
    ENVIRONMENT_SETTINGS,
    Tunables,
    load_tunables,
    parse_defaults,
)

P = Path("/etc/default/standfast")


def codes(notices: list[object]) -> list[str]:
    return [n.code for n in notices]  # type: ignore[attr-defined]


def test_defaults_match_the_guide() -> None:
    t = Tunables()
    assert (t.LKNFSTIMEOUT, t.LKNFSSYSCALLTO, t.LKNASERROR) == (120, 5, "switch")
    assert t.SF_NAS_LOCAL_RECOVERY is False  # off by default, as in the guide


def test_values_parsed_with_quotes_comments_and_export() -> None:
    t, notices = parse_defaults(
        '# comment\nLKNFSTIMEOUT=60\nexport LKNFSSYSCALLTO="3"\nLKNASERROR=halt  # why\n'
        "SF_NAS_LOCAL_RECOVERY=yes\nSF_HALT_COMMAND='/sbin/halt -f -p'\n",
        P,
        "s1",
    )
    assert notices == []
    assert (t.LKNFSTIMEOUT, t.LKNFSSYSCALLTO, t.LKNASERROR) == (60, 3, "halt")
    assert t.SF_NAS_LOCAL_RECOVERY is True
    assert t.SF_HALT_COMMAND == ("/sbin/halt", "-f", "-p")
    assert t.sources["LKNFSTIMEOUT"] == f"{P}:2"


def test_illogical_settings_give_107009_and_both_defaults() -> None:
    # 3 * 10 + 5 = 35 is not < 30
    t, notices = parse_defaults("LKNFSTIMEOUT=30\nLKNFSSYSCALLTO=10\nLKNASERROR=halt\n", P, "s1")
    assert codes(notices) == ["107009"]
    assert (t.LKNFSTIMEOUT, t.LKNFSSYSCALLTO) == (120, 5)
    assert t.LKNASERROR == "halt"  # other values stay
    assert "s1" in notices[0].text("en")


def test_boundary_of_the_rule() -> None:
    _, notices = parse_defaults("LKNFSTIMEOUT=21\nLKNFSSYSCALLTO=5\n", P, "s1")
    assert notices == []  # 20 < 21
    _, notices = parse_defaults("LKNFSTIMEOUT=20\nLKNFSSYSCALLTO=5\n", P, "s1")
    assert codes(notices) == ["107009"]


def test_bad_values_unknown_names_and_garbage_lines() -> None:
    t, notices = parse_defaults(
        "LKNASERROR=reboot\nLKNFSTIMEOUT=-3\nNOPE=1\nthis is not a setting\n", P, "s1"
    )
    assert codes(notices) == ["190302", "190302", "190303", "190304"]
    assert t == Tunables()


def test_missing_file_is_defaults_unreadable_is_reported(tmp_path: Path) -> None:
    t, notices = load_tunables(tmp_path / "absent", "s1")
    assert t == Tunables() and notices == []
    d = tmp_path / "dir"
    d.mkdir()
    t, notices = load_tunables(d, "s1")
    assert codes(notices) == ["190301"]


def test_daemon_environment_settings_may_stand_in_the_file() -> None:
    """systemd reads the same file as the daemon's environment: its settings are not
    unknown tunables, but a misspelt one is."""
    text = "STANDFAST_REMOTE_LISTEN=0.0.0.0:7443\nSTANDFAST_SESSION_TTL=3600\n"
    t, notices = parse_defaults(text + "STANDFAST_REMOTE_LISTN=off\n", P, "s1")
    assert [(n.code, n.params["name"]) for n in notices] == [("190303", "STANDFAST_REMOTE_LISTN")]
    assert t == Tunables()


def test_every_environment_setting_the_code_reads_is_known() -> None:
    """Each STANDFAST_* name in the package is a daemon setting listed as such, or one
    of the few that are not settings (the tunables file's own path, lab and fencing)."""
    not_settings = {
        "STANDFAST_DEFAULTS",
        "STANDFAST_FENCE_TARGET",
        "STANDFAST_LAB_CACHE",
        "STANDFAST_LAB_DIR",
        # Journal fields the daemon writes (daemon/journal.py), not settings it reads.
        "STANDFAST_CODE",
        "STANDFAST_LOGGER",
    }
    src = Path(__file__).resolve().parents[2] / "src" / "standfast"
    used = set()
    for f in src.rglob("*.py"):
        used |= set(re.findall(r"\"(STANDFAST_[A-Z_]+)\"", f.read_text()))
    assert used - not_settings == set(ENVIRONMENT_SETTINGS)


def test_watchdog_settings_fall_back_together_when_illogical() -> None:
    from pathlib import Path

    from standfast.config.tunables import parse_defaults

    p = Path("/etc/default/standfast")
    t, notices = parse_defaults(
        "SF_WATCHDOG_DEVICE=/dev/watchdog\nSF_WATCHDOG_TIMEOUT=5\n", p, "s1"
    )
    assert (t.SF_WATCHDOG_DEVICE, t.SF_WATCHDOG_TIMEOUT, t.SF_WATCHDOG_MARGIN) == (
        "/dev/watchdog",
        5,
        2.0,
    )
    assert notices == []
    t, notices = parse_defaults("SF_WATCHDOG_TIMEOUT=1\nSF_WATCHDOG_MARGIN=3\n", p, "s1")
    assert [n.code for n in notices] == ["190305"]
    assert (t.SF_WATCHDOG_TIMEOUT, t.SF_WATCHDOG_MARGIN) == (10, 2.0)
    _, notices = parse_defaults("SF_WATCHDOG_DEVICE=watchdog\n", p, "s1")
    assert [n.code for n in notices] == ["190302"]


def test_ocf_root_is_an_absolute_directory() -> None:
    assert Tunables().SF_OCF_ROOT == "/usr/lib/ocf"
    t, notices = parse_defaults("SF_OCF_ROOT=/opt/ocf/\n", P, "s1")
    assert t.SF_OCF_ROOT == "/opt/ocf" and notices == []
    t, notices = parse_defaults("SF_OCF_ROOT=relative/ocf\n", P, "s1")
    assert codes(notices) == ["190302"] and t.SF_OCF_ROOT == "/usr/lib/ocf"
