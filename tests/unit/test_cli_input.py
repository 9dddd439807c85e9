"""Issue 11 through the CLI itself (click's runner): path parameters always encoded,
user text never read as markup, bad option values refused with numbered messages.

Where a command needs the daemon's answer, a small HTTP server on a real Unix socket
stands in for it and records the requests the CLI makes; tests/daemon repeats the cases that
matter against a real daemon.
"""

from __future__ import annotations

import http.server
import json
import re
import socketserver
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from standfast.cli.main import cli

CODE_LINE = re.compile(r"^\d{6}: ")
MARKUP = "[/x] [bold]b[/bold] [red"


@dataclass(frozen=True)
class Url:
    raw_path: bytes
    query: bytes
    fragment: str = ""


@dataclass(frozen=True)
class Request:
    method: str
    url: Url
    content: bytes


@dataclass
class Daemon:
    """Answers like the daemon on a real Unix socket; ``answers`` maps (method, decoded
    path) to a reply; ``seen`` records every request as it arrived."""

    answers: dict[tuple[str, str], tuple[int, Any]] = field(default_factory=dict)
    seen: list[Request] = field(default_factory=list)

    def answer(self, request: Request) -> tuple[int, bytes, str]:
        self.seen.append(request)
        key = (request.method, unquote(request.url.raw_path.decode()))
        status, body = self.answers.get(
            key, (404, {"error": {"code": "000019", "message": "Resource not found"}})
        )
        if isinstance(body, str):
            return status, body.encode(), "text/plain"
        return status, json.dumps(body).encode(), "application/json"

    @property
    def raw_paths(self) -> list[bytes]:
        return [r.url.raw_path for r in self.seen]


class _UnixHTTPServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


