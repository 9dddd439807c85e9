"""Atomic file writes: after a crash the file is the old one or the new one, never part.

Standard library only, on purpose: the storage witness's lease child imports this in a
fresh interpreter without site packages (``python -I -S``; see
:func:`standfast.host.children.python_call_argv`).
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets

#: Every temporary file starts with this (hidden, and never read as the real file).
TEMP_PREFIX = ".standfast-tmp-"

# A directory fsync some file systems refuse; the rename itself is done by then.
_NO_DIR_FSYNC = (errno.EINVAL, errno.EROFS, errno.ENOTSUP)


def fsync_directory(directory: str | os.PathLike[str]) -> None:
    """Make a rename in ``directory`` durable. File systems that cannot (EINVAL, EROFS,
    ENOTSUP), or a directory that cannot be opened, are skipped; other errors raise."""
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in _NO_DIR_FSYNC:
            raise
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def write_atomic(
    path: str | os.PathLike[str],
    data: bytes,
    *,
    mode: int | None = None,
    owner: tuple[int, int] | None = None,
    overwrite: bool = True,
    tag: str = "",
) -> None:
    """Write ``data`` to ``path`` so that readers and crashes see all of it or none.

    A temporary file ``.standfast-tmp-<name>.[<tag>.]<random>`` in the same directory
    is written in full, given ``mode`` and ``owner``, fsynced, then renamed over
    ``path`` (``os.replace``), and the directory is fsynced (:func:`fsync_directory`).

    - ``mode``: the file's exact permission bits (set with ``fchmod``, so the umask
      does not apply). None: 0o644 as masked by the umask, with no extra call (one
      round trip less on a slow NFS server).
    - ``owner``: (uid, gid) to give the file; skipped without the privilege to.
    - ``overwrite=False``: hard-link instead of rename, so an existing ``path`` is
      never replaced (``FileExistsError``).
    - ``tag``: put into the temporary name (who wrote a leftover one).

    Errors: ``OSError`` of any step. Until the rename ``path`` is unchanged and the
    temporary file is removed; a crash can leave only the temporary file. Timing:
    blocks on the file system; for storage that may hang call it in a bounded child
    (the lease child does). Idempotent: writing the same data again gives the same file.
    """
    target = os.fspath(path)
    directory = os.path.dirname(target) or "."
    middle = f"{tag}." if tag else ""
    name = f"{TEMP_PREFIX}{os.path.basename(target)}.{middle}{secrets.token_hex(6)}"
    tmp = os.path.join(directory, name)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
    fd = os.open(tmp, flags, 0o644 if mode is None else mode & 0o777)
    try:
        try:
            _write_all(fd, data)
            if mode is not None:
                os.fchmod(fd, mode)
            if owner is not None:
                with contextlib.suppress(PermissionError):
                    os.fchown(fd, *owner)
            os.fsync(fd)
        finally:
            os.close(fd)
        if overwrite:
            os.replace(tmp, target)
        else:
            os.link(tmp, target)  # fails with FileExistsError, never clobbers
            os.unlink(tmp)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_directory(directory)
