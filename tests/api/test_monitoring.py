"""The monitoring endpoints of a real daemon: the health endpoints over real HTTPS
without a login, ``/metrics`` behind the login on the HTTPS port and open on the plain
port, read with prometheus-client's own text parser; ``standfast status``'s exit
status; docs/monitoring.md's curl examples, run as written (placeholders replaced)."""

from __future__ import annotations

import re
import shlex
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.api.remote_support import Accounts, RemoteDaemon, accounts, bearer

pytestmark = [pytest.mark.root, pytest.mark.daemon]

DOC = Path(__file__).resolve().parents[2] / "docs" / "monitoring.md"
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def users() -> Iterator[Accounts]:
    with accounts() as acc:
        yield acc


@dataclass
class MonitoredDaemon(RemoteDaemon):
    """A lone daemon with the plain monitoring port too (``plain``: its URL)."""

    plain_port: int = 0

    @property
    def plain(self) -> str:
        return f"http://127.0.0.1:{self.plain_port}"


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MonitoredDaemon]:
    plain = free_port()
    d = MonitoredDaemon(
        tmp_path_factory.mktemp("monitoring") / "home",
        free_port(),
        extra_env={"STANDFAST_METRICS_LISTEN": f"127.0.0.1:{plain}"},
        defaults="SF_QUICKCHECK_INTERVAL=0.5\n",
        plain_port=plain,
    )
    d.start()
    try:
        yield d
    finally:
        d.stop()


def cli(d: RemoteDaemon, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "standfast", *args],
        env=d.env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def create(d: RemoteDaemon, tag: str, check: str) -> None:
    r = cli(
        d,
        "resource",
        "create",
        "--kit",
        "app",
        "--tag",
        tag,
        "--prop",
        "restore=/bin/true",
        "--prop",
        "remove=/bin/true",
        "--prop",
        f"quick_check={check}",
    )
    assert r.returncode == 0, r.stderr


def parse(text: str) -> Samples:
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def state_of(m: Samples, tag: str) -> str:
    [state] = [
        dict(labels)["state"]
        for (name, labels), v in m.items()
        if name == "standfast_resource_state" and dict(labels)["tag"] == tag and v == 1
    ]
    return state


def test_health_metrics_and_status_exit(daemon: MonitoredDaemon, users: Accounts) -> None:
    d, plain = daemon, daemon.plain
    assert cli(d, "status").returncode == 0
    create(d, "web", "/bin/true")
    r = cli(d, "status", "--json")
    assert r.returncode == 0 and r.stderr == "", r.stderr
    with d.client() as c:  # real HTTPS, no login
        for path in ("/health", "/ready"):
            r = c.get(path)
            assert r.status_code == 200 and r.headers["cache-control"] == "no-store", r.text
        assert c.get("/health").json()["healthy"] is True
        assert c.head("/ready").status_code == 200
        r = c.get("/hierarchies/web/in-service")
        assert (r.status_code, r.json()) == (
            200,
            {"tag": "web", "in_service": True, "state": "ISP"},
        )
        r = c.get("/hierarchies/nope/in-service")
        assert r.status_code == 404 and r.json()["error"]["code"] == "194081"
        r = c.get("/hierarchies/nope/in-service", headers={"accept-language": "ja"})
        assert "リソースnope" in r.json()["error"]["message"]
        r = c.get("/hierarchies/.bad/in-service")
        assert r.status_code == 400 and r.json()["error"]["code"] == "190002"
        # /metrics on the HTTPS port asks for a login (STANDFAST_METRICS=login); any role.
        r = c.get("/metrics")
        assert r.status_code == 401 and r.json()["error"]["code"] == "194003", r.text
        r = c.get("/metrics", headers=bearer(d.login(users["guest"])))
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
        assert state_of(parse(r.text), "web") == "ISP"

        assert cli(d, "resource", "out-of-service", "web").returncode == 0
        r = c.get("/hierarchies/web/in-service")
        assert (r.status_code, r.json()["state"]) == (503, "OSU")
        assert cli(d, "resource", "in-service", "web").returncode == 0
        assert c.get("/hierarchies/web/in-service").status_code == 200

    # The plain port: health and metrics, no login, nothing else.
    assert httpx.get(plain + "/health", timeout=10).status_code == 200
    assert httpx.get(plain + "/api/v1/status", timeout=10).status_code == 404
    time.sleep(1.2)  # a quick check or two of web ran
    m = parse(httpx.get(plain + "/metrics", timeout=10).text)
    assert m[("standfast_checks_total", (("kind", "quick"), ("result", "ok"), ("tag", "web")))] >= 1
    assert m[("standfast_check_duration_seconds_count", (("kind", "quick"),))] >= 1
    assert m[("standfast_quorum", ())] == 1
    assert m[("standfast_events_total", (("kind", "out_of_service"),))] == 1

    # A resource whose check fails and cannot recover: OSF, status exits 4.
    create(d, "bad", "/bin/false")
    deadline = time.monotonic() + 15
    while state_of(m := parse(httpx.get(plain + "/metrics", timeout=10).text), "bad") != "OSF":
        assert time.monotonic() < deadline, m
        time.sleep(0.2)
    assert m[("standfast_checks_total", (("kind", "quick"), ("result", "failed"), ("tag", "bad")))]
    r = cli(d, "status")
    assert r.returncode == 4 and "status: bad on server1: OSF" in r.stderr, (r.stdout, r.stderr)
    assert httpx.get(plain + "/hierarchies/bad/in-service", timeout=10).status_code == 503
    assert httpx.get(plain + "/ready", timeout=10).status_code == 200  # OSF is not unready


