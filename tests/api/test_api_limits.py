"""The API holds under attack: a real daemon, real TLS on loopback, real PAM accounts.

Slow headers and silent TLS connections are cut off after the header timeout while an
administrator is served; a source over its connection limit is refused while another
is served; bodies over the limit are refused (413) before authentication without the
daemon growing; failed logins are throttled per source and per account, and parallel
logins from one source do not hold up another's; the local socket bounds an
unprivileged user's connections; and a descriptor-exhaustion attack on a daemon with
256 descriptors leaves its application in service and its local API answering.
Sources are loopback addresses (127.0.0.2 and up are all this host's).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import os
import re
import resource
import shlex
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.api.remote_support import (
    Accounts,
    RemoteDaemon,
    accounts,
    bearer,
    daemon_argv,
    wait_https,
)

pytestmark = [pytest.mark.root, pytest.mark.daemon]

HEADER_TIMEOUT = 2.0
BODY_TIMEOUT = 2.0
PER_SOURCE = 8
LIMITS = {
    "STANDFAST_API_HEADER_TIMEOUT": str(HEADER_TIMEOUT),
    "STANDFAST_API_BODY_TIMEOUT": str(BODY_TIMEOUT),
    "STANDFAST_API_MAX_PER_SOURCE": str(PER_SOURCE),
    "STANDFAST_LOCAL_MAX_PER_USER": str(PER_SOURCE),
    "STANDFAST_LOGIN_FAILURES": "3",
}
_TLS = ssl.create_default_context()
_TLS.check_hostname = False
_TLS.verify_mode = ssl.CERT_NONE


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LimitedDaemon(RemoteDaemon):
    """A remote-API daemon with extra settings and, if given, a descriptor limit."""

    extra: dict[str, str] = field(default_factory=dict)
    defaults: str = ""
    nofile: int | None = None

    def env(self) -> dict[str, str]:
        env = super().env()
        env.update(self.extra)
        return env

    def _limit(self) -> None:
        if self.nofile is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (self.nofile, self.nofile))

    def start(self) -> LimitedDaemon:
        self.home.mkdir(parents=True, exist_ok=True)
        os.chmod(self.home, 0o755)
        (self.home / "defaults").write_text(self.defaults)
        (self.home / "fstab").touch()
        self.proc = subprocess.Popen(
            daemon_argv(),
            env=self.env(),
            stdout=open(self.home / "daemon.out", "ab"),  # noqa: SIM115
            stderr=subprocess.STDOUT,
            preexec_fn=self._limit,
        )
        try:
            wait_https(self.url, proc=self.proc)
        except (RuntimeError, TimeoutError) as exc:
            self.stop()
            raise RuntimeError(f"{exc}: {(self.home / 'daemon.out').read_text()[-3000:]}") from None
        return self

    def local(self, method: str, path: str, body: object = None) -> httpx.Response:
        transport = httpx.HTTPTransport(uds=str(self.socket))
        with httpx.Client(transport=transport, base_url="http://sf", timeout=5.0) as c:
            return c.request(method, path, json=body)

    def rss_kb(self) -> int:
        assert self.proc is not None
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        found = re.search(r"VmRSS:\s+(\d+)", status)
        assert found
        return int(found.group(1))


@contextlib.contextmanager
def started(d: LimitedDaemon) -> Iterator[LimitedDaemon]:
    d.start()
    try:
        yield d
    finally:
        d.stop()
        shutil.rmtree(d.home, ignore_errors=True)


@pytest.fixture(scope="module")
def users() -> Iterator[Accounts]:
    with accounts() as acc:
        yield acc


@pytest.fixture(scope="module")
def daemon(users: Accounts) -> Iterator[LimitedDaemon]:
    top = Path(tempfile.mkdtemp(prefix="sf-limits-"))
    os.chmod(top, 0o755)  # an unprivileged user reaches the socket inside
    home = top / "home"
    with started(LimitedDaemon(home, free_port(), extra=LIMITS)) as d:
        yield d


def client(d: RemoteDaemon, source: str = "127.0.0.1") -> httpx.Client:
    return httpx.Client(
        base_url=d.url,
        verify=False,
        timeout=10.0,
        transport=httpx.HTTPTransport(local_address=source, verify=False),
    )


def connect(port: int, source: str, tls: bool = True) -> socket.socket:
    raw = socket.create_connection(("127.0.0.1", port), timeout=5.0, source_address=(source, 0))
    return _TLS.wrap_socket(raw) if tls else raw


def is_open(s: socket.socket) -> bool:
    """True while the server keeps ``s`` open (nothing to read, no reset, no EOF)."""
    s.settimeout(0.05)
    try:
        return s.recv(1) != b"" and False
    except TimeoutError:
        return True
    except (OSError, ssl.SSLError):
        return False


def err(r: httpx.Response) -> str:
    return str(r.json()["error"]["code"])


def reply_of(s: socket.socket, timeout: float) -> bytes:
    s.settimeout(timeout)
    data = b""
    with contextlib.suppress(OSError, ssl.SSLError):
        while b"\r\n\r\n" not in data or not data.rstrip().endswith(b"}"):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    return data


# -- connections and timeouts -----------------------------------------------------------


def test_slow_headers_are_cut_off_while_an_administrator_is_served(
    daemon: LimitedDaemon, users: Accounts
) -> None:
    start = time.monotonic()
    slow = [
        connect(daemon.port, f"127.0.0.{3 + i // 6}") for i in range(18)
    ]  # three sources, TLS done, then headers that never end
    for s in slow:
        s.sendall(b"GET /api/v1/status HTTP/1.1\r\nHost: x\r\n")
    silent = [connect(daemon.port, "127.0.0.6", tls=False) for _ in range(6)]  # no TLS
    served = time.monotonic()
    token = daemon.login(users["administrator"])
    with client(daemon) as c:
        assert c.get("/api/v1/status", headers=bearer(token)).status_code == 200
    assert time.monotonic() - served < 3.0
    # A byte every 0.3 s does not keep a connection: the deadline is for the headers.
    while time.monotonic() - start < HEADER_TIMEOUT + 2.0:
        for s in slow:
            with contextlib.suppress(OSError, ssl.SSLError):
                s.sendall(b"x")
        if not any(is_open(s) for s in slow + silent):
            break
        time.sleep(0.3)
    closed_after = time.monotonic() - start
    assert not [s for s in slow + silent if is_open(s)]
    assert HEADER_TIMEOUT - 0.5 <= closed_after <= HEADER_TIMEOUT + 2.0
    for s in slow + silent:
        s.close()


def test_a_source_over_its_limit_is_refused_while_another_is_served(
    daemon: LimitedDaemon,
) -> None:
    held = [connect(daemon.port, "127.0.0.2") for _ in range(PER_SOURCE)]
    try:
        with pytest.raises((OSError, ssl.SSLError)):
            extra = connect(daemon.port, "127.0.0.2")
            extra.sendall(b"GET /api/v1/whoami HTTP/1.1\r\nHost: x\r\n\r\n")
            assert extra.recv(1) == b""  # refused: closed without an answer
            raise ConnectionResetError
        with client(daemon, "127.0.0.1") as c:
            assert c.get("/api/v1/whoami").status_code == 401  # served: no token
    finally:
        for s in held:
            s.close()
    time.sleep(0.3)  # closed connections give their places back
    with client(daemon, "127.0.0.2") as c:
        assert c.get("/api/v1/whoami").status_code == 401


def test_the_local_socket_bounds_an_unprivileged_user(daemon: LimitedDaemon) -> None:
    args = [str(daemon.socket), str(HEADER_TIMEOUT + 1.5), str(PER_SOURCE)]
    child = subprocess.Popen(
        ["/usr/bin/python3", "-c", _UNPRIVILEGED, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        user=65534,
        group=65534,
    )
    assert child.stdout is not None
    first = child.stdout.readline()
    assert first.strip().isdigit(), child.communicate(timeout=10)[1]
    assert int(first) == PER_SOURCE, first  # 40 tried: the rest closed within 5 s
    assert daemon.local("GET", "/v1/status").status_code == 200  # root is served
    out, _ = child.communicate(timeout=30)
    assert int(out) == 0  # and the partial requests closed after the header timeout


_UNPRIVILEGED = """
import socket, sys, time
socks = []
for _ in range(40):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sys.argv[1])
    try:  # one over the limit may be closed before this is sent
        s.sendall(b"GET /v1/status HTTP/1.1\\r\\nHost: x\\r\\n")
    except OSError:
        pass
    socks.append(s)
