"""Encrypted, authenticated message envelopes for traffic between cluster servers.

Wire format (all integers big-endian)::

    magic "SFCM" | version u8 (2) | flags u8 (0) | reserved u16 (0)
    | boot_id u64 | seq u64 | timestamp f64 | body_len u32      (36-byte fixed header)
    | ChaCha20-Poly1305 ciphertext of the canonical JSON
      {"b": body, "c": cluster, "r": receiver, "s": sender, "t": type}   (body_len bytes)
    | Poly1305 tag                                                (16 bytes)

The header travels in the clear and is the cipher's associated data, so every byte is
authenticated and nothing but the framing can be read without the cluster key: a
captured heartbeat or configuration push shows neither server names nor states nor
command lines (corosync's knet encrypts likewise). :func:`open_sealed` checks the
framing, then decrypts and verifies (one step), and only then parses the body.

Keys and nonces: each sender's daemon start (its random 64-bit ``boot_id``) seals with
its own key, HKDF-SHA256 of the cluster key with the boot id; the nonce is the message's
sequence number, which a :class:`Sealer` never repeats within a boot. So a nonce is
never used twice under one key without anyone keeping state across restarts. The
``cryptography`` package supplies the cipher and the key derivation (no hand-written
cryptography here).

Key rotation (``standfast cluster rekey``): every sealer and opener takes the shared
:class:`~standfast.cluster.keyring.KeyRing` (seal with its first key, open with any),
swapped in place while the daemon runs (:mod:`standfast.cluster.keyring`).

Replay protection is separate and stateful: :class:`ReplayGuard` remembers, per
(sender, path), the sender's boot id, its highest sequence number and a bitmap window for
UDP reordering, and rejects timestamps outside the allowed clock skew.
"""

from __future__ import annotations

import json
import math
import secrets
import struct
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TypeAlias

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from standfast.cluster.keyring import (
    MIN_KEY_BYTES,
    ClusterKey,
    KeyFileError,
    KeyPermissionError,
    KeyRing,
    KeyTooShortError,
    current_key,
    generate_key,
    load_key,
    load_keys,
)
from standfast.messages.codes import FORGED_MESSAGE, WRONG_PROTOCOL

JSONValue: TypeAlias = bool | int | float | str | list["JSONValue"] | dict[str, "JSONValue"] | None
JSONObject: TypeAlias = dict[str, JSONValue]

PROTOCOL_VERSION = 2  # 1 was HMAC-SHA256 over a plaintext body
MAGIC = b"SFCM"
_HEADER = struct.Struct(">4sBBHQQdI")
HEADER_SIZE = _HEADER.size
TAG_SIZE = 16  # Poly1305
_KDF_SALT = b"standfast cluster envelope v2"
MAX_MESSAGE_SIZE = 65507  # largest UDP payload over IPv4
MAX_NAME_LENGTH = 255
BROADCAST = "*"
DEFAULT_SKEW = 30.0
DEFAULT_WINDOW = 64
_U64 = (1 << 64) - 1


# --------------------------------------------------------------------------- errors


class AuthError(Exception):
    """A message was refused; the subclass says why."""


class BadSignature(AuthError):
    """The message does not decrypt and verify (forged or tampered, or another key)."""


class Malformed(AuthError):
    """The datagram is not a well-formed envelope of a supported version."""


class WrongVersion(Malformed):
    """A well-framed envelope of another protocol version (a server of an incompatible
    release): refused, never misread. ``version`` is the one it speaks."""

    def __init__(self, version: int) -> None:
        super().__init__(
            f"the sender speaks cluster protocol {version}, this server {PROTOCOL_VERSION}"
        )
        self.version = version


class WrongCluster(AuthError):
    """Authenticated, but addressed to another cluster name."""


class Misdirected(AuthError):
    """Authenticated, but addressed to another server."""


class Replayed(AuthError):
    """A repeat of an accepted message, too old for the window, or from a retired boot."""


class Stale(AuthError):
    """The timestamp is outside the allowed clock skew."""


# --------------------------------------------------------------------------- envelope


@dataclass(frozen=True, slots=True)
class Envelope:
    """One message between servers. ``receiver`` is a server name or ``"*"``."""

    cluster: str
    sender: str
    receiver: str
    msg_type: str
    boot_id: int
    seq: int
    timestamp: float
    body: JSONObject = field(default_factory=dict)
    version: int = PROTOCOL_VERSION


