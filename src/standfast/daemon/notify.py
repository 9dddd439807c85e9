"""systemd's service notification protocol (sd_notify(3)): readiness and the watchdog.

Under ``Type=notify`` systemd passes ``NOTIFY_SOCKET`` (a datagram socket, ``@name``
for the abstract namespace) and, with ``WatchdogSec=``, ``WATCHDOG_USEC`` and
``WATCHDOG_PID``. The daemon says ``READY=1`` once its API answers and its control loop
finished a first cycle, then ``WATCHDOG=1`` only while that loop keeps turning: a hung
or starved loop stops the pets and systemd restarts the service.

Written here rather than taken from PyPI: ``sdnotify`` was last released in 2017, has
no type hints and drops every error silently; ``systemd-python`` needs libsystemd's
headers to build. The protocol is one non-blocking datagram per message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import MutableMapping
from pathlib import Path
from typing import Protocol

from standfast.messages import Notice

log = logging.getLogger("standfast.daemon")

#: The variables systemd sets for the main process; unset once read so that the
#: commands and applications the daemon starts do not inherit them (sd_notify(3)).
ENV_NAMES = ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")
#: How long the daemon may take to answer on its socket and finish a first cycle.
READY_DEADLINE = 300.0
#: Bound on one readiness probe of the local API.
PROBE_TIMEOUT = 2.0
_POLL = 0.05


class Heartbeat(Protocol):
    """What the watchdog reads: the engine's time of its last completed cycle."""

    @property
    def last_cycle_at(self) -> float: ...


class Notifier:
    """Sends sd_notify messages; does nothing when not started by systemd.

    Never blocks: each message is one ``MSG_DONTWAIT`` datagram. A failed send is
    logged once (190214) and reported as ``False``; the daemon goes on.
    """

    def __init__(self, address: str | None, watchdog_interval: float | None) -> None:
        self.address = address
        #: Seconds systemd waits between pets before it kills us (None: no watchdog).
        self.watchdog_interval = watchdog_interval if address else None
        self._sock: socket.socket | None = None
        self._warned = False

    @classmethod
    def from_env(
        cls, env: MutableMapping[str, str] | None = None, *, pid: int | None = None
    ) -> Notifier:
        """Read (and remove) systemd's variables; a watchdog meant for another PID is
        ignored, as sd_watchdog_enabled(3) does."""
        env = os.environ if env is None else env
        values = {name: env.pop(name, "") for name in ENV_NAMES}
        address = values["NOTIFY_SOCKET"] or None
        interval: float | None = None
        with contextlib.suppress(ValueError):
            usec = int(values["WATCHDOG_USEC"])
            if usec > 0:
                interval = usec / 1_000_000
        owner = values["WATCHDOG_PID"]
        if owner and owner != str(os.getpid() if pid is None else pid):
            interval = None
        return cls(address, interval)

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def _target(self) -> str | bytes:
        assert self.address is not None
        if self.address.startswith("@"):
            return b"\0" + self.address[1:].encode()
        return self.address

    def send(self, *assignments: str) -> bool:
        """Send ``NAME=VALUE`` lines as one datagram; True when it was sent."""
        if self.address is None:
            return False
        try:
            if self.address[0] not in "/@":
                raise OSError(f"unsupported address {self.address!r}")
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            self._sock.sendto("\n".join(assignments).encode(), socket.MSG_DONTWAIT, self._target())
        except OSError as exc:
            if not self._warned:
                self._warned = True
                _log_notice(Notice.of("190214", socket=self.address, reason=exc))
            return False
        return True

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def _log_notice(n: Notice) -> None:
    level = logging.INFO if str(n.severity) == "info" else logging.WARNING
    log.log(level, n.text("en"))


async def api_answers(socket_path: Path, *, timeout: float = PROBE_TIMEOUT) -> bool:
    """One ``GET /v1/status`` on the local socket, bounded by ``timeout``: True when it
    answers 200.

    Plain HTTP/1.1 over asyncio's Unix socket rather than an HTTP client library: only
    the status line is read, and the daemon does not keep a client stack it uses once
    in resident memory (issue 12)."""
    try:
        return await asyncio.wait_for(_status_is_200(socket_path), timeout=timeout)
    except (TimeoutError, OSError, ValueError):
        return False


async def _status_is_200(socket_path: Path) -> bool:
    reader, writer = await asyncio.open_unix_connection(str(socket_path))
    try:
        writer.write(b"GET /v1/status HTTP/1.1\r\nHost: standfast\r\nConnection: close\r\n\r\n")
        await writer.drain()
        status = await reader.readline()
    finally:
        writer.close()
    parts = status.split()
    return len(parts) >= 2 and parts[0].startswith(b"HTTP/1.") and parts[1] == b"200"


async def wait_ready(
    engine: Heartbeat, socket_path: Path, *, deadline: float = READY_DEADLINE
) -> bool:
    """True once the engine finished a cycle after this call and the API answers;
    False when ``deadline`` seconds pass first."""
    started = time.monotonic()
    first = engine.last_cycle_at
    end = started + deadline
    while time.monotonic() < end:
        if engine.last_cycle_at != first and await api_answers(
            socket_path, timeout=min(PROBE_TIMEOUT, max(end - time.monotonic(), 0.01))
        ):
            return True
        await asyncio.sleep(_POLL)
    return False


async def pet_watchdog(notifier: Notifier, engine: Heartbeat) -> None:
    """Runs until cancelled: every quarter interval, ``WATCHDOG=1`` if the engine's last
    cycle is younger than half the interval. A stale loop is logged once (190213) per
    stall, so a hang is killed within about 1.5 intervals of its last cycle."""
    interval = notifier.watchdog_interval
    if interval is None:
        return
    fresh, period = interval / 2, interval / 4
    stalled = False
    while True:
        age = time.monotonic() - engine.last_cycle_at
        if age < fresh:
            notifier.send("WATCHDOG=1")
            stalled = False
        elif not stalled:
            stalled = True
            _log_notice(Notice.of("190213", seconds=f"{age:.1f}", interval=f"{interval:g}"))
        await asyncio.sleep(period)


async def supervise(notifier: Notifier, engine: Heartbeat, socket_path: Path, server: str) -> None:
    """Readiness, then the watchdog, for the daemon's lifetime (cancel it to stop).

    Without ``NOTIFY_SOCKET`` it returns at once. READY=1 is sent only when
    :func:`wait_ready` succeeds; otherwise systemd's ``TimeoutStartSec=`` fails the
    start, which is what a daemon that never got going deserves.
    """
    if not notifier.enabled:
        return
    began = time.monotonic()
    if not await wait_ready(engine, socket_path):
        notifier.send(f"STATUS=not ready within {READY_DEADLINE:g} s")
        return
    notifier.send("READY=1", "STATUS=API answers, control loop running")
    _log_notice(Notice.of("190215", server=server, seconds=f"{time.monotonic() - began:.2f}"))
    await pet_watchdog(notifier, engine)