def is_open(s):
    s.settimeout(0.05)
    try:
        return s.recv(1) != b"" and False
    except TimeoutError:
        return True
    except OSError:
        return False
# The daemon closes what is over the limit as it accepts it; a loaded machine may
# take a moment: count again until the count settles (at most 5 s).
deadline = time.monotonic() + 5
time.sleep(0.3)
n = sum(map(is_open, socks))
while n > int(sys.argv[3]) and time.monotonic() < deadline:
    time.sleep(0.2)
    n = sum(map(is_open, socks))
print(n, flush=True)
time.sleep(float(sys.argv[2]))
print(sum(map(is_open, socks)), flush=True)
"""


# -- bodies -----------------------------------------------------------------------------


def test_oversized_and_hostile_bodies_are_refused_before_authentication(
    daemon: LimitedDaemon,
) -> None:
    before = daemon.rss_kb()
    for _ in range(4):  # announced (as curl does past 1 MiB): refused at once, nothing read
        with connect(daemon.port, "127.0.0.1") as s:
            s.sendall(
                b"POST /api/v1/resources HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                b"Content-Type: application/json\r\nContent-Length: 52428800\r\n\r\n"
            )
            reply = reply_of(s, 5.0)  # never "100 Continue": the body is not wanted
            assert reply.startswith(b"HTTP/1.1 413") and b"194090" in reply, reply[:300]
            # A client that sends anyway meets a closed connection (a reset, as the
            # daemon never reads what it refused).
            with contextlib.suppress(OSError, ssl.SSLError):
                s.sendall(b"[" * 65536)
    with connect(daemon.port, "127.0.0.1") as s:  # streamed: refused past the limit
        s.sendall(
            b"POST /api/v1/resources HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        chunk = b"10000\r\n" + b" " * 0x10000 + b"\r\n"
        with contextlib.suppress(OSError, ssl.SSLError):
            for _ in range(40):  # 2.5 MiB offered, 1 MiB allowed
                s.sendall(chunk)
        reply = reply_of(s, 5.0)
        assert reply.startswith(b"HTTP/1.1 413") and b"194090" in reply, reply[:300]
    assert daemon.rss_kb() - before < 15 * 1024
    with client(daemon) as c:  # no token: before the limits this was a 401 or a 400
        r = c.post("/api/v1/resources", content=b"[" * 100 + b"]" * 100)
        assert r.status_code == 400 and err(r) == "194092"
        r = c.post("/api/v1/login", content=b'{"username": ' + b"7" * 5000 + b"}")
        assert r.status_code == 400 and err(r) == "194093"
        r = c.post("/api/v1/resources", json={"kit": "app", "tag": "x"})
        assert r.status_code == 401 and err(r) == "194003"  # a fair body: authentication
    with connect(daemon.port, "127.0.0.1") as s:  # a body that never completes
        s.sendall(b"POST /api/v1/login HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
        started_at = time.monotonic()
        reply = reply_of(s, BODY_TIMEOUT + 3.0)
        assert reply.startswith(b"HTTP/1.1 408") and b"194091" in reply, reply[:300]
        assert time.monotonic() - started_at < BODY_TIMEOUT + 1.0


# -- logins -----------------------------------------------------------------------------


def _login(d: RemoteDaemon, source: str, user: str, password: str) -> httpx.Response:
    with client(d, source) as c:
        return c.post("/api/v1/login", json={"username": user, "password": password})


def _code(d: RemoteDaemon, source: str, user: str, password: str) -> str:
    """The catalogue code of a login's refusal; "refused" when its connection was (the
    source is over its connection limit)."""
    try:
        return err(_login(d, source, user, password))
    except httpx.TransportError:
        return "refused"


def test_parallel_wrong_logins_from_one_source_do_not_hold_up_another(
    daemon: LimitedDaemon, users: Accounts
) -> None:
    victim = users["operator"].name
    with concurrent.futures.ThreadPoolExecutor(40) as pool:
        attack = [pool.submit(_code, daemon, "127.0.0.7", victim, f"wrong{i}") for i in range(40)]
        time.sleep(0.2)  # the attack is under way
        admin = users["administrator"]
        began = time.monotonic()
        r = _login(daemon, "127.0.0.8", admin.name, admin.password)
        took = time.monotonic() - began
        codes = [f.result() for f in attack]
    assert r.status_code == 200 and took < 3.0, (r.text, took)
    # One PAM check at a time per source; the others refused at once, by the throttle
    # or (over the connection limit per source) by the server.
    assert codes.count("194001") <= 2, codes
    assert codes.count("194095") + codes.count("refused") >= 35, codes
    assert set(codes) <= {"194095", "194001", "194094", "refused"}


def test_twenty_wrong_passwords_then_the_right_one_is_throttled(
    daemon: LimitedDaemon, users: Accounts
) -> None:
    guest = users["guest"]
    codes = [err(_login(daemon, "127.0.0.9", guest.name, "wrong")) for _ in range(20)]
    assert codes[:3] == ["194001"] * 3 and set(codes[3:]) == {"194094"}
    r = _login(daemon, "127.0.0.9", guest.name, guest.password)
    assert r.status_code == 429 and err(r) == "194094"
    assert 1 <= int(r.headers["retry-after"]) <= 30
    # The account is locked from everywhere, and other accounts are not.
    assert err(_login(daemon, "127.0.0.10", guest.name, guest.password)) == "194094"
    admin = users["administrator"]
    assert _login(daemon, "127.0.0.10", admin.name, admin.password).status_code == 200


# -- descriptor exhaustion --------------------------------------------------------------


def test_descriptor_exhaustion_causes_no_failover(tmp_path: Path) -> None:
    home = Path(tempfile.mkdtemp(prefix="sf-fds-")) / "home"
    marker = Path(tempfile.mkdtemp(prefix="sf-fds-app-")) / "web.up"
    d = LimitedDaemon(
        home,
        free_port(),
        nofile=256,
        defaults="SF_QUICKCHECK_INTERVAL=1\n",
        extra={"STANDFAST_API_HEADER_TIMEOUT": "5"},
    )
    with started(d):
        props = {
            "restore": f"/usr/bin/touch {marker}",
            "remove": f"/bin/rm -f {marker}",
            "quick_check": f"/usr/bin/test -e {marker}",
        }
        r = d.local("POST", "/v1/resources", {"kit": "app", "tag": "web", "props": props})
        assert r.status_code == 200, r.text
        stop = threading.Event()
        opened = [0]

        def attack(source: str) -> None:
            held: list[socket.socket] = []
            while not stop.is_set():
                held = [s for s in held if is_open(s)]
                while len(held) < 40 and not stop.is_set():
                    with contextlib.suppress(OSError, ssl.SSLError):
                        held.append(connect(d.port, source, tls=len(held) % 2 == 0))
                        opened[0] += 1
                time.sleep(0.1)
            for s in held:
                s.close()

        threads = [
            threading.Thread(target=attack, args=(f"127.0.1.{i}",), daemon=True)
            for i in range(1, 9)
        ]
        for t in threads:
            t.start()
        slowest = 0.0
        try:
            # At least 12 s, and on until the attack has outnumbered the daemon's
            # descriptors (a loaded machine opens them more slowly), within 60 s.
            began_attack = time.monotonic()
            while time.monotonic() - began_attack < 12.0 or (
                opened[0] <= 300 and time.monotonic() - began_attack < 60.0
            ):
                began = time.monotonic()
                status = d.local("GET", "/v1/status").json()
                slowest = max(slowest, time.monotonic() - began)
                states = {h["tag"]: h["state"] for h in status["hierarchies"]}
                assert states == {"web": "ISP"}, status
                time.sleep(0.5)
        finally:
            stop.set()
            for t in threads:
                t.join(10)
        assert opened[0] > 256  # more connections than the daemon has descriptors
        assert slowest < 2.0
        log_file = d.home / "log" / "standfast.log"
        log = log_file.read_text() if log_file.exists() else ""
        out = (d.home / "daemon.out").read_text()
        assert "Too many open files" not in log + out
        assert "194096" in log  # the refusals were logged, rate-limited
        assert len(out) < 200_000


# -- the documentation's example ---------------------------------------------------------

DOC = Path(__file__).resolve().parents[2] / "docs" / "security.md"


def test_the_documented_example_runs(daemon: LimitedDaemon) -> None:
    [block] = [
        b
        for b in re.findall(r"```sh\n(.*?)```", DOC.read_text(), flags=re.S)
        if b.startswith("# example: runnable")
    ]
    [line] = [x for x in block.replace("\\\n", " ").splitlines()[1:] if x.strip()]
    cert = str(daemon.home / "lib" / "tls" / "remote.crt")
    argv = [
        a.replace("https://server1:7443", daemon.url).replace(
            "/var/lib/standfast/tls/remote.crt", cert
        )
        for a in shlex.split(line)
    ]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    assert r.returncode == 0, r.stderr
    error = json.loads(r.stdout)["error"]
    shown = re.search(r'"code": "(\d+)".*?"message": "([^"]+)"', DOC.read_text(), flags=re.S)
    assert shown and error["code"] == shown.group(1) and error["message"] == shown.group(2)
