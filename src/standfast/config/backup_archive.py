"""The backup archive of ``standfast config backup``: one gzip-compressed tar file
(the stdlib ``tarfile``; ``tar tzf FILE`` lists it), flat, every member mode 0600:

=============== ==============================================================
``manifest.json`` format, Standfast version, cluster, server, creation time, the
                  fingerprints of the cluster key (never the key), the members
                  of the cluster, and the size and SHA-256 of every other file
``cluster.json``  the cluster definition as it is on disk (absent on a lone server)
``defaults``      the defaults (tunables) file, if the server has one
``config.json``   the resource configuration (``GET /v1/config``)
``events.json``   this server's event history
``cluster.key``   the cluster key file, only when asked for (``--include-key``)
=============== ==============================================================

Format numbers: 1 is the plain JSON of earlier versions (the configuration with an
``events`` list, still restored), 2 is this archive. A reader refuses a newer format
before it looks at anything else in the manifest, since a newer layout may differ.

Contracts: :func:`build_archive` is pure (the same input gives the same bytes).
:func:`parse_archive` reads from bytes, never extracts to disk (a member's name is
only ever a key of a fixed set), and either returns a wholly checked
:class:`Archive` or raises :class:`StandfastError` 198101 (malformed) or 198102
(newer format). :func:`check_same_cluster` raises 198103 for another cluster's backup.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from standfast import __version__
from standfast.messages import StandfastError

#: The archive format this Standfast writes and the newest it reads.
FORMAT = 2
LEGACY_FORMAT = 1

MANIFEST = "manifest.json"
DEFINITION = "cluster.json"
DEFAULTS = "defaults"
CONFIG = "config.json"
EVENTS = "events.json"
KEY = "cluster.key"
#: Every member an archive may hold, in the order they are written.
MEMBERS = (MANIFEST, DEFINITION, DEFAULTS, CONFIG, EVENTS, KEY)
REQUIRED = (CONFIG, EVENTS)

#: One member, and all of them together, at most this large once decompressed.
MAX_MEMBER_BYTES = 1 << 30
MAX_TOTAL_BYTES = 2 << 30
#: What no name of a cluster stands for (a lone server's backup).
NONE = "(none)"


@dataclass(frozen=True)
class Manifest:
    """What an archive says about itself (``manifest.json``)."""

    format: int
    standfast_version: str
    cluster: str | None
    server: str
    created: str  # ISO 8601, UTC
    key_fingerprints: tuple[str, ...]  # the sealing key's first
    members: tuple[str, ...]
    files: Mapping[str, Mapping[str, Any]]  # name -> {"size", "sha256"}

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "standfast_version": self.standfast_version,
            "cluster": self.cluster,
            "server": self.server,
            "created": self.created,
            "key_fingerprints": list(self.key_fingerprints),
            "members": list(self.members),
            "files": {n: dict(f) for n, f in sorted(self.files.items())},
        }


@dataclass(frozen=True)
class Archive:
    """A checked archive: its manifest and every file's bytes (the manifest's own too)."""

    manifest: Manifest
    files: Mapping[str, bytes]

    @property
    def has_key(self) -> bool:
        return KEY in self.files

    def config(self) -> dict[str, Any]:
        """The configuration with its ``events`` list, as ``POST /v1/config`` takes it."""
        data: dict[str, Any] = json.loads(self.files[CONFIG])
        data["events"] = json.loads(self.files[EVENTS])
        return data


def _digest(data: bytes) -> dict[str, Any]:
    return {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def build_archive(
    *,
    server: str,
    cluster: str | None,
    members: Sequence[str],
    key_fingerprints: Sequence[str],
    created: float,
    files: Mapping[str, bytes],
) -> bytes:
    """The archive's bytes: ``files`` (names of :data:`MEMBERS` but the manifest; the
    :data:`REQUIRED` ones present) and a manifest describing them. ValueError for a
    name outside the set or a required one missing (a programming error)."""
    unknown = set(files) - set(MEMBERS[1:])
    missing = set(REQUIRED) - set(files)
    if unknown or missing:
        raise ValueError(f"archive files: unknown {sorted(unknown)}, missing {sorted(missing)}")
    manifest = Manifest(
        format=FORMAT,
        standfast_version=__version__,
        cluster=cluster,
        server=server,
        created=datetime.fromtimestamp(created, UTC).isoformat(timespec="seconds"),
        key_fingerprints=tuple(key_fingerprints),
        members=tuple(sorted(members)),
        files={name: _digest(data) for name, data in files.items()},
    )
    text = json.dumps(manifest.to_dict(), indent=2, sort_keys=True) + "\n"
    contents = {MANIFEST: text.encode("utf-8"), **files}
    buffer = io.BytesIO()
    # gzip's own header carries a time too: the backup's, so equal input, equal bytes.
    with (
        gzip.GzipFile(fileobj=buffer, mode="wb", mtime=int(created)) as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for name in MEMBERS:
            if name in contents:
                info = tarfile.TarInfo(name)
                info.size = len(contents[name])
                info.mode = 0o600
                info.mtime = int(created)
                tar.addfile(info, io.BytesIO(contents[name]))
    return buffer.getvalue()


def is_archive(data: bytes) -> bool:
    """True for gzip data (an archive); a format 1 backup is JSON text."""
    return data[:2] == b"\x1f\x8b"


def parse_archive(data: bytes, path: str) -> Archive:
    """The checked archive of ``data`` (read from ``path``, named in the messages)."""

    def bad(reason: str) -> StandfastError:
        return StandfastError("198101", path=path, reason=reason)

    files = _read_members(data, bad)
    if MANIFEST not in files:
        raise bad(f"no {MANIFEST}")
    try:
        raw = json.loads(files[MANIFEST])
    except ValueError as exc:
        raise bad(f"{MANIFEST} is not JSON ({exc})") from None
    if not isinstance(raw, dict):
        raise bad(f"{MANIFEST} is not a JSON object")
    fmt = raw.get("format")
    if not isinstance(fmt, int) or isinstance(fmt, bool) or fmt < FORMAT:
        raise bad(f"{MANIFEST}: format {fmt!r} is not an archive format")
    if fmt > FORMAT:
        raise StandfastError(
            "198102",
            path=path,
            format=fmt,
            version=str(raw.get("standfast_version", "?")),
            supported=FORMAT,
        )
    manifest = _manifest(raw, bad)
    _check_files(manifest, files, bad)
    return Archive(manifest, files)


def _read_members(data: bytes, bad: Any) -> dict[str, bytes]:
    """Every member's bytes by name; only regular files of :data:`MEMBERS`, once each,
    within the size limits."""
    files: dict[str, bytes] = {}
    total = 0
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            for info in tar:
                if info.name not in MEMBERS:
                    raise bad(f"unexpected member {info.name!r}")
                if not info.isfile():
                    raise bad(f"member {info.name} is not a regular file")
                if info.name in files:
                    raise bad(f"member {info.name} appears twice")
                total += info.size
                if info.size > MAX_MEMBER_BYTES or total > MAX_TOTAL_BYTES:
                    raise bad(f"member {info.name} is too large ({info.size} bytes)")
                member = tar.extractfile(info)
                if member is None:
                    raise bad(f"member {info.name} cannot be read")
                files[info.name] = member.read()
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise bad(f"not a readable tar.gz archive ({exc})") from None
    return files


def _manifest(raw: Mapping[str, Any], bad: Any) -> Manifest:
    def text(name: str, *, optional: bool = False) -> Any:
        value = raw.get(name)
        if (value is None and optional) or (isinstance(value, str) and value):
            return value
        raise bad(f"{MANIFEST}: {name} must be a non-empty string")

    def strings(name: str) -> tuple[str, ...]:
        value = raw.get(name)
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise bad(f"{MANIFEST}: {name} must be a list of names")
        return tuple(value)

    files = raw.get("files")
    if not isinstance(files, dict) or not all(
        isinstance(f, dict) and isinstance(f.get("size"), int) and isinstance(f.get("sha256"), str)
        for f in files.values()
    ):
        raise bad(f"{MANIFEST}: files must map each file to its size and sha256")
    return Manifest(
        format=int(raw["format"]),
        standfast_version=text("standfast_version"),
        cluster=text("cluster", optional=True),
        server=text("server"),
        created=text("created"),
        key_fingerprints=strings("key_fingerprints"),
        members=strings("members"),
        files=files,
    )


def _check_files(manifest: Manifest, files: Mapping[str, bytes], bad: Any) -> None:
    """The files are the manifest's, whole, and those read as JSON are JSON."""
    present = set(files) - {MANIFEST}
    if present != set(manifest.files):
        raise bad(f"the files {sorted(present)} are not the manifest's {sorted(manifest.files)}")
    for name in REQUIRED:
        if name not in files:
            raise bad(f"no {name}")
    for name in sorted(present):
        if _digest(files[name]) != dict(manifest.files[name]):
            raise bad(f"{name} does not match its size and SHA-256 in the manifest")
    if (manifest.cluster is None) != (DEFINITION not in files):
        raise bad(f"the manifest's cluster and {DEFINITION} disagree")
    if manifest.cluster is None and KEY in files:
        raise bad(f"{KEY} without a cluster")
    shapes: dict[str, type] = {CONFIG: dict, EVENTS: list, DEFINITION: dict}
    for name, shape in shapes.items():
        if name not in files:
            continue
        try:
            value = json.loads(files[name])
        except ValueError as exc:
            raise bad(f"{name} is not JSON ({exc})") from None
        if not isinstance(value, shape):
            raise bad(f"{name} is not a JSON {'object' if shape is dict else 'list'}")
        named = value.get("name") if isinstance(value, dict) else None
        if name == DEFINITION and named != manifest.cluster:
            raise bad(f"{DEFINITION} names cluster {named!r}, not {manifest.cluster}")


def same_cluster(
    manifest: Manifest, local_cluster: str | None, local_fingerprints: Sequence[str]
) -> bool:
    """Whether a backup belongs to this server's cluster: the same name (or both none)
    and, where both sides know the key, a key in common (a rotation under way holds
    two; one shared is enough)."""
    if manifest.cluster != local_cluster:
        return False
    if manifest.key_fingerprints and local_fingerprints:
        return bool(set(manifest.key_fingerprints) & set(local_fingerprints))
    return True


def check_same_cluster(
    manifest: Manifest, path: str, local_cluster: str | None, local_fingerprints: Sequence[str]
) -> None:
    """Refuse (198103, naming both clusters and keys) a backup of another cluster."""
    if not same_cluster(manifest, local_cluster, local_fingerprints):
        raise StandfastError(
            "198103",
            path=path,
            backup=manifest.cluster or NONE,
            backup_key=", ".join(manifest.key_fingerprints) or NONE,
            local=local_cluster or NONE,
            local_key=", ".join(local_fingerprints) or NONE,
        )
