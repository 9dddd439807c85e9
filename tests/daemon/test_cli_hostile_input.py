"""Issue 11 against a real daemon with the real CLI: tags with URL syntax address only
themselves, user text with rich markup prints as written, non-finite and huge numbers
and NUL bytes are refused before anything runs, and a refusal changes nothing."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.daemon.test_app_hierarchy import app_props
from tests.support.daemon import Daemon

pytestmark = pytest.mark.daemon

CODE_LINE = re.compile(r"^\d{6}: ", re.MULTILINE)


def no_crash(r: Any) -> None:
    assert "Traceback" not in r.stderr and "MarkupError" not in r.stderr, r.stderr


def create_app(daemon: Daemon, tmp_path: Path, tag: str, *extra: str) -> None:
    r = daemon.cli(
        "resource", "create", "--kit", "app", "--tag", tag, *app_props(tmp_path, tag), *extra
    )
    assert r.returncode == 0, r.stderr


def test_tags_with_url_syntax_address_only_themselves(daemon: Daemon, tmp_path: Path) -> None:
    create_app(daemon, tmp_path, "scratch")
    create_app(daemon, tmp_path, "db")
    assert daemon.cli("resource", "out-of-service", "scratch").returncode == 0
    before = daemon.api("GET", "/v1/config")

    cases = [
        ["resource", "delete", "scratch?x"],
        ["resource", "delete", "scratch#x"],
        ["resource", "set", "db#x", "--priority", "7"],
        ["resource", "set", "db?y", "--priority", "7"],
        ["resource", "set", "zz/../db", "--priority", "7"],
        ["resource", "set", "./db", "--priority", "7"],
    ]
    for args in cases:
        r = daemon.cli(*args)
        no_crash(r)
        assert r.returncode != 0, (args, r.stdout)
        assert r.stderr.startswith("000019:"), (args, r.stderr)
    assert daemon.api("GET", "/v1/config") == before

    for tag in ("../config", "../tunables", "..", "../status"):
        r = daemon.cli("resource", "show", tag, "--json")
        no_crash(r)
        assert r.returncode != 0 and r.stderr.startswith("000019:"), (tag, r.stdout)
        assert r.stdout == ""
    # The tags themselves still work.
    assert daemon.cli_json("resource", "show", "db")["priority"] == 1
    assert daemon.cli("resource", "delete", "scratch").returncode == 0


def test_new_tag_with_a_dot_segment_is_refused(daemon: Daemon, tmp_path: Path) -> None:
    r = daemon.cli(
        "resource", "create", "--kit", "app", "--tag", "x/../db", *app_props(tmp_path, "x")
    )
    assert r.returncode != 0 and r.stderr.startswith("190022:"), r.stderr
    assert not (tmp_path / "x.up").exists()
    assert daemon.api("GET", "/v1/status")["hierarchies"] == []


def test_user_text_with_markup_prints_as_written(daemon: Daemon, tmp_path: Path) -> None:
    markup = "[/x] [bold]b[/bold]"
    create_app(
        daemon, tmp_path, "mk", "--id", f"id {markup}", "--prop", f"recover=/bin/true {markup}"
    )
    r = daemon.cli("status")
    no_crash(r)
    assert r.returncode == 0 and f"id {markup}" in r.stdout, r.stdout
    r = daemon.cli("resource", "show", "mk")
    no_crash(r)
    assert r.returncode == 0 and f"recover=/bin/true {markup}" in r.stdout, r.stdout

    # A failing command's stderr comes back in the notices.
    r = daemon.cli(
        "resource",
        "create",
        "--kit",
        "app",
        "--tag",
        "bad",
        "--prop",
        "restore=/bin/sh -c 'echo \"[/x] boom\" >&2; exit 3'",
        "--prop",
        "remove=/bin/true",
    )
    no_crash(r)
    assert r.returncode == 1 and "[/x] boom" in r.stderr, r.stderr
    assert r.stderr.splitlines()[-1].startswith("000024:")
    assert daemon.cli("status").returncode == 0


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("check_timeout", "nan"),
        ("check_timeout", "inf"),
        ("restore_timeout", "inf"),
        ("restore_timeout", "1e300"),
        ("remove_timeout", "9" * 401),
    ],
    ids=[
        "check_timeout=nan",
        "check_timeout=inf",
        "restore_timeout=inf",
        "restore_timeout=1e300",
        "remove_timeout=401-digits",
    ],
)
def test_non_finite_or_huge_timeout_is_refused_before_the_restore_runs(
    daemon: Daemon, tmp_path: Path, name: str, value: str
) -> None:
    """Before: restore_timeout=inf gave a 500 after the command ran and the resource
    stayed; check_timeout=nan spun the daemon; inf logged a traceback every 0.2 s."""
    r = daemon.cli(
        "resource", "create", "--kit", "app", "--tag", "t", *app_props(tmp_path, "t"),
        "--prop", f"{name}={value}",
    )  # fmt: skip
    no_crash(r)
    assert r.returncode == 1 and r.stderr.startswith("190011:"), r.stderr
    assert name in r.stderr
    assert not (tmp_path / "t.up").exists()  # the restore never ran
    assert daemon.api("GET", "/v1/status")["hierarchies"] == []

    # The same values are refused when set on an existing resource.
    create_app(daemon, tmp_path, "u")
    before = daemon.api("GET", "/v1/config")
    r = daemon.cli("resource", "set", "u", "--prop", f"{name}={value}")
    assert r.returncode == 1 and r.stderr.startswith("190011:"), r.stderr
    assert daemon.api("GET", "/v1/config") == before


def test_nul_in_an_id_or_property_is_refused_and_leaves_nothing(
    daemon: Daemon, tmp_path: Path
) -> None:
    """Before: a NUL in an app id gave a 500 and left a half-created resource."""
    marker = tmp_path / "n.up"
    props = {"restore": f"/usr/bin/touch {marker}", "remove": f"/bin/rm -f {marker}"}
    reply = daemon.api(
        "POST", "/v1/resources", {"kit": "app", "tag": "n", "id": "a\x00b", "props": props}
    )
    assert reply["error"]["code"] == "190023", reply
    reply = daemon.api(
        "POST",
        "/v1/resources",
        {"kit": "app", "tag": "n", "props": {**props, "quick_check": "/bin/true \x00"}},
    )
    assert reply["error"]["code"] == "190011", reply
    assert not marker.exists()
    assert daemon.api("GET", "/v1/config")["resources"] == []
    # The daemon still answers and still creates.
    assert "error" not in daemon.api(
        "POST", "/v1/resources", {"kit": "app", "tag": "n", "props": props}
    )


def test_option_values_are_refused_with_numbered_messages(daemon: Daemon, tmp_path: Path) -> None:
    create_app(daemon, tmp_path, "a")
    before = daemon.api("GET", "/v1/config")
    for args, code in [
        (["resource", "set", "a", "--priority", "x"], "190005"),
        (["resource", "set", "a", "--switchback", ""], "190014"),
        (["--timeout", "inf", "status"], "190024"),
    ]:
        r = daemon.cli(*args)
        no_crash(r)
        assert r.returncode != 0 and r.stderr.startswith(code + ":"), (args, r.stderr)
    assert daemon.api("GET", "/v1/config") == before  # the version did not move
