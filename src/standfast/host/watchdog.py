"""Self-fencing: the Linux watchdog device (``/dev/watchdog``; ``softdog`` where there is
no hardware one) that resets this server when the daemon stops petting it.

The daemon opens it at start, pets it once per control-loop cycle, and disarms it
("magic close": writes ``V`` before closing) only on a clean stop. A daemon that hangs,
is starved or SIGSTOPped, or dies, stops petting and the kernel resets the server
within ``timeout`` seconds, before any peer may take its hierarchies over (peers wait
the timeout plus SF_WATCHDOG_MARGIN after declaring it failed).

Contracts: ``open`` raises OSError when the device cannot be opened (the daemon then
refuses to start: a configured watchdog that does not work is no protection);
``pet`` and ``close`` never block (a character-device write) and never raise.
Written by hand: the whole interface is an open, two ioctls and writes; no
maintained library wraps it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import struct

# <linux/watchdog.h>
WDIOC_KEEPALIVE = 0x80045705
WDIOC_SETTIMEOUT = 0xC0045706


class Watchdog:
    def __init__(self, device: str, timeout: int) -> None:
        self.device = device
        self.timeout = timeout
        self._fd: int | None = None

    def open(self) -> int:
        """Arm the watchdog; returns the timeout the device runs with (a device that
        takes no ioctl, such as a test double, runs with the one asked for)."""
        self._fd = os.open(self.device, os.O_WRONLY | os.O_CLOEXEC)
        try:
            raw = fcntl.ioctl(self._fd, WDIOC_SETTIMEOUT, struct.pack("i", self.timeout))
            self.timeout = struct.unpack("i", raw)[0]
        except OSError:
            pass  # not a watchdog driver: petting by write still works
        self.pet()
        return self.timeout

    def pet(self) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            os.write(self._fd, b"1")

    def close(self) -> None:
        """Disarm (clean stop only) and close."""
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            os.write(self._fd, b"V")
        with contextlib.suppress(OSError):
            os.close(self._fd)
        self._fd = None
