"""The cluster key file and the key ring every sealer and opener of cluster traffic shares.

The key file (``/var/lib/standfast/cluster.key``, mode 0600) holds one base64 key per
line. The first line is the key this server seals with; every line is a key it accepts
(tried in file order). One line is the normal case; two or three only while a rotation
is under way (``standfast cluster rekey``, docs/cluster.md "Changing the cluster key"):

1. add: every server accepts the new key, still sealing with the old one;
2. use: every server seals with the new key, still accepting the old one;
3. drop: every server keeps only the new key.

At no step can two servers fail to open each other's messages, so heartbeats and the
peer channel never stop. :class:`KeyRing` is one object shared by the heartbeat
service, the peer channel, the relay and the witness client: ``replace`` swaps the keys
in place, so a daemon changes keys without a restart (the rotation's peer request, or
SIGHUP after an operator edited the file).

Contracts: :func:`load_keys` raises :class:`KeyFileError` (subclasses for permissions
and length) and never returns an empty list; :func:`write_keys` replaces the file
atomically (a crash leaves the old or the new file, never a mix); ``KeyRing.replace``
refuses an empty list or a short key with ValueError and changes nothing then.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import secrets
import stat
import threading
from collections.abc import Iterator, Sequence
from typing import TypeAlias, overload

from standfast.host.atomic import write_atomic
from standfast.messages.codes import KEY_INVALID, KEY_PERMISSIONS, KEY_TOO_SHORT

MIN_KEY_BYTES = 32
#: Keys a file may hold: the one in use, plus those of a rotation (a rotation that
#: stopped half-way and was started again holds three).
MAX_KEYS = 4


class KeyFileError(Exception):
    """The cluster key file cannot be used; ``code`` is the catalogue message code."""

    code: str = KEY_INVALID

    def __init__(self, text: str) -> None:
        super().__init__(f"{self.code}: {text}")
        self.text = text


class KeyPermissionError(KeyFileError):
    code = KEY_PERMISSIONS


class KeyTooShortError(KeyFileError):
    code = KEY_TOO_SHORT


def fingerprint(key: bytes) -> str:
    """A short public name of a key (first 12 hex digits of its SHA-256): safe to show
    and log, never enough to recover the key."""
    return hashlib.sha256(b"standfast key fingerprint\0" + key).hexdigest()[:12]


class KeyRing(Sequence[bytes]):
    """The keys of the cluster: seals with ``current``, opens with any (a Sequence, so
    :func:`~standfast.cluster.auth.open_sealed` takes it as it is). Thread-safe: the
    tuple of keys is swapped whole."""

    def __init__(self, keys: Sequence[bytes] | bytes) -> None:
        self._lock = threading.Lock()
        self._keys: tuple[bytes, ...] = ()
        self.replace([keys] if isinstance(keys, bytes) else keys)

    @property
    def current(self) -> bytes:
        return self._keys[0]

    @property
    def keys(self) -> tuple[bytes, ...]:
        return self._keys

    def replace(self, keys: Sequence[bytes]) -> None:
        """Swap the keys in place (ValueError, nothing changed, for a bad list)."""
        new = tuple(dict.fromkeys(keys))  # duplicates dropped, order kept
        if not new:
            raise ValueError("a key ring needs at least one key")
        if len(new) > MAX_KEYS:
            raise ValueError(f"a key ring holds at most {MAX_KEYS} keys")
        if any(len(k) < MIN_KEY_BYTES for k in new):
            raise ValueError(f"cluster keys must be at least {MIN_KEY_BYTES} bytes")
        with self._lock:
            self._keys = new

    def fingerprints(self) -> list[str]:
        return [fingerprint(k) for k in self._keys]

    @overload
    def __getitem__(self, index: int) -> bytes: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[bytes]: ...
    def __getitem__(self, index: int | slice) -> bytes | Sequence[bytes]:
        return self._keys[index]

    def __len__(self) -> int:
        return len(self._keys)

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._keys)

    def __repr__(self) -> str:  # never the keys themselves
        return f"KeyRing({', '.join(self.fingerprints())})"


#: What the sealers and openers take: one key, or the shared ring.
ClusterKey: TypeAlias = bytes | KeyRing


def current_key(key: ClusterKey) -> bytes:
    return key.current if isinstance(key, KeyRing) else key


# --------------------------------------------------------------------------- key file


def _read_private(name: str) -> bytes:
    try:
        fd = os.open(name, os.O_RDONLY | os.O_CLOEXEC | os.O_NOCTTY)
    except OSError as exc:
        raise KeyFileError(f"cannot open cluster key file {name}: {exc.strerror}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise KeyPermissionError(f"cluster key file {name} is not a regular file")
        if st.st_mode & 0o077:
            raise KeyPermissionError(
                f"cluster key file {name} is readable or writable by group or others "
                f"(mode {stat.S_IMODE(st.st_mode):04o}); run: chmod 600 {name}"
            )
        if st.st_uid not in (0, os.geteuid()):
            raise KeyPermissionError(
                f"cluster key file {name} is owned by uid {st.st_uid}, not by this user"
            )
        return os.read(fd, 8192)
    except OSError as exc:
        raise KeyFileError(f"cannot read cluster key file {name}: {exc.strerror}") from None
    finally:
        os.close(fd)


def load_keys(path: str | os.PathLike[str]) -> list[bytes]:
    """Every key of the file, the sealing key first; refuses a loose, foreign, empty,
    short or garbled file, or one with more than MAX_KEYS keys."""
    name = os.fspath(path)
    return parse_keys(_read_private(name), name)


def parse_keys(data: bytes, name: str) -> list[bytes]:
    """The keys of a key file's contents ``data`` (``name`` says where it came from in
    the error); the checks of :func:`load_keys` but the file's own (mode, owner)."""
    lines = [line.strip() for line in data.splitlines() if line.strip()]
    if not lines:
        raise KeyFileError(f"cluster key file {name} holds no key")
    if len(lines) > MAX_KEYS:
        raise KeyFileError(f"cluster key file {name} holds {len(lines)} keys, at most {MAX_KEYS}")
    keys = []
    for number, line in enumerate(lines, 1):
        try:
            key = base64.b64decode(line, validate=True)
        except (binascii.Error, ValueError):
            raise KeyFileError(
                f"cluster key file {name} does not hold base64 text (line {number})"
            ) from None
        if len(key) < MIN_KEY_BYTES:
            raise KeyTooShortError(
                f"cluster key in {name} (line {number}) is {len(key)} bytes; "
                f"at least {MIN_KEY_BYTES} are required"
            )
        keys.append(key)
    return keys


