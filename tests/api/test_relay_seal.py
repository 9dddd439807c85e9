"""The relay's sealed requests (pure logic, no daemon): what the receiving server
accepts, and every way a request is refused (194042) without changing its replay state."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import pytest

from standfast.api.remote.relay import (
    FROM_HEADER,
    RELAY_WINDOW,
    SEAL_HEADER,
    RelaySigner,
    RelayVerifier,
)
from standfast.api.remote.sessions import Identity
from standfast.cluster.auth import JSONValue, Sealer
from standfast.messages import StandfastError

KEY = b"k" * 32
OTHER_KEY = b"o" * 32
ADMIN = Identity("alice", "administrator")
REQ: tuple[str, str, bytes, bytes] = ("POST", "/v1/in-service", b"tag=x", b'{"tag": "web"}')


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


Request = tuple[str, str, bytes, bytes]


def pair(
    clock: Clock, *, key: bytes = KEY, cluster: str = "c1", local: str = "server2"
) -> tuple[RelaySigner, RelayVerifier]:
    """server1's signer, and a verifier (server2's of cluster c1 unless told)."""
    signer = RelaySigner(KEY, "c1", "server1", clock=clock)
    return signer, RelayVerifier(key, cluster, local, clock=clock)


def sign(signer: RelaySigner, ident: Identity = ADMIN) -> dict[str, str]:
    method, path, query, body = REQ
    return signer.headers("server2", ident, method, path, query, body)


def refusal(verifier: RelayVerifier, headers: dict[str, str], req: Request = REQ) -> str:
    """The reason of the 194042 refusal of ``req`` with ``headers``."""
    with pytest.raises(StandfastError) as info:
        verifier.verify(headers, *req)
    assert info.value.code == "194042"
    return str(info.value.params["reason"])


def test_a_sealed_request_is_accepted_once(clock: Clock) -> None:
    signer, verifier = pair(clock)
    headers = sign(signer)
    assert headers[FROM_HEADER] == "server1"
    got = verifier.verify(headers, *REQ)
    assert got.sender == "server1" and got.ident == ADMIN and got.ident.session is None
    assert refusal(verifier, headers) == "stale or replayed request"


def test_requests_arriving_out_of_order_are_each_accepted(clock: Clock) -> None:
    signer, verifier = pair(clock)
    many = [sign(signer) for _ in range(50)]
    for headers in reversed(many):
        assert verifier.verify(headers, *REQ).sender == "server1"
    for headers in many:
        assert refusal(verifier, headers) == "stale or replayed request"


@pytest.mark.parametrize(
    "req",
    [
        ("DELETE", REQ[1], REQ[2], REQ[3]),
        ("POST", "/v1/out-of-service", REQ[2], REQ[3]),
        ("POST", REQ[1], b"tag=y", REQ[3]),
        ("POST", REQ[1], REQ[2], b'{"tag": "db"}'),
    ],
    ids=["method", "path", "query", "body"],
)
def test_a_request_other_than_the_sealed_one_is_refused_and_consumes_nothing(
    clock: Clock, req: Request
) -> None:
    signer, verifier = pair(clock)
    headers = sign(signer)
    assert refusal(verifier, headers, req) == "bad signature"
    assert verifier.verify(headers, *REQ).sender == "server1"  # the genuine one still passes


def test_stale_and_future_timestamps_are_refused(clock: Clock) -> None:
    signer, verifier = pair(clock)
    old = sign(signer)
    clock.now += RELAY_WINDOW + 1
    assert refusal(verifier, old) == "stale or replayed request"
    clock.now -= 2 * (RELAY_WINDOW + 1)
    assert refusal(verifier, old) == "stale or replayed request"
    clock.now += RELAY_WINDOW + 1
    assert verifier.verify(old, *REQ).sender == "server1"  # within the window again


@pytest.mark.parametrize(
    "where",
    [{"key": OTHER_KEY}, {"cluster": "c2"}, {"local": "server3"}],
    ids=["other-key", "other-cluster", "other-receiver"],
)
def test_a_request_sealed_for_elsewhere_is_refused(clock: Clock, where: dict[str, Any]) -> None:
    signer, verifier = pair(clock, **where)
    assert refusal(verifier, sign(signer)) == "bad signature"


def test_forged_missing_and_garbled_seals_are_refused(clock: Clock) -> None:
    signer, verifier = pair(clock)
    headers = sign(signer)
    assert refusal(verifier, {FROM_HEADER: "server1"}) == "bad signature"
    assert refusal(verifier, {**headers, SEAL_HEADER: "not base64!"}) == "bad signature"
    assert refusal(verifier, {**headers, SEAL_HEADER: "A" * 8000}) == "bad signature"
    raw = bytearray(base64.b64decode(headers[SEAL_HEADER]))
    raw[-1] ^= 1
    tampered = {**headers, SEAL_HEADER: base64.b64encode(bytes(raw)).decode()}
    assert refusal(verifier, tampered) == "bad signature"
    assert refusal(verifier, {**headers, FROM_HEADER: "server3"}) == "bad signature"
    assert verifier.verify(headers, *REQ).sender == "server1"


def test_an_envelope_of_another_type_or_role_is_refused(clock: Clock) -> None:
    _, verifier = pair(clock)
    sealer = Sealer(KEY, "c1", "server1", clock=clock)
    method, path, query, body = REQ
    base: dict[str, JSONValue] = {
        "user": "alice",
        "role": "administrator",
        "method": method,
        "path": path,
        "query_sha256": hashlib.sha256(query).hexdigest(),
        "body_sha256": hashlib.sha256(body).hexdigest(),
    }

    def headers(msg_type: str, **changes: JSONValue) -> dict[str, str]:
        sealed = sealer.seal("server2", msg_type, {**base, **changes})
        return {FROM_HEADER: "server1", SEAL_HEADER: base64.b64encode(sealed).decode()}

    assert refusal(verifier, headers("heartbeat")) == "bad signature"
    assert refusal(verifier, headers("api_relay", role="root")) == "unknown user or role"
    assert refusal(verifier, headers("api_relay", user=7)) == "unknown user or role"
    assert verifier.verify(headers("api_relay"), *REQ).ident == ADMIN
