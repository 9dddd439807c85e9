"""A tiny FUSE file server in its own process and mount namespace (for the witness tests).

Usage: ``python fuse_runner.py MOUNT_POINT``. It enters a private mount namespace,
mounts a FUSE file system on MOUNT_POINT (seen by others only through
``/proc/<pid>/root/MOUNT_POINT``), prints ``ready`` and serves requests: the root
directory holds regular files kept in memory (lookup, create, open, read, write,
rename, unlink, fsync). Entries and attributes are not cached and files are opened
with direct I/O, so every access reaches this server. Stopping this process with
SIGSTOP leaves the mount hung (every new request waits for the server), like an NFS
server that stopped answering. When the process dies, its namespace and the mount
go away.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import struct
import sys

CLONE_NEWNS = 0x00020000
MS_REC = 16384
MS_PRIVATE = 1 << 18

FUSE_LOOKUP = 1
FUSE_FORGET = 2
FUSE_GETATTR = 3
FUSE_UNLINK = 10
FUSE_RENAME = 12
FUSE_OPEN = 14
FUSE_READ = 15
FUSE_WRITE = 16
FUSE_RELEASE = 18
FUSE_FSYNC = 20
FUSE_FLUSH = 25
FUSE_INIT = 26
FUSE_OPENDIR = 27
FUSE_RELEASEDIR = 29
FUSE_FSYNCDIR = 30
FUSE_CREATE = 35
FUSE_INTERRUPT = 36
FUSE_BATCH_FORGET = 42
FUSE_RENAME2 = 45
NO_REPLY = {FUSE_FORGET, FUSE_INTERRUPT, FUSE_BATCH_FORGET}
ANSWER_ZERO = {FUSE_RELEASE, FUSE_FSYNC, FUSE_FLUSH, FUSE_RELEASEDIR, FUSE_FSYNCDIR}
FOPEN_DIRECT_IO = 1

_IN_HEADER = struct.Struct("<IIQQIIII")  # len opcode unique nodeid uid gid pid padding
_OUT_HEADER = struct.Struct("<IiQ")  # len error unique
_ATTR = struct.Struct("<QQQQQQIIIIIIIIII")  # fuse_attr (88 bytes)
_ENTRY = struct.Struct("<QQQQII")  # fuse_entry_out before the attr; valid 0: no caching
_OPEN_OUT = struct.Struct("<QII")

_libc = ctypes.CDLL(None, use_errno=True)


def check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def reply(fd: int, unique: int, error: int = 0, body: bytes = b"") -> None:
    with contextlib.suppress(OSError):  # the request was interrupted meanwhile
        os.write(fd, _OUT_HEADER.pack(_OUT_HEADER.size + len(body), error, unique) + body)


class MemoryFS:
    """One flat directory (the root, inode 1) of regular files kept in memory."""

    def __init__(self) -> None:
        self.names: dict[str, int] = {}
        self.data: dict[int, bytearray] = {}
        self.next_ino = 2

    def attr(self, ino: int) -> bytes:
        if ino == 1:
            return _ATTR.pack(1, 0, 0, 0, 0, 0, 0, 0, 0, 0o040755, 2, 0, 0, 0, 4096, 0)
        size = len(self.data[ino])
        return _ATTR.pack(
            ino, size, (size + 511) // 512, 0, 0, 0, 0, 0, 0, 0o100644, 1, 0, 0, 0, 4096, 0
        )

    def entry(self, ino: int) -> bytes:
        return _ENTRY.pack(ino, 0, 0, 0, 0, 0) + self.attr(ino)

    def handle(self, opcode: int, nodeid: int, arg: bytes) -> tuple[int, bytes]:
        if opcode == FUSE_INIT:
            return 0, struct.pack("<IIIIHHIIHHI7I", 7, 31, 0, 0, 0, 0, 65536, 0, 0, 0, 0, *[0] * 7)
        if opcode == FUSE_GETATTR:
            if nodeid != 1 and nodeid not in self.data:
                return -errno.ENOENT, b""
            return 0, struct.pack("<QII", 0, 0, 0) + self.attr(nodeid)
        if opcode == FUSE_LOOKUP:
            ino = self.names.get(arg.split(b"\0")[0].decode())
            return (-errno.ENOENT, b"") if ino is None else (0, self.entry(ino))
        if opcode == FUSE_CREATE:
            name = arg[16:].split(b"\0")[0].decode()
            ino = self.next_ino
            self.next_ino += 1
            self.names[name] = ino
            self.data[ino] = bytearray()
            return 0, self.entry(ino) + _OPEN_OUT.pack(ino, FOPEN_DIRECT_IO, 0)
        if opcode in (FUSE_OPEN, FUSE_OPENDIR):
            return 0, _OPEN_OUT.pack(nodeid, FOPEN_DIRECT_IO if opcode == FUSE_OPEN else 0, 0)
        if opcode == FUSE_READ:
            _fh, offset, size = struct.unpack_from("<QQI", arg)
            return 0, bytes(self.data[nodeid][offset : offset + size])
        if opcode == FUSE_WRITE:
            _fh, offset, size = struct.unpack_from("<QQI", arg)
            buf = self.data[nodeid]
            buf[offset : offset + size] = arg[40 : 40 + size]
            return 0, struct.pack("<II", size, 0)
        if opcode in (FUSE_RENAME, FUSE_RENAME2):
            names = arg[8 if opcode == FUSE_RENAME else 16 :].split(b"\0")
            old, new = names[0].decode(), names[1].decode()
            if old not in self.names:
                return -errno.ENOENT, b""
            self.names[new] = self.names.pop(old)
            return 0, b""
        if opcode == FUSE_UNLINK:
            ino = self.names.pop(arg.split(b"\0")[0].decode(), None)
            return (-errno.ENOENT if ino is None else 0), b""
        if opcode in ANSWER_ZERO:
            return 0, b""
        return -errno.ENOSYS, b""


def main(mount_point: str) -> int:
    try:
        check(_libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
        check(_libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "make / rprivate")
        fd = os.open("/dev/fuse", os.O_RDWR)
        opts = f"fd={fd},rootmode=40000,user_id=0,group_id=0,allow_other"
        check(
            _libc.mount(b"sf-test", mount_point.encode(), b"fuse.sftest", 0, opts.encode()),
            "mount fuse",
        )
    except OSError as exc:
        print(f"error {exc}", flush=True)
        return 1
    print("ready", flush=True)
    fs = MemoryFS()
    while True:
        try:
            data = os.read(fd, 1 << 20)
        except OSError as exc:
            if exc.errno in (errno.EINTR, errno.ENOENT, errno.EAGAIN):
                continue
            return 0  # ENODEV: unmounted
        _len, opcode, unique, nodeid, *_ = _IN_HEADER.unpack_from(data)
        if opcode in NO_REPLY:
            continue
        error, body = fs.handle(opcode, nodeid, data[_IN_HEADER.size :])
        reply(fd, unique, error, body)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
