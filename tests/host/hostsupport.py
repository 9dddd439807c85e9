"""Helpers for the host-layer tests (imported by conftest.py and the tests)."""

from __future__ import annotations

import ctypes
import os
import select
import struct
import time
from collections.abc import Callable

_libc = ctypes.CDLL(None, use_errno=True)


def check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


OPEN_FUSE: list[HungFuse] = []


def abort_all_fuse() -> None:
    for fs in OPEN_FUSE:
        fs.abort()
    OPEN_FUSE.clear()


FUSE_INIT = 26
_IN_HEADER = struct.Struct("<IIQQIIII")  # len opcode unique nodeid uid gid pid padding
_OUT_HEADER = struct.Struct("<IiQ")  # len error unique


class HungFuse:
    """A FUSE mount whose server answers INIT and nothing else.

    Requests left unread stay pending in the kernel: a process waiting on one
    can still be SIGKILLed. After :meth:`take_request` reads a request, the
    waiter is in uninterruptible sleep until :meth:`abort` (a real D state).
    """

    def __init__(self, mount_point: str) -> None:
        self.mount_point = mount_point
        self.fd = os.open("/dev/fuse", os.O_RDWR)
        OPEN_FUSE.append(self)
        opts = f"fd={self.fd},rootmode=40000,user_id=0,group_id=0,allow_other"
        check(
            _libc.mount(b"standfast-hang", mount_point.encode(), b"fuse.sfhang", 0, opts.encode()),
            "mount fuse",
        )
        opcode, unique = self.take_request(timeout=5.0)
        assert opcode == FUSE_INIT, opcode
        # fuse_init_out: major, minor, max_readahead, flags, max_background,
        # congestion_threshold, max_write, time_gran, max_pages, map_alignment,
        # flags2, unused[7]
        body = struct.pack("<IIIIHHIIHHI7I", 7, 31, 0, 0, 0, 0, 4096, 0, 0, 0, 0, *([0] * 7))
        os.write(self.fd, _OUT_HEADER.pack(_OUT_HEADER.size + len(body), 0, unique) + body)

    def take_request(self, timeout: float) -> tuple[int, int]:
        """Read one request (opcode, unique) from the kernel, never answering it."""
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            raise TimeoutError("no FUSE request arrived")
        data = os.read(self.fd, 1 << 20)
        _len, opcode, unique, *_ = _IN_HEADER.unpack_from(data)
        return int(opcode), int(unique)

    def abort(self) -> None:
        """Close the server end: every pending request fails with ENOTCONN."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def wait_until(cond: Callable[[], bool], timeout: float, what: str = "condition") -> None:
    """Poll ``cond`` with a deadline (for tests)."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        select.select([], [], [], 0.02)
