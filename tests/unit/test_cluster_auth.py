"""Cluster message authentication: sealing, replay protection and the key file."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from standfast.cluster.auth import (
    BadSignature,
    Envelope,
    KeyFileError,
    KeyPermissionError,
    KeyTooShortError,
    Malformed,
    Misdirected,
    Replayed,
    ReplayGuard,
    Sealer,
    Stale,
    WrongCluster,
    WrongVersion,
    generate_key,
    load_key,
    open_sealed,
    seal,
)
from standfast.cluster.heartbeat_tunables import HeartbeatTunables
from standfast.messages import codes

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))
NOW = 1_700_000_000.0


class FakeClock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def envelope(seq: int = 1, boot_id: int = 7, timestamp: float = NOW, **kw: object) -> Envelope:
    fields: dict[str, object] = {
        "cluster": "prod",
        "sender": "alpha",
        "receiver": "beta",
        "msg_type": "heartbeat",
        "boot_id": boot_id,
        "seq": seq,
        "timestamp": timestamp,
        "body": {"inc": 3, "view": {"beta": {"net1": "ALIVE"}}, "text": "é"},
    }
    fields.update(kw)
    return Envelope(**fields)  # type: ignore[arg-type]


def test_round_trip() -> None:
    env = envelope()
    data = seal(KEY, env)
    assert open_sealed(KEY, data, cluster="prod", receiver="beta") == env
    assert seal(KEY, env) == data  # canonical: deterministic


def test_broadcast_receiver_accepted_and_misdirected_refused() -> None:
    assert open_sealed(KEY, seal(KEY, envelope(receiver="*")), receiver="gamma").receiver == "*"
    with pytest.raises(Misdirected):
        open_sealed(KEY, seal(KEY, envelope()), receiver="gamma")


@pytest.mark.parametrize("index", [0, 5, 20, 40, -40, -1])
def test_tampered_byte_is_bad_signature_or_malformed(index: int) -> None:
    data = bytearray(seal(KEY, envelope()))
    data[index] ^= 0x01
    with pytest.raises((BadSignature, Malformed)):
        open_sealed(KEY, bytes(data))


def test_every_tampered_byte_is_refused() -> None:
    data = seal(KEY, envelope())
    for i in range(len(data)):
        tampered = bytearray(data)
        tampered[i] ^= 0x80
        with pytest.raises((BadSignature, Malformed)):
            open_sealed(KEY, bytes(tampered))


def test_nothing_of_the_body_is_in_the_clear() -> None:
    env = envelope(body={"command": "/usr/bin/secret-app --password hunter2", "state": "ISP"})
    data = seal(KEY, env)
    for word in (b"secret-app", b"hunter2", b"ISP", b"alpha", b"beta", b"prod", b"heartbeat"):
        assert word not in data
    # The header (framing, boot id, sequence, time) is readable and authenticated.
    assert data.startswith(b"SFCM\x02")


def test_the_same_envelope_from_another_boot_gives_another_ciphertext() -> None:
    a, b = seal(KEY, envelope(boot_id=7)), seal(KEY, envelope(boot_id=8))
    assert a[36:] != b[36:]


def test_ciphertext_tamper_is_bad_signature() -> None:
    data = bytearray(seal(KEY, envelope()))
    data[40] ^= 0x01
    with pytest.raises(BadSignature):
        open_sealed(KEY, bytes(data))


def test_a_rotation_opens_with_either_key() -> None:
    old, new = seal(OTHER_KEY, envelope()), seal(KEY, envelope(seq=2))
    assert open_sealed([KEY, OTHER_KEY], old).seq == 1
    assert open_sealed([KEY, OTHER_KEY], new).seq == 2
    with pytest.raises(BadSignature):
        open_sealed([KEY], old)


def test_wrong_key() -> None:
    with pytest.raises(BadSignature):
        open_sealed(OTHER_KEY, seal(KEY, envelope()))


def test_wrong_cluster() -> None:
    with pytest.raises(WrongCluster):
        open_sealed(KEY, seal(KEY, envelope()), cluster="staging")


@pytest.mark.parametrize(
    "data", [b"", b"SFCM", b"x" * 100, b"\x00" * 68], ids=["empty", "magic", "text", "zeros"]
)
def test_garbage_is_malformed(data: bytes) -> None:
    with pytest.raises(Malformed):
        open_sealed(KEY, data)


def test_truncated_is_malformed() -> None:
    data = seal(KEY, envelope())
    with pytest.raises(Malformed):
        open_sealed(KEY, data[:-1])
    with pytest.raises(Malformed):
        open_sealed(KEY, data + b"\x00")


def test_replay_of_same_datagram_rejected() -> None:
    guard = ReplayGuard(clock=FakeClock())
    data = seal(KEY, envelope(seq=1))
    open_sealed(KEY, data, guard=guard, path="net1")
    with pytest.raises(Replayed):
        open_sealed(KEY, data, guard=guard, path="net1")
    # Paths are tracked separately: the same datagram on another path is new there.
    open_sealed(KEY, data, guard=guard, path="net2")


def test_reordering_within_window_accepted_once() -> None:
    guard = ReplayGuard(window=64, clock=FakeClock())
    for seq in (1, 2, 5, 4, 3):
        guard.check(envelope(seq=seq))
    for seq in (3, 4, 5, 1):
        with pytest.raises(Replayed):
            guard.check(envelope(seq=seq))
    guard.check(envelope(seq=100))
    guard.check(envelope(seq=40))  # 60 behind: still inside the window, unseen
    with pytest.raises(Replayed):
        guard.check(envelope(seq=40))
    with pytest.raises(Replayed):
        guard.check(envelope(seq=36))  # 64 behind: outside the window


@given(st.lists(st.integers(min_value=1, max_value=300), max_size=200))
def test_guard_accepts_each_sequence_at_most_once(seqs: list[int]) -> None:
    guard = ReplayGuard(window=32, clock=FakeClock())
    accepted: list[int] = []
    highest = 0
    for seq in seqs:
        try:
            guard.check(envelope(seq=seq))
        except Replayed:
            assert seq in accepted or seq <= highest - 32
            continue
        assert seq not in accepted
        accepted.append(seq)
        highest = max(highest, seq)
    # Anything above the highest accepted is always new.
    guard.check(envelope(seq=highest + 1))


def test_rejection_does_not_change_state() -> None:
    guard = ReplayGuard(clock=FakeClock())
    guard.check(envelope(seq=10))
    with pytest.raises(Stale):
        guard.check(envelope(seq=11, timestamp=NOW + 3600))
    guard.check(envelope(seq=11))


def test_new_boot_accepted_only_if_newer() -> None:
    clock = FakeClock()
    guard = ReplayGuard(clock=clock)
    old = [envelope(seq=s, boot_id=1, timestamp=NOW - 10 + s) for s in (1, 2, 3)]
    for env in old:
        guard.check(env)
    # New daemon start: new boot id, later timestamp, sequence restarts at 1.
    guard.check(envelope(seq=1, boot_id=2, timestamp=NOW - 5))
    guard.check(envelope(seq=2, boot_id=2, timestamp=NOW - 4))
    # A captured message of the old boot cannot be replayed...
    for env in old:
        with pytest.raises(Replayed):
            guard.check(env)
    # ... nor a forged-looking old boot with a timestamp before the new boot's last one.
    with pytest.raises(Replayed):
        guard.check(envelope(seq=99, boot_id=3, timestamp=NOW - 4.5))
    # A retired boot id is refused even with a fresh timestamp.
    with pytest.raises(Replayed):
        guard.check(envelope(seq=4, boot_id=1, timestamp=NOW))


def test_old_boot_replayed_before_any_new_boot_message() -> None:
    guard = ReplayGuard(clock=FakeClock())
    guard.check(envelope(seq=50, boot_id=9, timestamp=NOW - 1))
    with pytest.raises(Replayed):
        guard.check(envelope(seq=1, boot_id=8, timestamp=NOW - 2))


@pytest.mark.parametrize("offset", [-31.0, 31.0, -3600.0, 1e9])
def test_skewed_timestamp_rejected(offset: float) -> None:
    guard = ReplayGuard(clock=FakeClock())
    with pytest.raises(Stale):
        open_sealed(KEY, seal(KEY, envelope(timestamp=NOW + offset)), guard=guard)


def test_skew_is_configurable() -> None:
    guard = ReplayGuard(skew=5.0, clock=FakeClock())
    guard.check(envelope(seq=1, timestamp=NOW + 4.9))
    with pytest.raises(Stale):
        guard.check(envelope(seq=2, timestamp=NOW - 5.1))


def test_sealer_sequence_strictly_increasing() -> None:
    sealer = Sealer(KEY, "prod", "alpha")
    seqs = [open_sealed(KEY, sealer.seal("beta", "heartbeat")).seq for _ in range(5)]
    assert seqs == [1, 2, 3, 4, 5]
    assert Sealer(KEY, "prod", "alpha").boot_id != sealer.boot_id


def test_seal_rejects_short_key_and_bad_body() -> None:
    with pytest.raises(ValueError):
        seal(b"short", envelope())
    with pytest.raises(ValueError):
        seal(KEY, envelope(body={"x": float("nan")}))


# ----------------------------------------------------------------------- key file


def test_generate_and_load_key(tmp_path: Path) -> None:
    path = tmp_path / "cluster.key"
    key = generate_key(path)
    assert len(key) >= 32
    assert path.stat().st_mode & 0o777 == 0o600
    assert load_key(path) == key
    with pytest.raises(FileExistsError):
        generate_key(path)
    assert load_key(path) == key
    assert generate_key(path, overwrite=True) != key
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cluster.key"]


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o660, 0o602])
def test_load_key_refuses_loose_permissions(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "cluster.key"
    generate_key(path)
    os.chmod(path, mode)
    with pytest.raises(KeyPermissionError) as info:
        load_key(path)
    assert str(info.value).startswith(f"{codes.KEY_PERMISSIONS}: ")
    assert info.value.code == "191001"


def test_load_key_refuses_short_key(tmp_path: Path) -> None:
    path = tmp_path / "cluster.key"
    path.write_bytes(base64.b64encode(b"x" * 31))
    os.chmod(path, 0o600)
    with pytest.raises(KeyTooShortError) as info:
        load_key(path)
    assert info.value.code == "191002"
    assert str(info.value).startswith("191002: ")


def test_load_key_refuses_garbage_and_missing(tmp_path: Path) -> None:
    path = tmp_path / "cluster.key"
    path.write_text("not base64 at all!!\n")
    os.chmod(path, 0o600)
    with pytest.raises(KeyFileError):
        load_key(path)
    with pytest.raises(KeyFileError):
        load_key(tmp_path / "absent.key")
    with pytest.raises(KeyPermissionError):
        load_key(tmp_path)  # a directory


# ----------------------------------------------------------------------- tunables


def test_tunables_defaults_and_validation() -> None:
    tun = HeartbeatTunables()
    assert (tun.interval, tun.miss_count) == (0.3, 5)
    assert tun.detection_time == pytest.approx(1.5)
    assert HeartbeatTunables(0.5, 5).detection_time == pytest.approx(2.5)
    assert HeartbeatTunables.from_mapping({"interval": 1, "miss_count": 2}).interval == 1.0
    for kwargs in (
        {"interval": 0.01},
        {"interval": 11.0},
        {"interval": float("nan")},
        {"interval": "1"},
        {"miss_count": 1},
        {"miss_count": 101},
        {"miss_count": 2.5},
        {"miss_count": True},
        {"interval": 1.0, "miss_count": 3},
    ):
        with pytest.raises(ValueError):
            HeartbeatTunables(**kwargs)  # type: ignore[arg-type,unused-ignore]
    with pytest.raises(ValueError, match="unknown"):
        HeartbeatTunables.from_mapping({"intervall": 1})
    assert HeartbeatTunables(1.0, 10, max_detection=10.0).detection_time == 10.0


def test_another_protocol_version_is_refused_by_name_not_misread() -> None:
    """A server of an incompatible release (protocol 1 was HMAC over plain JSON) is
    told apart from a forgery: 191013 names both versions."""
    data = bytearray(seal(KEY, envelope()))
    data[4] = 1
    with pytest.raises(WrongVersion) as exc:
        open_sealed(KEY, bytes(data))
    assert exc.value.version == 1 and "protocol 1" in str(exc.value)
    assert isinstance(exc.value, Malformed)