def runnable_block() -> list[list[str]]:
    for body in re.findall(r"```sh\n(.*?)```", DOC.read_text(), flags=re.S):
        lines = body.replace("\\\n", " ").splitlines()
        if lines and lines[0].strip() == "# example: runnable":
            return [shlex.split(x) for x in lines[1:] if x.strip()]
    raise AssertionError("no runnable example in docs/monitoring.md")


def test_the_docs_examples_run(daemon: MonitoredDaemon, tmp_path: Path) -> None:
    if cli(daemon, "resource", "show", "web").returncode != 0:
        create(daemon, "web", "/bin/true")
    subst = {
        "https://server1:7443": daemon.url,
        "http://server1:9464": daemon.plain,
        "/var/lib/standfast/tls/remote.crt": str(daemon.home / "lib" / "tls" / "remote.crt"),
    }
    replies = []
    for argv in runnable_block():
        assert argv[0] == "curl", argv
        real = [next((w.replace(o, n) for o, n in subst.items() if o in w), w) for w in argv]
        r = subprocess.run(real, cwd=tmp_path, capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, (argv, r.stdout, r.stderr)
        replies.append(r.stdout)
    health, ready, web, metrics = replies
    assert '"healthy":true' in health and '"ready":true' in ready
    assert '"in_service":true' in web
    assert parse(metrics)[("standfast_quorum", ())] == 1


def test_the_plain_port_is_bounded(daemon: MonitoredDaemon) -> None:
    """One source holds at most MONITORING_MAX_PER_SOURCE connections to the plain port:
    the next is closed at once, a scrape gets through again once they are gone."""
    from standfast.api.remote.server import MONITORING_MAX_PER_SOURCE

    idle = [
        socket.create_connection(("127.0.0.1", daemon.plain_port), timeout=5)
        for _ in range(MONITORING_MAX_PER_SOURCE)
    ]
    try:
        time.sleep(0.3)  # every one admitted
        extra = socket.create_connection(("127.0.0.1", daemon.plain_port), timeout=5)
        extra.settimeout(5)
        try:
            extra.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            got = extra.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            got = b""
        finally:
            extra.close()
        assert not got.startswith(b"HTTP/1.1 200"), got[:200]
    finally:
        for s in idle:
            s.close()
    deadline = time.monotonic() + 10
    while True:
        try:
            r = httpx.get(f"{daemon.plain}/metrics", timeout=5)
            if r.status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "the plain port did not answer again"
        time.sleep(0.2)
    assert "standfast_up" in r.text or "standfast_" in r.text