@pytest.fixture
def daemon(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Daemon]:
    d = Daemon()

    class Handler(http.server.BaseHTTPRequestHandler):
        def _any(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw, _, query = self.path.partition("?")
            request = Request(
                self.command, Url(raw.encode(), query.encode()), self.rfile.read(length)
            )
            status, body, kind = d.answer(request)
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PATCH = do_DELETE = _any

        def log_message(self, format: str, *args: Any) -> None:
            return None

    sock = tmp_path / "sf.sock"
    server = _UnixHTTPServer(str(sock), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("STANDFAST_SOCKET", str(sock))
    try:
        yield d
    finally:
        server.shutdown()
        server.server_close()


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    runner = CliRunner(env={"COLUMNS": "250", "LANG": "C.UTF-8", **(env or {})})
    return runner.invoke(cli, list(args), catch_exceptions=True)


def refused(result: Result, code: str, exit_code: int = 1) -> None:
    assert result.exit_code == exit_code, (result.output, result.exception)
    assert isinstance(result.exception, SystemExit), result.exception
    assert result.stderr.startswith(code + ":"), result.stderr


# -- 1. path parameters --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tag", "encoded"),
    [
        ("scratch?x", "scratch%3Fx"),
        ("db#x", "db%23x"),
        ("db?y", "db%3Fy"),
        ("zz/../db", "zz%2F%2E%2E%2Fdb"),
        ("../config", "%2E%2E%2Fconfig"),
        ("..", "%2E%2E"),
        ("a b%", "a%20b%25"),
        ("test-on-server1", "test-on-server1"),
    ],
)
def test_route_path_encodes_a_parameter_as_one_segment(tag: str, encoded: str) -> None:
    from standfast.cli.client import route_path

    assert route_path("/v1/resources/{}", [tag]) == "/v1/resources/" + encoded
    assert unquote(encoded) == tag


def test_route_path_refuses_a_wrong_parameter_count() -> None:
    from standfast.cli.client import route_path

    with pytest.raises(ValueError):
        route_path("/v1/resources/{}", [])


CASES = [
    (["resource", "delete", "scratch?x"], "DELETE", "scratch?x"),
    (["resource", "set", "db#x", "--priority", "7"], "PATCH", "db#x"),
    (["resource", "set", "db?y", "--priority", "7"], "PATCH", "db?y"),
    (["resource", "set", "zz/../db", "--priority", "7"], "PATCH", "zz/../db"),
    (["resource", "show", "../config"], "GET", "../config"),
    (["resource", "show", "../tunables"], "GET", "../tunables"),
]


@pytest.mark.parametrize(("args", "method", "tag"), CASES)
def test_cli_sends_the_tag_as_one_encoded_path_segment(
    daemon: Daemon, args: list[str], method: str, tag: str
) -> None:
    """Before: `resource delete 'scratch?x'` deleted scratch, `set 'db#x'` changed db,
    `show ../config` printed the whole configuration."""
    refused(run(*args), "000019")
    [request] = daemon.seen
    assert request.method == method
    assert request.url.query == b"" and request.url.fragment == ""
    prefix, _, segment = request.url.raw_path.decode().partition("/v1/resources/")
    assert prefix == "" and "/" not in segment and "." not in segment
    assert unquote(segment) == tag


# -- 2. user text is never markup -------------------------------------------------------------


def _status_with(text: str) -> dict[str, Any]:
    node = {
        "tag": "app1",
        "kit": "app",
        "id": text,
        "state": "ISP",
        "switchback": "intelligent",
        "priority": 1,
        "children": [],
    }
    return {"server": "server1", "config_version": 3, "hierarchies": [node]}


def test_status_prints_an_app_id_with_markup_as_written(daemon: Daemon) -> None:
    daemon.answers[("GET", "/v1/status")] = (200, _status_with(MARKUP))
    r = run("status")
    assert r.exit_code == 0, (r.output, r.exception)
    assert MARKUP in r.stdout


def test_show_prints_a_property_value_with_markup_as_written(daemon: Daemon) -> None:
    body = {"tag": "app1", "id": MARKUP, "props": {"restore": f"/bin/echo {MARKUP}"}}
    daemon.answers[("GET", "/v1/resources/app1")] = (200, body)
    r = run("resource", "show", "app1")
    assert r.exit_code == 0, (r.output, r.exception)
    assert f"restore=/bin/echo {MARKUP}" in r.stdout


def test_failing_command_stderr_with_markup_is_printed_as_written(daemon: Daemon) -> None:
    output = f"[/x] boom {MARKUP}"
    notices = [
        {"code": "190601", "severity": "error", "message": f"restore of app1 failed: {output}"},
        {"code": "000021", "severity": "warning", "message": "Removing [/warning] app1"},
        {"code": "190704", "severity": "info", "message": "Creating [/info]"},
    ]
    error = {"code": "000024", "message": "Failed resource creation of [/x]"}
    daemon.answers[("POST", "/v1/resources")] = (400, {"error": error, "notices": notices})
    r = run("resource", "create", "--kit", "app", "--tag", "app1")
    assert r.exit_code == 1 and isinstance(r.exception, SystemExit), r.exception
    assert output in r.stderr and "Removing [/warning] app1" in r.stderr
    assert "000024: Failed resource creation of [/x]" in r.stderr


def test_tunables_check_prints_a_halt_command_with_markup(tmp_path: Path) -> None:
    f = tmp_path / "defaults"
    f.write_text("SF_HALT_COMMAND='/sbin/halt [/x] --now'\n")
    r = run("tunables", "check", "--file", str(f))
    assert r.exit_code == 0, (r.output, r.exception)
    assert "/sbin/halt '[/x]' --now" in r.stdout


def test_tunables_check_prints_a_file_path_with_markup(tmp_path: Path) -> None:
    d = tmp_path / "a[" / "x]"
    d.mkdir(parents=True)
    f = d / "defaults"  # .../a[/x]/defaults
    f.write_text("LKNFSTIMEOUT=60\n")
    r = run("tunables", "check", "--file", str(f))
    assert r.exit_code == 0, (r.output, r.exception)
    assert str(f) in r.stdout


def test_cluster_status_tables_print_markup_as_written(daemon: Daemon) -> None:
    status = _status_with("plain")
    status["cluster"] = {
        "name": "c1",
        "quorum": {"has_quorum": True, "votes": 2, "needed": 2, "mode": "majority"},
        "servers": {
            "server1": {"paths": {}, "local": True, "alive": True, "failover_blocked": False},
            "server2": {
                "paths": {"[/x]net": "ALIVE", "n2": "DEAD"},
                "local": False,
                "alive": False,
                "failover_blocked": True,
            },
        },
        "hierarchies": [
            {
                "tag": "app1",
                "copies": [{"server": "server1", "state": "ISP", "priority": 1}],
                "target": {"in_service": True, "server": "server1"},
            }
        ],
    }
    daemon.answers[("GET", "/v1/status")] = (200, status)
    r = run("status")
    # A path is DEAD: status exits 3 (degraded, docs/monitoring.md) after printing it all.
    assert r.exit_code == 3, (r.output, r.exception)
    assert "[/x]net:ALIVE, n2:DEAD" in r.stdout and "ISP/1" in r.stdout


# -- 3. tunables check reports what the daemon would refuse ------------------------------


def test_tunables_check_reports_non_finite_and_huge_values(tmp_path: Path) -> None:
    f = tmp_path / "defaults"
    names = ["SF_QUICKCHECK_INTERVAL", "LKNFSTIMEOUT", "SF_ACTION_TIMEOUT", "SF_DEEPCHECK_INTERVAL"]
    values = ["1e309", "9" * 401, "inf", "1e-300"]
    f.write_text("".join(f"{n}={v}\n" for n, v in zip(names, values, strict=True)))
    r = run("tunables", "check", "--file", str(f), "--json")
    assert r.exit_code == 1, r.output
    data = json.loads(r.stdout)
    assert [n["code"] for n in data["notices"]] == ["190302"] * 4
    for name, notice in zip(names, data["notices"], strict=True):
        assert name in notice["message"]
    assert data["values"]["SF_QUICKCHECK_INTERVAL"] == 2.0  # the default is kept
    human = run("tunables", "check", "--file", str(f))
    assert human.exit_code == 1 and human.stderr.count("190302:") == 4


def test_tunables_check_reports_the_daemons_environment_settings(tmp_path: Path) -> None:
    f = tmp_path / "defaults"
    f.write_text("STANDFAST_SESSION_TTL=abc\nSTANDFAST_REMOTE_LISTEN=nowhere\n")
    r = run("tunables", "check", "--file", str(f), "--json")
    assert r.exit_code == 1, r.output
    notices = json.loads(r.stdout)["notices"]
    assert [n["code"] for n in notices] == ["194062", "194062"]
    assert "STANDFAST_SESSION_TTL" in notices[1]["message"] + notices[0]["message"]
    f.write_text("STANDFAST_SESSION_TTL=3600\nSTANDFAST_REMOTE_LISTEN=off\n")
    assert run("tunables", "check", "--file", str(f)).exit_code == 0


@pytest.mark.parametrize("value", ["inf", "nan", "1e309", "0", "-1", "1e-300", "soon"])
def test_timeout_option_is_finite_and_bounded(daemon: Daemon, value: str) -> None:
    refused(run("--timeout", value, "status"), "190024", exit_code=2)
    assert daemon.seen == []


# -- 4. option values ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["resource", "set", "db", "--priority", "x"],
        ["resource", "set", "db", "--priority", "1.5"],
        ["resource", "set", "db", "--priority", "9" * 5000],
        ["resource", "extend", "db", "--target", "s2", "--target-priority", "ten"],
        ["resource", "extend", "db", "--target", "s2", "--template-priority", "true"],
    ],
)
def test_priority_that_is_not_a_number_is_190005(daemon: Daemon, args: list[str]) -> None:
    refused(run(*args), "190005", exit_code=2)
    assert daemon.seen == []
    ja = run("--lang", "ja", *args)
    assert ja.stderr.startswith("190005:") and "優先順位" in ja.stderr