#: What ``open_sealed`` refuses with (Replayed and Stale come only from a guard).
OPEN_REFUSALS = (BadSignature, Malformed, WrongCluster, Misdirected)

#: The receivers' names for a refused message (their counters' keys).
DROP_FORGED = "forged"
DROP_MALFORMED = "malformed"
DROP_WRONG_VERSION = "wrong_version"
DROP_WRONG_CLUSTER = "wrong_cluster"
DROP_MISDIRECTED = "misdirected"


def refusal(exc: AuthError) -> tuple[str, str]:
    """(drop reason, catalogue code) a receiver counts and logs for a message that
    ``open_sealed`` refused with ``exc`` (one of OPEN_REFUSALS). Pure."""
    if isinstance(exc, WrongVersion):  # before Malformed, its base
        return DROP_WRONG_VERSION, WRONG_PROTOCOL
    if isinstance(exc, BadSignature):
        return DROP_FORGED, FORGED_MESSAGE
    if isinstance(exc, WrongCluster):
        return DROP_WRONG_CLUSTER, FORGED_MESSAGE
    if isinstance(exc, Misdirected):
        return DROP_MISDIRECTED, FORGED_MESSAGE
    return DROP_MALFORMED, FORGED_MESSAGE


def _check_name(what: str, value: object) -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_NAME_LENGTH:
        raise Malformed(f"{what} must be a non-empty string of at most {MAX_NAME_LENGTH} chars")
    return value


@lru_cache(maxsize=256)
def _cipher(key: bytes, boot_id: int) -> ChaCha20Poly1305:
    """The cipher of one sender's daemon start. Cached: a receiver sees few boots, and a
    forged boot id costs one derivation (the cache only keeps the most recent ones)."""
    hkdf = HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=_KDF_SALT,
        info=boot_id.to_bytes(8, "big"),
    )
    return ChaCha20Poly1305(hkdf.derive(key))


def _nonce(seq: int) -> bytes:
    return seq.to_bytes(12, "big")


def _canonical_body(envelope: Envelope) -> bytes:
    doc = {
        "b": envelope.body,
        "c": envelope.cluster,
        "r": envelope.receiver,
        "s": envelope.sender,
        "t": envelope.msg_type,
    }
    try:
        text = json.dumps(doc, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"message body is not JSON-serialisable: {exc}") from exc
    return text.encode("ascii")


def seal(key: ClusterKey, envelope: Envelope, *, max_size: int = MAX_MESSAGE_SIZE) -> bytes:
    """Encode and authenticate ``envelope`` (with a ring's current key); raises
    ValueError for an unsendable one (``max_size``: a datagram's by default; the peer
    channel's frames are larger)."""
    key = current_key(key)
    if len(key) < MIN_KEY_BYTES:
        raise ValueError(f"cluster key must be at least {MIN_KEY_BYTES} bytes")
    if envelope.version != PROTOCOL_VERSION:
        raise ValueError(f"unsupported protocol version {envelope.version}")
    for what, value in (
        ("cluster", envelope.cluster),
        ("sender", envelope.sender),
        ("receiver", envelope.receiver),
        ("msg_type", envelope.msg_type),
    ):
        try:
            _check_name(what, value)
        except Malformed as exc:
            raise ValueError(str(exc)) from None
    if not 0 <= envelope.boot_id <= _U64 or not 0 <= envelope.seq <= _U64:
        raise ValueError("boot_id and seq must be unsigned 64-bit integers")
    if not math.isfinite(envelope.timestamp):
        raise ValueError("timestamp must be finite")
    body = _canonical_body(envelope)
    header = _HEADER.pack(
        MAGIC, envelope.version, 0, 0, envelope.boot_id, envelope.seq, envelope.timestamp, len(body)
    )
    # The ciphertext is as long as the body, followed by the tag.
    data = header + _cipher(key, envelope.boot_id).encrypt(_nonce(envelope.seq), body, header)
    if len(data) > max_size:
        raise ValueError(f"sealed message is {len(data)} bytes, more than {max_size}")
    return data


