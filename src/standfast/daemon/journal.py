"""A logging handler that writes systemd's native journal protocol.

One datagram per record to ``/run/systemd/journal/socket``: ``NAME=value`` lines, or,
for a value with a newline, ``NAME``, a newline, the value's length as 64-bit little
endian, the value and a newline (systemd.io, "Native Journal Protocol"). A record too
large for a datagram goes as a sealed memfd passed with SCM_RIGHTS, as libsystemd does.

Fields: MESSAGE, PRIORITY (syslog's 0-7), SYSLOG_IDENTIFIER, SYSLOG_FACILITY when set,
STANDFAST_CODE (the record's catalogue code, when it has one), STANDFAST_LOGGER and
CODE_FILE / CODE_LINE / CODE_FUNC; journald adds the process's own (_PID, _SYSTEMD_UNIT).

Contracts: ``emit`` never blocks (the socket is non-blocking: a journal that cannot
keep up drops the record, as a full syslog socket would) and never raises
(``handleError`` reports on stderr, which systemd also keeps).
"""

from __future__ import annotations

import array
import contextlib
import fcntl
import logging
import os
import socket
import struct
from collections.abc import Iterable

JOURNAL_SOCKET = "/run/systemd/journal/socket"

#: logging's levels as syslog priorities (journalctl -p).
PRIORITIES = {
    logging.CRITICAL: 2,  # crit
    logging.ERROR: 3,  # err
    logging.WARNING: 4,  # warning
    logging.INFO: 6,  # info
    logging.DEBUG: 7,  # debug
}


def priority(levelno: int) -> int:
    for level in (logging.CRITICAL, logging.ERROR, logging.WARNING, logging.INFO):
        if levelno >= level:
            return PRIORITIES[level]
    return PRIORITIES[logging.DEBUG]


def encode(fields: Iterable[tuple[str, str]]) -> bytes:
    """The native protocol's encoding of ``fields`` (names are upper-case ASCII)."""
    out = bytearray()
    for name, value in fields:
        data = value.encode("utf-8", "replace")
        key = name.encode("ascii")
        if b"\n" in data:
            out += key + b"\n" + struct.pack("<Q", len(data)) + data + b"\n"
        else:
            out += key + b"=" + data + b"\n"
    return bytes(out)


class JournalHandler(logging.Handler):
    """Sends each record to the journal; the formatter gives MESSAGE (no time stamp:
    the journal keeps its own)."""

    def __init__(
        self,
        identifier: str = "standfast",
        *,
        path: str = JOURNAL_SOCKET,
        facility: int | None = None,
    ) -> None:
        super().__init__()
        self.identifier = identifier
        self.path = path
        self.facility = facility
        self.sock = self._socket()

    @staticmethod
    def _socket() -> socket.socket:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        sock.setblocking(False)
        return sock

    def check(self) -> None:
        """Raise OSError now when no journal listens on ``path`` (the daemon then logs
        to its file instead). Connecting sends nothing."""
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            probe.connect(self.path)
        finally:
            probe.close()

    def fields(self, record: logging.LogRecord) -> list[tuple[str, str]]:
        out = [
            ("MESSAGE", self.format(record)),
            ("PRIORITY", str(priority(record.levelno))),
            ("SYSLOG_IDENTIFIER", self.identifier),
        ]
        if self.facility is not None:
            out.append(("SYSLOG_FACILITY", str(self.facility)))
        code = getattr(record, "sf_code", "")
        if code:
            out.append(("STANDFAST_CODE", str(code)))
        out += [
            ("STANDFAST_LOGGER", record.name),
            ("CODE_FILE", record.pathname),
            ("CODE_LINE", str(record.lineno)),
            ("CODE_FUNC", record.funcName),
        ]
        return out

    def emit(self, record: logging.LogRecord) -> None:
        try:
            data = encode(self.fields(record))
            if self.sock.fileno() < 0:
                # Closed by logging.config.dictConfig (uvicorn configures its logging
                # so, closing every handler there is): a closed FileHandler reopens its
                # file at the next record, and so does this.
                self.sock = self._socket()
            try:
                self.sock.sendto(data, self.path)
            except OSError as exc:
                if exc.errno not in (90, 105):  # EMSGSIZE, ENOBUFS: too large for one
                    raise
                self._send_memfd(data)
        except BlockingIOError:
            pass  # the journal is behind: this record is dropped, the daemon goes on
        except Exception:
            self.handleError(record)

    def _send_memfd(self, data: bytes) -> None:
        fd = os.memfd_create("standfast-journal", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
        try:
            os.write(fd, data)
            seals = fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_WRITE | fcntl.F_SEAL_SEAL
            fcntl.fcntl(fd, fcntl.F_ADD_SEALS, seals)
            rights = array.array("i", [fd]).tobytes()
            self.sock.sendmsg([], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, rights)], 0, self.path)
        finally:
            os.close(fd)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()
        super().close()
