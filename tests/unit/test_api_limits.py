"""The API's limits, pure parts: the connection guard, the login throttle (with a clock),
the JSON limits, the settings and the log's repeat filter."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from standfast.api.limits import ENV_NAMES, ApiLimits, ConnectionGuard, RepeatFilter
from standfast.api.remote.throttle import LoginThrottle
from standfast.api.request_limits import json_limits
from standfast.config.tunables import ENVIRONMENT_SETTINGS
from standfast.daemon.descriptors import raise_nofile


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_guard_counts_per_source_and_in_all(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    g = ConnectionGuard("remote API", max_total=5, max_per_source=3, clock=clock)
    assert [g.admit("a") for _ in range(4)] == [True, True, True, False]
    assert g.admit("b") and g.admit("b")
    assert not g.admit("c")  # five open: the limit in all
    assert (g.total, g.count("a"), g.refused) == (5, 3, 2)
    g.release("a")
    assert g.admit("c")
    g.release("zzz")  # never admitted: nothing changes
    assert g.total == 5
    # One log line for both refusals (within LOG_EVERY), the next after it.
    lines = [r.getMessage() for r in caplog.records if "194096" in r.getMessage()]
    assert len(lines) == 1 and "remote API" in lines[0]
    clock.now += 11
    assert not g.admit("a")
    lines = [r.getMessage() for r in caplog.records if "194096" in r.getMessage()]
    assert len(lines) == 2 and "Refused 2 connection(s)" in lines[1]


def test_throttle_locks_out_a_source_and_an_account_with_growing_lockouts() -> None:
    clock = Clock()
    t = LoginThrottle(failures=3, lockout=10.0, lockout_max=60.0, clock=clock)
    for _ in range(2):
        t.failed("10.0.0.1", "root")
    assert t.locked_for("10.0.0.1", "root") == 0
    t.failed("10.0.0.1", "root")
    assert t.locked_for("10.0.0.1", "root") == 10.0
    assert t.locked_for("10.0.0.1", "alice") == 10.0  # the source is locked
    assert t.locked_for("10.0.0.2", "root") == 10.0  # and the account
    assert t.locked_for("10.0.0.2", "alice") == 0
    clock.now += 10
    assert t.locked_for("10.0.0.1", "root") == 0
    t.failed("10.0.0.1", "root")  # one more after the lockout: twice as long
    assert t.locked_for("10.0.0.1", "root") == 20.0
    for _ in range(10):
        clock.now += t.locked_for("10.0.0.1", "root")  # each try right after a lockout
        t.failed("10.0.0.1", "root")
    assert t.locked_for("10.0.0.1", "root") == 60.0  # capped
    t.succeeded("10.0.0.1", "root")
    assert t.locked_for("10.0.0.1", "root") == 0


def test_throttle_forgets_old_failures_and_allows_one_check_per_source() -> None:
    clock = Clock()
    t = LoginThrottle(failures=3, lockout=10.0, lockout_max=60.0, clock=clock)
    t.failed("s", "u")
    t.failed("s", "u")
    clock.now += 61
    t.failed("s", "u")
    assert t.locked_for("s", "u") == 0  # the first two were forgotten
    assert t.begin("s") and not t.begin("s") and t.begin("other")
    t.end("s")
    assert t.begin("s")


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"[" * 33 + b"]" * 33, "194092"),
        (b'{"a":' * 40 + b"1" + b"}" * 40, "194092"),
        (b'{"n": ' + b"9" * 65 + b"}", "194093"),
        (b'{"n": 1.' + b"5" * 70 + b"}", "194093"),
        (b"[" * 32 + b"]" * 32, None),
        (b'{"s": "' + b"[" * 100 + b"9" * 100 + b'"}', None),  # inside a string
        (b'{"s": "a\\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}', None),
        (json.dumps({"tag": "x", "props": {"a": 1, "b": [1, 2, {"c": 3}]}}).encode(), None),
        (b"[]" * 100000, None),
    ],
)
def test_json_limits(body: bytes, code: str | None) -> None:
    refusal = json_limits(body, 32, 64)
    assert (refusal.code if refusal else None) == code


def test_settings_from_env_and_their_numbered_refusals() -> None:
    limits, notices = ApiLimits.from_env(
        {
            "STANDFAST_API_MAX_BODY": "4096",
            "STANDFAST_API_HEADER_TIMEOUT": "2.5",
            "STANDFAST_LOGIN_FAILURES": "zero",
            "STANDFAST_API_MAX_PER_SOURCE": "0",
        }
    )
    assert limits.max_body == 4096 and limits.header_timeout == 2.5
    assert limits.login_failures == ApiLimits().login_failures
    assert limits.max_per_source == ApiLimits().max_per_source
    assert sorted(n.params["name"] for n in notices) == [
        "STANDFAST_API_MAX_PER_SOURCE",
        "STANDFAST_LOGIN_FAILURES",
    ]
    assert {n.code for n in notices} == {"194062"}
    assert len(set(ENV_NAMES.values())) == len(ENV_NAMES)
    # They may stand in /etc/default/standfast beside the tunables, and are listed there.
    assert set(ENV_NAMES.values()) <= ENVIRONMENT_SETTINGS
    defaults = (Path(__file__).parents[2] / "packaging" / "default" / "standfast").read_text()
    assert all(f"#{name}=" in defaults for name in ENV_NAMES.values())


def test_descriptor_budget_keeps_half_for_the_daemon() -> None:
    small = ApiLimits().within_descriptors(256)
    assert (small.max_connections, small.local_max_connections) == (64, 32)
    assert small.max_per_source == 32 and small.local_max_per_user == 32
    assert small.within_descriptors(256) == small
    big = ApiLimits().within_descriptors(65536)
    assert big.max_connections == ApiLimits().max_connections
    tiny = ApiLimits().within_descriptors(16)
    assert tiny.max_connections == 4 and tiny.max_per_source == 4


def test_raise_nofile_never_lowers() -> None:
    import resource

    before = resource.getrlimit(resource.RLIMIT_NOFILE)
    soft, notices = raise_nofile(wanted=before[0])
    assert soft >= before[0] and not notices
    assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] >= before[0]


def test_repeat_filter_lets_one_through_then_counts() -> None:
    clock = Clock()
    flt = RepeatFilter(every=10.0, clock=clock)

    def rec(msg: str) -> logging.LogRecord:
        return logging.LogRecord("asyncio", logging.ERROR, __file__, 1, msg, None, None)

    assert flt.filter(rec("accept failed"))
    assert not any(flt.filter(rec("accept failed")) for _ in range(500))
    assert flt.filter(rec("something else"))
    begin = logging.LogRecord("standfast", logging.INFO, __file__, 1, "BEGIN %s", ("a",), None)
    other = logging.LogRecord("standfast", logging.INFO, __file__, 1, "BEGIN %s", ("b",), None)
    assert flt.filter(begin) and flt.filter(other)  # same template, different lines
    one = rec("accept failed")
    assert not flt.filter(one) and not flt.filter(one)  # the same record, every handler
    clock.now += 10
    last = rec("accept failed")
    assert flt.filter(last) and flt.filter(last)
    assert "194097" in last.getMessage() and "501 more" in last.getMessage()
