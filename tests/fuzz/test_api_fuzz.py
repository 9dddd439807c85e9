"""The fuzz tier: generated requests against a real daemon's local API (hypothesis).

For every generated input, whatever its shape: the daemon answers (never a 5xx, never
a dropped connection), a refusal carries a six-digit catalogue code, a refusal changes
nothing (the configuration's version and digest are those from before), and at the end
the daemon still answers and its output holds no traceback. The counts of inputs tried
are printed per endpoint (``-s``); ``STANDFAST_FUZZ_EXAMPLES=N`` sets the examples per
test (40 on every CI run; more for a soak).
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.daemon import Daemon

pytestmark = pytest.mark.daemon

CODE = re.compile(r"^\d{6}$")
TRIED: Counter[str] = Counter()
#: Examples per test: a few dozen on every CI run; a soak sets STANDFAST_FUZZ_EXAMPLES.
EXAMPLES = int(os.environ.get("STANDFAST_FUZZ_EXAMPLES", "40"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

# Text that reaches the parsers' corners: URL syntax, path segments, NUL, markup,
# numbers that are not finite, long strings.
nasty = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [
            "",
            ".",
            "..",
            "a/../b",
            "x?y",
            "x#y",
            "%2e%2e",
            "a\x00b",
            "[/x]",
            "[bold]x",
            "nan",
            "inf",
            "-1",
            "1e309",
            "9" * 400,
            "/bin/true",
            "/no/such/command",
            "app",
            "x" * 5000,
        ]
    ),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=10**300, max_value=10**400),
    st.floats(allow_nan=False, allow_infinity=False),
    nasty,
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(nasty, inner, max_size=4)),
    max_leaves=12,
)
kits = st.one_of(st.sampled_from(["app", "filesys", "nas", "ocf", "nosuchkit"]), nasty)
props = st.dictionaries(
    st.one_of(
        st.sampled_from(["restore", "remove", "quick_check", "restore_timeout", "agent"]),
        nasty,
    ),
    scalars,
    max_size=4,
)


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    d = Daemon(tmp_path_factory.mktemp("fuzz") / "sf").start()
    yield d
    d.stop()
    out = (d.home / "daemon.out").read_text(errors="replace")
    assert "Traceback" not in out, out[-3000:]
    print("\nfuzz tier: inputs tried per endpoint:", dict(sorted(TRIED.items())))
    print(f"fuzz tier: {sum(TRIED.values())} generated inputs in all")


def request(d: Daemon, method: str, path: str, body: Any) -> httpx.Response:
    transport = httpx.HTTPTransport(uds=str(d.socket))
    with httpx.Client(transport=transport, base_url="http://sf", timeout=30) as c:
        if isinstance(body, bytes):
            return c.request(
                method, path, content=body, headers={"content-type": "application/json"}
            )
        return c.request(method, path, json=body)


def config_mark(d: Daemon) -> tuple[object, object]:
    cfg = d.api("GET", "/v1/config")
    return cfg.get("version"), json.dumps(cfg, sort_keys=True)


def check(d: Daemon, name: str, method: str, path: str, body: Any) -> None:
    TRIED[name] += 1
    before = config_mark(d)
    r = request(d, method, path, body)
    assert r.status_code < 500, (method, path, body, r.status_code, r.text[:500])
    reply = r.json()
    if r.status_code >= 400:
        error = reply.get("error", {}) if isinstance(reply, dict) else {}
        assert CODE.match(str(error.get("code", ""))), (method, path, body, reply)
        assert config_mark(d) == before, ("a refusal changed the configuration", path, body)


@FUZZ
@given(kit=kits, tag=st.one_of(st.none(), nasty), rid=st.one_of(st.none(), nasty), p=props)
def test_create(daemon: Daemon, kit: str, tag: str | None, rid: str | None, p: Any) -> None:
    body = {"kit": kit, "tag": tag, "id": rid, "props": p}
    check(daemon, "POST /v1/resources", "POST", "/v1/resources", body)


@FUZZ
@given(tag=nasty, body=st.one_of(json_values, st.fixed_dictionaries({"props": props})))
def test_update(daemon: Daemon, tag: str, body: Any) -> None:
    path = "/v1/resources/" + quote(tag, safe="")
    check(daemon, "PATCH /v1/resources/TAG", "PATCH", path, body)


@FUZZ
@given(
    path=st.sampled_from(
        [
            "/v1/in-service",
            "/v1/out-of-service",
            "/v1/drill",
            "/v1/dependencies",
            "/v1/extend",
            "/v1/unextend",
            "/v1/maintenance",
            "/v1/standby",
            "/v1/failover/answer",
            "/v1/cluster/rekey",
            "/v1/alerts",
            "/v1/alerts/test",
        ]
    ),
    body=json_values,
)
def test_actions(daemon: Daemon, path: str, body: Any) -> None:
    check(daemon, f"POST {path}", "POST", path, body)


@FUZZ
@given(
    config=st.one_of(
        json_values,
        st.fixed_dictionaries(
            {"resources": json_values, "dependencies": json_values, "version": scalars}
        ),
    )
)
def test_config_restore(daemon: Daemon, config: Any) -> None:
    check(daemon, "POST /v1/config", "POST", "/v1/config", {"config": config})


@FUZZ
@given(raw=st.one_of(st.binary(max_size=200), st.sampled_from([b"[" * 5000, b"1" * 6000, b"{"])))
def test_raw_bodies(daemon: Daemon, raw: bytes) -> None:
    check(daemon, "POST /v1/resources (raw bytes)", "POST", "/v1/resources", raw)


@FUZZ
@given(
    query=st.dictionaries(
        st.sampled_from(["tag", "since", "until", "limit", "kind", "fault", "server"]),
        nasty,
        max_size=3,
    )
)
def test_queries(daemon: Daemon, query: dict[str, str]) -> None:
    for path in ("/v1/events/history", "/v1/simulate", "/v1/events"):
        TRIED[f"GET {path}"] += 1
        transport = httpx.HTTPTransport(uds=str(daemon.socket))
        with httpx.Client(transport=transport, base_url="http://sf", timeout=30) as c:
            r = c.get(path, params={k: v.replace("\x00", "") for k, v in query.items()})
        assert r.status_code < 500, (path, query, r.text[:300])
        if r.status_code >= 400:
            assert CODE.match(str(r.json().get("error", {}).get("code", ""))), (path, r.text)


def test_still_answering(daemon: Daemon) -> None:
    status = daemon.api("GET", "/v1/status")
    assert status["server"] == "server1", status
