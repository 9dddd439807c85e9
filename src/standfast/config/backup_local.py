"""This server's side of a backup: what it reads into an archive and the server files
it writes back from one (``standfast config restore FILE --server-files``).

The server files are the ones a daemon needs before it can start as a member: the
cluster definition (``cluster.json``, mode 0600), the cluster key (``cluster.key``,
mode 0600) and the defaults file. Once they are back, the daemon started on a rebuilt
server rejoins and fetches the newer configuration from its peers (replication), so
the resource configuration of the archive is not written here.

Contracts: :func:`read_local` only reads. :func:`restore_server_files` checks
everything before it writes anything (another cluster 198103, a different definition
198104, not a member 198105, no definition 198112, a bad key or definition in the
archive 198101 or the definition's own code); then it writes the defaults file, the
key and the definition last (its presence makes this server a member), each
atomically, and never over a different file but the defaults file (whose previous
contents it keeps beside it, 198107). A write that fails raises 198114.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from standfast.cluster.definition import ClusterDef, definition_from_dict, load_definition
from standfast.cluster.keyring import KeyFileError, fingerprint, load_keys, parse_keys, write_keys
from standfast.config import backup_archive as ba
from standfast.config.paths import Paths
from standfast.host.atomic import write_atomic
from standfast.messages import Notice, StandfastError

#: Where restoring the defaults file keeps the one it replaced (beside it).
SAVED_SUFFIX = ".before-restore"


@dataclass(frozen=True)
class LocalCluster:
    """This server's cluster files as they are (None / empty: absent)."""

    definition: ClusterDef | None
    definition_text: bytes | None
    keys: tuple[bytes, ...]

    @property
    def name(self) -> str | None:
        return self.definition.name if self.definition else None

    @property
    def fingerprints(self) -> list[str]:
        return [fingerprint(k) for k in self.keys]


def read_local(paths: Paths) -> LocalCluster:
    """The definition and key of this server; a numbered refusal for a file that is
    there but unusable (a bad definition, a loose or garbled key file)."""
    definition = load_definition(paths.cluster_definition)
    text = paths.cluster_definition.read_bytes() if definition is not None else None
    keys: tuple[bytes, ...] = ()
    if paths.cluster_key.exists():
        try:
            keys = tuple(load_keys(paths.cluster_key))
        except KeyFileError as exc:
            raise StandfastError(
                exc.code, path=paths.cluster_key, reason=exc.text, minimum=32
            ) from None
    return LocalCluster(definition, text, keys)


def backup_files(
    paths: Paths,
    local: LocalCluster,
    config: Mapping[str, Any],
    events: list[Any],
    *,
    include_key: bool,
) -> dict[str, bytes]:
    """The files of an archive of this server (the manifest aside): refuses
    ``include_key`` without a usable key (198110)."""
    files = {
        ba.CONFIG: (json.dumps(config, indent=2, sort_keys=True) + "\n").encode("utf-8"),
        ba.EVENTS: (json.dumps(events, indent=1, sort_keys=True) + "\n").encode("utf-8"),
    }
    if local.definition_text is not None:
        files[ba.DEFINITION] = local.definition_text
    if paths.defaults.is_file():
        files[ba.DEFAULTS] = paths.defaults.read_bytes()
    if include_key:
        if not local.keys or local.definition is None:
            reason = "no key file" if not local.keys else "this server is in no cluster"
            raise StandfastError("198110", path=paths.cluster_key, reason=reason)
        files[ba.KEY] = paths.cluster_key.read_bytes()
    return files


def write_file(path: Path, data: bytes, *, mode: int, overwrite: bool = True) -> None:
    """``write_atomic`` with its failure as a numbered refusal (198114)."""
    try:
        write_atomic(path, data, mode=mode, overwrite=overwrite)
    except OSError as exc:
        raise StandfastError("198114", path=path, reason=exc.strerror or exc) from None


def _archive_keys(archive: ba.Archive, path: str) -> list[bytes]:
    """The archive's keys, checked as a key file is and against the manifest."""
    if not archive.has_key:
        return []
    try:
        keys = parse_keys(archive.files[ba.KEY], f"{path}:{ba.KEY}")
    except KeyFileError as exc:
        raise StandfastError("198101", path=path, reason=exc.text) from None
    if [fingerprint(k) for k in keys] != list(archive.manifest.key_fingerprints):
        raise StandfastError(
            "198101", path=path, reason=f"{ba.KEY} is not the key of the manifest's fingerprints"
        )
    return keys


def check_server_files(
    archive: ba.Archive, local: LocalCluster, server: str, path: str, definition_path: Path
) -> tuple[ClusterDef, list[bytes]]:
    """Everything :func:`restore_server_files` refuses, checked with nothing written:
    the archive's definition and keys."""
    manifest = archive.manifest
    if manifest.cluster is None:
        raise StandfastError("198112", path=path, reason="a backup of a lone server")
    definition = definition_from_dict(json.loads(archive.files[ba.DEFINITION]))
    if server not in definition.servers:
        raise StandfastError(
            "198105", server=server, cluster=definition.name, members=", ".join(definition.servers)
        )
    keys = _archive_keys(archive, path)
    # With no definition here, a key left from before is still the cluster's identity.
    ba.check_same_cluster(manifest, path, local.name or manifest.cluster, local.fingerprints)
    if local.definition is not None and local.definition.to_dict() != definition.to_dict():
        raise StandfastError("198104", path=definition_path)
    return definition, keys


def restore_server_files(archive: ba.Archive, paths: Paths, server: str, path: str) -> list[Notice]:
    """Write this server's cluster files from ``archive`` (see the module docstring)
    and return what the administrator must know (the key to copy, the defaults file
    replaced, what to do next)."""
    local = read_local(paths)
    definition, keys = check_server_files(archive, local, server, path, paths.cluster_definition)
    notices: list[Notice] = []
    try:
        paths.data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StandfastError("198114", path=paths.data_dir, reason=exc.strerror or exc) from None
    if ba.DEFAULTS in archive.files:
        notices += _restore_defaults(paths.defaults, archive.files[ba.DEFAULTS])
    if keys and not local.keys:
        try:
            write_keys(paths.cluster_key, keys)
        except OSError as exc:
            raise StandfastError("198114", path=paths.cluster_key, reason=exc) from None
    elif not keys and not local.keys:
        notices.append(Notice.of("198106", cluster=definition.name, path=paths.cluster_key))
    if local.definition is None:
        write_file(paths.cluster_definition, archive.files[ba.DEFINITION], mode=0o600)
    notices.append(Notice.of("198108", cluster=definition.name, server=server, dir=paths.data_dir))
    return notices


def _restore_defaults(target: Path, data: bytes) -> list[Notice]:
    """Put the backup's defaults file in place, keeping a different one beside it."""
    try:
        st = target.stat()
    except FileNotFoundError:
        write_file(target, data, mode=0o644)
        return []
    except OSError as exc:
        raise StandfastError("198114", path=target, reason=exc.strerror or exc) from None
    old = target.read_bytes()
    if old == data:
        return []
    mode = stat.S_IMODE(st.st_mode)
    saved = target.with_name(target.name + SAVED_SUFFIX)
    write_file(saved, old, mode=mode)
    write_file(target, data, mode=mode)
    os.utime(saved, (st.st_atime, st.st_mtime))
    return [Notice.of("198107", path=target, saved=saved)]