def load_key(path: str | os.PathLike[str]) -> bytes:
    """The sealing key of the file (its first line); see :func:`load_keys`."""
    return load_keys(path)[0]


def write_keys(path: str | os.PathLike[str], keys: Sequence[bytes]) -> None:
    """Replace the key file atomically with ``keys`` (mode 0600), the sealing key first."""
    if not keys or any(len(k) < MIN_KEY_BYTES for k in keys):
        raise ValueError(f"cluster keys must be at least {MIN_KEY_BYTES} bytes")
    text = b"".join(base64.b64encode(k) + b"\n" for k in keys)
    write_atomic(path, text, mode=0o600, overwrite=True)


def generate_key(
    path: str | os.PathLike[str], *, nbytes: int = MIN_KEY_BYTES, overwrite: bool = False
) -> bytes:
    """Write a new random key (base64, mode 0600) atomically and return it.

    Refuses to replace an existing file unless ``overwrite`` (FileExistsError).
    """
    if nbytes < MIN_KEY_BYTES:
        raise ValueError(f"a cluster key needs at least {MIN_KEY_BYTES} bytes")
    key = secrets.token_bytes(nbytes)
    write_atomic(path, base64.b64encode(key) + b"\n", mode=0o600, overwrite=overwrite)
    return key


def new_key() -> bytes:
    return secrets.token_bytes(MIN_KEY_BYTES)


__all__ = [
    "MAX_KEYS",
    "MIN_KEY_BYTES",
    "ClusterKey",
    "KeyFileError",
    "KeyPermissionError",
    "KeyRing",
    "KeyTooShortError",
    "current_key",
    "fingerprint",
    "generate_key",
    "load_key",
    "load_keys",
    "new_key",
    "parse_keys",
    "write_keys",
]