def open_sealed(
    key: bytes | Sequence[bytes] | KeyRing,
    data: bytes,
    *,
    cluster: str | None = None,
    receiver: str | None = None,
    guard: ReplayGuard | None = None,
    path: str = "",
    max_size: int = MAX_MESSAGE_SIZE,
) -> Envelope:
    """Decrypt, authenticate and decode ``data``.

    ``key`` is the cluster key, or the keys of a rotation (each is tried, newest first).
    Optional checks: ``cluster`` (else :class:`WrongCluster`), ``receiver`` (the local
    server name; the envelope must name it or ``"*"``, else :class:`Misdirected`), and
    ``guard`` (replay and skew check for ``path``, else :class:`Replayed`/:class:`Stale`).
    """
    if len(data) < HEADER_SIZE + TAG_SIZE:
        raise Malformed(f"datagram of {len(data)} bytes is too short")
    if len(data) > max_size:
        raise Malformed(f"message of {len(data)} bytes is too long")
    magic, version, flags, reserved, boot_id, seq, timestamp, body_len = _HEADER.unpack_from(data)
    if magic != MAGIC:
        raise Malformed("bad magic")
    if version != PROTOCOL_VERSION:
        raise WrongVersion(version)
    if HEADER_SIZE + body_len + TAG_SIZE != len(data):
        raise Malformed("length field does not match the datagram size")
    header = data[:HEADER_SIZE]
    plain = _decrypt([key] if isinstance(key, bytes) else key, boot_id, seq, header, data)
    # Authenticated from here on; still validate, a peer may run buggy code.
    if flags != 0 or reserved != 0:
        raise Malformed("unknown flags")
    if not math.isfinite(timestamp):
        raise Malformed("timestamp is not finite")
    try:
        doc = json.loads(plain.decode("ascii"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise Malformed(f"body is not canonical JSON: {exc}") from None
    if not isinstance(doc, dict) or set(doc) != {"b", "c", "r", "s", "t"}:
        raise Malformed("body does not have the envelope fields")
    body = doc["b"]
    if not isinstance(body, dict):
        raise Malformed("message body is not an object")
    envelope = Envelope(
        cluster=_check_name("cluster", doc["c"]),
        sender=_check_name("sender", doc["s"]),
        receiver=_check_name("receiver", doc["r"]),
        msg_type=_check_name("msg_type", doc["t"]),
        boot_id=boot_id,
        seq=seq,
        timestamp=timestamp,
        body=body,
        version=version,
    )
    if cluster is not None and envelope.cluster != cluster:
        raise WrongCluster(f"message for cluster {envelope.cluster!r}, not {cluster!r}")
    if receiver is not None and envelope.receiver not in (receiver, BROADCAST):
        raise Misdirected(f"message for server {envelope.receiver!r}, not {receiver!r}")
    if guard is not None:
        guard.check(envelope, path)
    return envelope


def _decrypt(keys: Sequence[bytes], boot_id: int, seq: int, header: bytes, data: bytes) -> bytes:
    for key in keys:
        try:
            return _cipher(key, boot_id).decrypt(_nonce(seq), data[HEADER_SIZE:], header)
        except InvalidTag:
            continue
    raise BadSignature("message authentication failed")


def new_boot_id() -> int:
    """A random non-zero 64-bit boot id."""
    return secrets.randbits(64) or 1


class Sealer:
    """Seals messages for one sender: one boot id per daemon start, one rising sequence."""

    def __init__(
        self,
        key: ClusterKey,
        cluster: str,
        sender: str,
        *,
        boot_id: int | None = None,
        clock: Callable[[], float] = time.time,
        max_size: int = MAX_MESSAGE_SIZE,
    ) -> None:
        if len(current_key(key)) < MIN_KEY_BYTES:
            raise ValueError(f"cluster key must be at least {MIN_KEY_BYTES} bytes")
        self._key = key  # a ring is read at each seal: a rotation takes effect at once
        self.cluster = cluster
        self.sender = sender
        self.boot_id = new_boot_id() if boot_id is None else boot_id
        self._seq = 0
        self._clock = clock
        self.max_size = max_size

    @property
    def last_seq(self) -> int:
        return self._seq

    def envelope(self, receiver: str, msg_type: str, body: JSONObject | None = None) -> Envelope:
        """The next envelope (consumes a sequence number)."""
        self._seq += 1
        return Envelope(
            cluster=self.cluster,
            sender=self.sender,
            receiver=receiver,
            msg_type=msg_type,
            boot_id=self.boot_id,
            seq=self._seq,
            timestamp=self._clock(),
            body={} if body is None else body,
        )

    def seal(self, receiver: str, msg_type: str, body: JSONObject | None = None) -> bytes:
        return seal(self._key, self.envelope(receiver, msg_type, body), max_size=self.max_size)


# --------------------------------------------------------------------------- replay


@dataclass(slots=True)
class _Track:
    boot_id: int
    highest: int
    bitmap: int  # bit i set: sequence (highest - i) was accepted
    last_timestamp: float
    retired: list[int] = field(default_factory=list)


class ReplayGuard:
    """Rejects replayed, too-old and clock-skewed messages, per (sender, path).

    Within one boot id, a sequence number is accepted once: above the highest seen, or
    within ``window`` below it and not seen yet (UDP reordering). A different boot id
    replaces the tracked one only when its timestamp is newer than the last message of the
    tracked boot, so a captured message from an earlier daemon start cannot be replayed;
    retired boot ids are also remembered. Timestamps further than ``skew`` seconds from
    the local clock are :class:`Stale`. Rejections never change the state.
    """

    RETIRED_BOOTS = 8

    def __init__(
        self,
        *,
        skew: float = DEFAULT_SKEW,
        window: int = DEFAULT_WINDOW,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not math.isfinite(skew) or skew <= 0:
            raise ValueError("skew must be a positive number of seconds")
        if not 1 <= window <= 4096:
            raise ValueError("window must be between 1 and 4096")
        self.skew = skew
        self.window = window
        self._mask = (1 << window) - 1
        self._clock = clock
        self._tracks: dict[tuple[str, str], _Track] = {}

    def check(self, envelope: Envelope, path: str = "", now: float | None = None) -> None:
        """Accept (and remember) ``envelope`` or raise :class:`Replayed` / :class:`Stale`."""
        current = self._clock() if now is None else now
        if abs(current - envelope.timestamp) > self.skew:
            raise Stale(
                f"timestamp {envelope.timestamp:.3f} is {envelope.timestamp - current:+.3f} s "
                f"from the local clock (allowed skew {self.skew:g} s)"
            )
        key = (envelope.sender, path)
        track = self._tracks.get(key)
        if track is None:
            self._tracks[key] = _Track(envelope.boot_id, envelope.seq, 1, envelope.timestamp)
            return
        if envelope.boot_id != track.boot_id:
            if envelope.boot_id in track.retired:
                raise Replayed(f"boot id {envelope.boot_id:#x} was retired")
            if envelope.timestamp <= track.last_timestamp:
                raise Replayed(
                    f"boot id {envelope.boot_id:#x} is not newer than the current boot's "
                    "last message"
                )
            retired = [*track.retired, track.boot_id][-self.RETIRED_BOOTS :]
            self._tracks[key] = _Track(
                envelope.boot_id, envelope.seq, 1, envelope.timestamp, retired
            )
            return
        if envelope.seq > track.highest:
            shift = envelope.seq - track.highest
            track.bitmap = ((track.bitmap << shift) | 1) & self._mask if shift < self.window else 1
            track.highest = envelope.seq
        else:
            behind = track.highest - envelope.seq
            if behind >= self.window:
                raise Replayed(f"sequence {envelope.seq} is older than the replay window")
            bit = 1 << behind
            if track.bitmap & bit:
                raise Replayed(f"sequence {envelope.seq} was already accepted")
            track.bitmap |= bit
        track.last_timestamp = max(track.last_timestamp, envelope.timestamp)

    def forget(self, sender: str) -> None:
        """Drop everything known about ``sender`` (e.g. when it leaves the cluster)."""
        for key in [k for k in self._tracks if k[0] == sender]:
            del self._tracks[key]


__all__ = [
    "BROADCAST",
    "MIN_KEY_BYTES",
    "OPEN_REFUSALS",
    "PROTOCOL_VERSION",
    "AuthError",
    "BadSignature",
    "ClusterKey",
    "Envelope",
    "JSONObject",
    "JSONValue",
    "KeyFileError",
    "KeyPermissionError",
    "KeyRing",
    "KeyTooShortError",
    "Malformed",
    "Misdirected",
    "ReplayGuard",
    "Replayed",
    "Sealer",
    "Stale",
    "WrongCluster",
    "WrongVersion",
    "generate_key",
    "load_key",
    "load_keys",
    "new_boot_id",
    "open_sealed",
    "refusal",
    "seal",
]
