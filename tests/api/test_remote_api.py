"""The remote API against a real daemon over HTTPS, with real accounts checked by PAM:
login, roles, expired and bad tokens, the cookie's cross-site guard, every validation
error of the wizards' checks, the relay's refusals, the OpenAPI description, the stream."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from standfast.api.remote import SessionStore, required_role
from tests.api.remote_support import Accounts, RemoteDaemon, accounts, bearer

pytestmark = [pytest.mark.root, pytest.mark.daemon]

TTL = 4.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def users() -> Iterator[Accounts]:
    with accounts() as acc:
        yield acc


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory, users: Accounts) -> Iterator[RemoteDaemon]:
    d = RemoteDaemon(tmp_path_factory.mktemp("remote") / "home", free_port(), ttl=TTL)
    d.start()
    try:
        yield d
    finally:
        d.stop()


def err(r: httpx.Response) -> str:
    return str(r.json()["error"]["code"])


# -- pure parts --------------------------------------------------------------------------


def test_required_roles() -> None:
    assert required_role("GET", "/v1/status") == "guest"
    assert required_role("POST", "/v1/in-service") == "operator"
    assert required_role("POST", "/v1/out-of-service") == "operator"
    for method, path in [
        ("POST", "/v1/resources"),
        ("DELETE", "/v1/resources/x"),
        ("PATCH", "/v1/resources/x"),
        ("POST", "/v1/extend"),
        ("POST", "/v1/unextend"),
        ("POST", "/v1/dependencies"),
        ("DELETE", "/v1/dependencies"),
        ("POST", "/v1/failover/answer"),
    ]:
        assert required_role(method, path) == "administrator"


def test_session_store_expiry_with_a_clock() -> None:
    now = [100.0]
    store = SessionStore(10.0, clock=lambda: now[0])
    s = store.issue("alice", "operator")
    assert store.get(s.token).user == "alice"
    now[0] = 110.0
    with pytest.raises(Exception) as exc:
        store.get(s.token)
    assert getattr(exc.value, "code", "") == "194002"
    with pytest.raises(Exception) as exc2:
        store.get("not-a-token")
    assert getattr(exc2.value, "code", "") == "194004"
    assert store.revoke(s.token) is not None
    other = store.issue("bob", "guest")
    assert other.token != s.token and len(other.token) >= 40


# -- against a real daemon ------------------------------------------------------------------


def test_login_per_role_and_whoami(daemon: RemoteDaemon, users: Accounts) -> None:
    with daemon.client() as c:
        for role in ("administrator", "operator", "guest"):
            acc = users[role]
            r = c.post("/api/v1/login", json={"username": acc.name, "password": acc.password})
            assert r.status_code == 200, r.text
            body = r.json()
            assert body["role"] == role and body["user"] == acc.name
            assert "standfast_session" in r.headers.get("set-cookie", "")
            assert "HttpOnly" in r.headers["set-cookie"] and "Secure" in r.headers["set-cookie"]
            who = c.get("/api/v1/whoami", headers=bearer(body["token"])).json()
            assert who["role"] == role
            assert who["may"]["administer"] == (role == "administrator")
            assert who["may"]["in_out_of_service"] == (role != "guest")


def test_authentication_failures(daemon: RemoteDaemon, users: Accounts) -> None:
    with daemon.client() as c:
        r = c.post("/api/v1/login", json={"username": users["guest"].name, "password": "wrong"})
        assert r.status_code == 401 and err(r) == "194001"
        r = c.post("/api/v1/login", json={"username": "nosuchuser-sf", "password": "x"})
        assert r.status_code == 401 and err(r) == "194001"
        r = c.post("/api/v1/login", json={"username": "", "password": ""})
        assert r.status_code == 400 and err(r) == "194007"
        r = c.post("/api/v1/login", json={"username": "../etc", "password": "x"})
        assert r.status_code == 401 and err(r) == "194001"
        r = c.post("/api/v1/login", json={"username": 5, "password": ["x"]})
        assert r.status_code == 422 and err(r) == "190206"
        acc = users["none"]
        r = c.post("/api/v1/login", json={"username": acc.name, "password": acc.password})
        assert r.status_code == 403 and err(r) == "194005"
        r = c.get("/api/v1/status")
        assert r.status_code == 401 and err(r) == "194003"
        assert r.headers["www-authenticate"] == "Bearer"
        r = c.get("/api/v1/status", headers=bearer("forged-token"))
        assert r.status_code == 401 and err(r) == "194004"
    with daemon.client("ja") as c:
        r = c.post("/api/v1/login", json={"username": users["guest"].name, "password": "wrong"})
        assert err(r) == "194001" and "ログインに失敗しました" in r.json()["error"]["message"]


def test_expired_token_and_logout(daemon: RemoteDaemon, users: Accounts) -> None:
    token = daemon.login(users["operator"])
    with daemon.client() as c:
        assert c.get("/api/v1/status", headers=bearer(token)).status_code == 200
        time.sleep(TTL + 0.3)
        r = c.get("/api/v1/status", headers=bearer(token))
        assert r.status_code == 401 and err(r) == "194002"
        assert users["operator"].name in r.json()["error"]["message"]
        token = daemon.login(users["operator"])
        assert c.post("/api/v1/logout", headers=bearer(token)).json() == {"logged_out": True}
        r = c.get("/api/v1/status", headers=bearer(token))
        assert r.status_code == 401 and err(r) == "194004"


MUTATIONS = [
    ("POST", "/v1/resources", {"kit": "app", "tag": "x"}),
    ("DELETE", "/v1/resources/x", None),
    ("PATCH", "/v1/resources/x", {"priority": 5}),
    ("POST", "/v1/extend", {"tag": "x", "target": "server2"}),
    ("POST", "/v1/unextend", {"tag": "x", "server": "server2"}),
    ("POST", "/v1/dependencies", {"parent": "a", "child": "b"}),
    ("DELETE", "/v1/dependencies", {"parent": "a", "child": "b"}),
]
OPERATIONS = [
    ("POST", "/v1/in-service", {"tag": "x"}),
    ("POST", "/v1/out-of-service", {"tag": "x"}),
]


def call(c: httpx.Client, token: str, method: str, path: str, body: object) -> httpx.Response:
    return c.request(method, path, headers=bearer(token), json=body)


@pytest.mark.parametrize("prefix", ["/api", "/api/servers/server1"])
def test_roles_are_enforced(daemon: RemoteDaemon, users: Accounts, prefix: str) -> None:
    guest, oper = daemon.login(users["guest"]), daemon.login(users["operator"])
    admin = daemon.login(users["administrator"])
    with daemon.client() as c:
        assert call(c, guest, "GET", prefix + "/v1/status", None).status_code == 200
        for method, path, body in MUTATIONS + OPERATIONS:
            r = call(c, guest, method, prefix + path, body)
            assert r.status_code == 403 and err(r) == "194020", (method, path, r.text)
            assert "guest" in r.json()["error"]["message"]
        for method, path, body in MUTATIONS:
            r = call(c, oper, method, prefix + path, body)
            assert r.status_code == 403 and err(r) == "194020", (method, path, r.text)
        for method, path, body in OPERATIONS:
            # Allowed: the engine answers (no such resource here).
            r = call(c, oper, method, prefix + path, body)
            assert r.status_code == 404 and err(r) == "000019", r.text
        r = call(c, admin, "POST", prefix + "/v1/resources", {"kit": "app", "tag": ".bad"})
        assert r.status_code == 400 and err(r) == "190002"
        r = call(c, admin, "POST", prefix + "/v1/resources", {"kit": "nokit", "tag": "x"})
        assert err(r) == "190010"
    acts = httpx.get(
        daemon.url + "/api/v1/actions", headers=bearer(admin), verify=False, timeout=10
    ).json()
    refused = [a for a in acts if a["code"] == "190002"]
    assert refused and refused[-1]["user"] == users["administrator"].name


def test_cookie_session_needs_the_csrf_header(daemon: RemoteDaemon, users: Accounts) -> None:
    acc = users["operator"]
    with daemon.client() as c:
        r = c.post("/api/v1/login", json={"username": acc.name, "password": acc.password})
        assert r.status_code == 200
        assert c.get("/api/v1/whoami").json()["user"] == acc.name  # the cookie alone
        r = c.post("/api/v1/in-service", json={"tag": "x"})
        assert r.status_code == 403 and err(r) == "194021"
        r = c.post("/api/v1/in-service", json={"tag": "x"}, headers={"x-standfast": "1"})
        assert r.status_code == 404 and err(r) == "000019"


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("tag", "", "190004"),
        ("tag", ".hidden", "190002"),
        ("tag", "/abs", "190002"),
        ("tag", "has space", "190001"),
        ("tag", "x" * 300, "190003"),
        ("priority", "0", "190005"),
        ("priority", "1000", "190005"),
        ("priority", "ten", "190005"),
        ("switchback", "sometimes", "190014"),
        ("mount_point", "", "107006"),
        ("mount_point", "relative/path", "104902"),
    ],
)
def test_every_validation_error(
    daemon: RemoteDaemon, users: Accounts, field: str, value: str, code: str
) -> None:
    token = daemon.login(users["guest"])
    with daemon.client() as c:
        r = c.post("/api/v1/validate", headers=bearer(token), json={"field": field, "value": value})
        assert r.status_code == 400 and err(r) == code, r.text
        assert r.json()["error"]["message"]
    with daemon.client("ja") as c:
        r = c.post("/api/v1/validate", headers=bearer(token), json={"field": field, "value": value})
        assert err(r) == code and any("\u3040" <= ch <= "\u9fff" for ch in r.text)


def test_valid_fields_and_malformed_requests(daemon: RemoteDaemon, users: Accounts) -> None:
    token = daemon.login(users["administrator"])
    with daemon.client() as c:
        for field, value in [
            ("tag", "web-on-server1"),
            ("priority", 10),
            ("switchback", "automatic"),
        ]:
            r = c.post(
                "/api/v1/validate", headers=bearer(token), json={"field": field, "value": value}
            )
            assert r.json() == {"ok": True}
        r = c.post("/api/v1/validate", headers=bearer(token), json={"field": "colour", "value": 1})
        assert r.status_code == 422 and err(r) == "190206"
        r = c.post("/api/v1/resources", headers=bearer(token), json={"tag": "no-kit"})
        assert r.status_code == 422 and err(r) == "190206"
        r = c.post("/api/v1/in-service", headers=bearer(token), json={})
        assert r.status_code == 422 and err(r) == "190206"
        r = c.post("/api/v1/extend", headers=bearer(token), json={"tag": "x", "target": "s2"})
        assert err(r) == "193008"  # a lone server has no cluster to extend to


def test_relay_refusals(daemon: RemoteDaemon, users: Accounts) -> None:
    token = daemon.login(users["administrator"])
    with daemon.client() as c:
        r = c.get("/api/servers/nosuch/v1/status", headers=bearer(token))
        assert r.status_code == 404 and err(r) == "194040"
        r = c.get("/api/servers/server1/openapi.json", headers=bearer(token))
        assert r.status_code == 400 and err(r) == "190206"
        r = c.get("/api/relay/v1/status", headers={"x-standfast-relay-from": "server2"})
        assert r.status_code == 403 and err(r) == "194042"
        r = c.get("/api/servers/server1/v1/status")
        assert r.status_code == 401 and err(r) == "194003"


def test_openapi_documents_the_api_and_its_authentication(daemon: RemoteDaemon) -> None:
    doc = httpx.get(daemon.url + "/api/openapi.json", verify=False, timeout=10).json()
    schemes = doc["components"]["securitySchemes"]
    assert schemes["HTTPBearer"]["scheme"] == "bearer"
    assert schemes["APIKeyCookie"]["name"] == "standfast_session"
    for path in ("/api/v1/login", "/api/v1/status", "/api/v1/in-service", "/api/v1/stream"):
        assert path in doc["paths"], path
    assert {"HTTPBearer": []} in doc["paths"]["/api/v1/in-service"]["post"]["security"]
    assert "Roles" in doc["info"]["description"]


def test_https_only_and_security_headers(daemon: RemoteDaemon) -> None:
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{daemon.port}/", timeout=5)
    r = httpx.get(daemon.url + "/", verify=False, timeout=10)
    assert r.status_code == 200 and "<title>Standfast</title>" in r.text
    assert "default-src 'self'" in r.headers["content-security-policy"]
    assert r.headers["x-frame-options"] == "DENY"
    assert json.loads(httpx.get(daemon.url + "/ja.json", verify=False, timeout=10).text)


def test_stream_pushes_status(daemon: RemoteDaemon, users: Accounts) -> None:
    token = daemon.login(users["guest"])
    seen: list[str] = []
    with (
        daemon.client() as c,
        c.stream("GET", "/api/v1/stream", headers=bearer(token), timeout=10) as r,
    ):
        assert r.headers["content-type"].startswith("text/event-stream")
        deadline = time.monotonic() + 10
        for line in r.iter_lines():
            seen.append(line)
            if (line.startswith("data: {") and '"view"' in line) or time.monotonic() > deadline:
                break
    data = json.loads(next(x for x in seen if x.startswith("data: {"))[6:])
    assert data["status"]["server"] == "server1"
    assert data["view"]["servers"] == ["server1"]


def test_local_socket_still_serves_the_cli(daemon: RemoteDaemon, tmp_path: Path) -> None:
    transport = httpx.HTTPTransport(uds=str(daemon.socket))
    with httpx.Client(transport=transport, base_url="http://sf", timeout=10) as c:
        assert c.get("/v1/status").json()["server"] == "server1"


def test_encoded_tags_on_the_server_route_address_only_themselves(
    daemon: RemoteDaemon, users: Accounts
) -> None:
    """A tag's %3F or %2F reaches the engine as part of the tag, never as another route
    (``scratch?x`` is not ``scratch``, ``../config`` is not the configuration)."""
    admin = daemon.login(users["administrator"])
    props = {"restore": "/bin/true", "remove": "/bin/true"}
    with daemon.client() as c:
        r = call(
            c, admin, "POST", "/api/v1/resources", {"kit": "app", "tag": "scratch", "props": props}
        )
        assert r.status_code == 200, r.text
        assert (
            call(c, admin, "POST", "/api/v1/out-of-service", {"tag": "scratch"}).status_code == 200
        )
        for prefix in ("/api/servers/server1", "/api"):
            r = call(c, admin, "DELETE", prefix + "/v1/resources/scratch%3Fx", None)
            assert r.status_code == 404 and err(r) == "000019", (prefix, r.text)
            r = call(c, admin, "GET", prefix + "/v1/resources/..%2Fconfig", None)
            assert r.status_code == 404 and err(r) == "000019", (prefix, r.text)
        # A JSON boolean is not a priority.
        r = call(c, admin, "PATCH", "/api/v1/resources/scratch", {"priority": True})
        assert r.status_code == 422 and err(r) == "190206", r.text
        r = call(c, admin, "PATCH", "/api/v1/resources/scratch", {"switchback": ""})
        assert err(r) == "190014", r.text
        shown = call(c, admin, "GET", "/api/v1/resources/scratch", None).json()
        assert shown["tag"] == "scratch" and shown["priority"] == 1
