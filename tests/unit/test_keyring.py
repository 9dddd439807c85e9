"""The cluster key ring and key file (cluster/keyring.py), the rotation's steps
(engine/rekey.py ``next_keys``), and sealing with a ring while it changes."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

from standfast.cluster.auth import BadSignature, Sealer, open_sealed
from standfast.cluster.keyring import (
    MAX_KEYS,
    KeyFileError,
    KeyPermissionError,
    KeyRing,
    KeyTooShortError,
    fingerprint,
    load_key,
    load_keys,
    new_key,
    write_keys,
)
from standfast.cluster.witness import REQUEST_TYPE, WITNESS_NAME, WitnessServer
from standfast.engine.rekey import next_keys

K1, K2, K3 = (bytes([n]) * 32 for n in (1, 2, 3))


def test_ring_seals_with_the_first_and_opens_with_any() -> None:
    ring = KeyRing([K1, K2])
    assert ring.current == K1 and list(ring) == [K1, K2] and len(ring) == 2
    sealer = Sealer(ring, "c", "a")
    data = sealer.seal("b", "t", {"n": 1})
    assert open_sealed(K1, data).body == {"n": 1}
    with pytest.raises(BadSignature):
        open_sealed(K2, data)
    # Swapped in place: the same sealer now seals with the new first key.
    ring.replace([K2, K1])
    data = sealer.seal("b", "t", {"n": 2})
    assert open_sealed(K2, data).body == {"n": 2}
    assert open_sealed(KeyRing([K3, K2]), data).body == {"n": 2}
    with pytest.raises(BadSignature):
        open_sealed(KeyRing([K1, K3]), data)


def test_ring_refuses_bad_lists_and_keeps_its_keys() -> None:
    ring = KeyRing(K1)
    for bad in ([], [b"short"], [K1, K2, K3, new_key(), new_key()]):
        with pytest.raises(ValueError):
            ring.replace(bad)
        assert ring.keys == (K1,)
    ring.replace([K1, K1, K2])
    assert ring.keys == (K1, K2)  # duplicates dropped, order kept


def test_ring_never_shows_its_keys() -> None:
    ring = KeyRing([K1, K2])
    assert K1.hex() not in repr(ring) and fingerprint(K1) in repr(ring)
    assert len(fingerprint(K1)) == 12 and fingerprint(K1) != fingerprint(K2)


def test_key_file_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "cluster.key"
    write_keys(path, [K2, K1])
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert load_keys(path) == [K2, K1]
    assert load_key(path) == K2
    lines = path.read_text().splitlines()
    assert [base64.b64decode(x) for x in lines] == [K2, K1]


@pytest.mark.parametrize(
    ("content", "error", "words"),
    [
        (b"", KeyFileError, "holds no key"),
        (b"\n  \n", KeyFileError, "holds no key"),
        (base64.b64encode(K1) + b"\n!!!\n", KeyFileError, "line 2"),
        (
            base64.b64encode(K1) + b"\n" + base64.b64encode(b"x" * 8) + b"\n",
            KeyTooShortError,
            "line 2",
        ),
        (
            b"".join(base64.b64encode(new_key()) + b"\n" for _ in range(MAX_KEYS + 1)),
            KeyFileError,
            "at most",
        ),
    ],
)
def test_key_file_refusals(
    tmp_path: Path, content: bytes, error: type[Exception], words: str
) -> None:
    path = tmp_path / "cluster.key"
    path.write_bytes(content)
    os.chmod(path, 0o600)
    with pytest.raises(error, match=words):
        load_keys(path)


def test_key_file_loose_mode_refused(tmp_path: Path) -> None:
    path = tmp_path / "cluster.key"
    write_keys(path, [K1])
    os.chmod(path, 0o640)
    with pytest.raises(KeyPermissionError):
        load_keys(path)


# -- the rotation's steps, as each server takes them --------------------------------


@pytest.mark.parametrize(
    ("keys", "step", "after"),
    [
        ([K1], "add", [K1, K2]),
        ([K1, K2], "add", [K1, K2]),  # again: nothing more
        ([K2, K1], "add", [K2, K1]),  # a server already further on
        ([K1, K2], "use", [K2, K1]),
        ([K2, K1], "use", [K2, K1]),
        ([K1, K3, K2], "use", [K2, K1, K3]),
        ([K2, K1], "drop", [K2]),
        ([K2], "drop", [K2]),
        ([K1, K2], "abort", [K1]),
        ([K1], "abort", [K1]),
        ([K2], "abort", [K2]),  # never an empty ring
    ],
)
def test_next_keys(keys: list[bytes], step: str, after: list[bytes]) -> None:
    assert next_keys(keys, step, K2) == after


@pytest.mark.parametrize(
    ("keys", "step", "error"),
    [
        ([K1], "use", ValueError),  # not added here first
        ([K1, K2], "drop", ValueError),  # does not seal with it yet
        ([K1], "jump", ValueError),
        ([K1, K3], "add", OverflowError),  # another rotation under way: finish it first
        ([K3, K1], "add", OverflowError),
    ],
)
def test_next_keys_refusals(keys: list[bytes], step: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        next_keys(keys, step, K2)


def test_finish_completes_a_rotation_that_stopped_half_way() -> None:
    # K3's rotation stopped during "use": server a seals with K3, b and c not yet.
    servers = {"a": [K3, K1], "b": [K1, K3], "c": [K1, K3]}
    new = servers["a"][0]  # finish: to the key the coordinator seals with
    for step in ("add", "use", "drop"):
        for name in servers:
            servers[name] = next_keys(servers[name], step, new)
    assert all(keys == [K3] for keys in servers.values())


def test_every_step_keeps_every_pair_of_servers_talking() -> None:
    """Three servers taking the steps one at a time, in every order the coordinator
    can leave them: at each moment each server opens what every other one seals."""
    servers = {"a": [K1], "b": [K1], "c": [K1]}
    for step in ("add", "use", "drop"):
        for name in servers:
            servers[name] = next_keys(servers[name], step, K2)
            for x, xs in servers.items():
                for y, ys in servers.items():
                    if x != y:
                        assert xs[0] in ys, (step, name, x, y, servers)
    assert all(keys == [K2] for keys in servers.values())


# -- the TCP witness answers with the key that opened the request ---------------------


@pytest.mark.parametrize("sender_key", [K1, K2])
def test_witness_replies_with_the_opening_key(sender_key: bytes) -> None:
    server = WitnessServer(KeyRing([K1, K2]), grant_ttl=5.0, startup_hold=0.0)
    request = Sealer(sender_key, "lab", "server1").seal(
        WITNESS_NAME, REQUEST_TYPE, {"partition": ["server1"], "nonce": "n1"}
    )
    reply = server._answer(request, "test")
    assert reply is not None
    env = open_sealed(sender_key, reply, receiver="server1")
    assert env.body["nonce"] == "n1"
    other = K2 if sender_key == K1 else K1
    with pytest.raises(BadSignature):
        open_sealed(other, reply)


def test_witness_drops_a_request_under_an_unknown_key() -> None:
    server = WitnessServer(KeyRing([K1, K2]), grant_ttl=5.0, startup_hold=0.0)
    request = Sealer(K3, "lab", "server1").seal(
        WITNESS_NAME, REQUEST_TYPE, {"partition": ["server1"], "nonce": "n1"}
    )
    assert server._answer(request, "test") is None
    assert server.dropped == 1