def test_priority_out_of_range_is_still_the_daemons_to_refuse(daemon: Daemon) -> None:
    run("resource", "set", "db", "--priority", "0")
    [request] = daemon.seen
    assert json.loads(request.content)["priority"] == 0


@pytest.mark.parametrize(
    "args",
    [
        ["resource", "set", "db", "--switchback", ""],
        ["resource", "set", "db", "--switchback", "sometimes"],
        ["resource", "extend", "db", "--target", "s2", "--switchback", ""],
        ["resource", "create", "--kit", "app", "--tag", "a", "--switchback", ""],
    ],
)
def test_empty_switchback_is_refused_before_the_daemon_is_asked(
    daemon: Daemon, args: list[str]
) -> None:
    """Before: `--switchback ''` bumped the configuration version and changed nothing."""
    refused(run(*args), "190014")
    assert daemon.seen == []


def test_daemon_answer_without_a_code_is_still_a_numbered_line(daemon: Daemon) -> None:
    daemon.answers[("GET", "/v1/status")] = (500, "Internal Server Error")
    refused(run("status"), "190210")
    daemon.answers[("GET", "/v1/status")] = (405, {"detail": "Method Not Allowed"})
    r = run("status")
    refused(r, "190210")
    assert "405" in r.stderr


# -- fuzz: the option types never raise anything but a numbered refusal -------------------


def _fuzz(args: Callable[[str], list[str]], value: str) -> None:
    r = CliRunner().invoke(cli, ["--socket", "/nonexistent/sf.sock", *args(value)])
    assert isinstance(r.exception, SystemExit), (value, r.exception)
    assert r.exit_code in (1, 2)
    assert CODE_LINE.match(r.stderr), (value, r.stderr)


_OPTION_TEXT = st.one_of(
    st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00")),
    st.integers(min_value=-(10**40), max_value=10**40).map(str),
    st.floats().map(repr),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_OPTION_TEXT)
def test_fuzz_priority_option(value: str) -> None:
    _fuzz(lambda v: ["resource", "set", "db", "--priority", v], value)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_OPTION_TEXT)
def test_fuzz_timeout_option(value: str) -> None:
    _fuzz(lambda v: ["--timeout", v, "status"], value)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_OPTION_TEXT)
def test_fuzz_tag_argument_is_sent_encoded(value: str) -> None:
    _fuzz(lambda v: ["resource", "show", "--", v], value)
