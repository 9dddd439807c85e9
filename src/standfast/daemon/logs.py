"""The daemon's logs, in the reference product's line format:
``07/27/2001 15:36:37 create: BEGIN creation of "device-nas20988" on server "server1"``.

A line is the time stamp and the message, nothing else (no level, no logger name). A
catalogue message reads ``CODE: text`` (``12/02/2026 00:35:06 190208: Standfast ...``),
so the file is searched by code; the guide's own transcript lines (BEGIN/END, Creating
Resource Instance, ...) are written exactly as the guide shows them, without a code.
Every record carries its code as ``record.sf_code`` (``CodeFilter``): the journal gets
it as the STANDFAST_CODE field, for every catalogue message and transcript line alike.

Where the lines go (``SF_LOG_TARGET``):
- ``auto`` (default): started by systemd (JOURNAL_STREAM names our standard error, or
  INVOCATION_ID is set and systemd is our parent), the journal natively and nothing
  else: no copy in the file and none through standard error. Otherwise the file (and
  standard error when the daemon runs in the foreground).
- a comma list of ``journal``, ``syslog`` (SysLogHandler on /dev/log, facility
  SF_SYSLOG_FACILITY) and ``file``: each of them. A target that cannot be opened is
  reported (196102) and the file used instead.
The file (STANDFAST_LOG) is a WatchedFileHandler: it reopens the file when logrotate
has moved it, and ``LogSetup.reopen`` (SIGHUP, ``systemctl reload standfast``) reopens
it at once. ``SF_LOG_LEVEL`` sets the level.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from standfast.config.tunables import log_targets
from standfast.daemon.journal import JOURNAL_SOCKET, JournalHandler
from standfast.messages import CATALOGUE, Notice

FORMAT = "%(asctime)s %(message)s"
DATEFMT = "%m/%d/%Y %H:%M:%S"
SYSLOG_FORMAT = "standfast[%(process)d]: %(message)s"
SYSLOG_SOCKET = "/dev/log"

LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING}
LEVELS["error"] = logging.ERROR
_CODE = re.compile(r"([0-9]{6}): ")
#: The guide's transcript lines (190701-190706), logged as the plain text the guide
#: shows: recognised by their fixed words, so that they carry their code too.
_TRANSCRIPT = [
    ("190701", re.compile(r"[a-z_-]+: BEGIN ")),
    ("190702", re.compile(r"[a-z_-]+: END successful ")),
    ("190703", re.compile(r"[a-z_-]+: END failed ")),
    ("190704", re.compile(r"Creating Resource Instance ")),
    ("190705", re.compile(r"Creating Dependency ")),
    ("190706", re.compile(r"Removing /etc/fstab entry$")),
]


def code_of(message: str) -> str:
    """The catalogue code of a log message: its ``CODE: `` prefix, or the transcript
    line it is; "" for text outside the catalogue (a library's warning)."""
    m = _CODE.match(message)
    if m is not None and m.group(1) in CATALOGUE:
        return m.group(1)
    for code, pattern in _TRANSCRIPT:
        if pattern.match(message):
            return code
    return ""


class CodeFilter(logging.Filter):
    """Sets ``record.sf_code`` (an ``extra={"sf_code": ...}`` given by the caller wins)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "sf_code", ""):
            record.sf_code = code_of(record.getMessage())
        return True


def under_systemd(env: Mapping[str, str], stderr_fd: int = 2) -> bool:
    """Started by systemd: JOURNAL_STREAM is our standard error's ``device:inode`` (as
    sd_journal's documentation says to check), or INVOCATION_ID is set and systemd (pid 1,
    or a user manager) started us. A child of a service inherits both variables, hence
    the checks."""
    stream = env.get("JOURNAL_STREAM", "")
    if stream:
        try:
            st = os.fstat(stderr_fd)
        except OSError:
            return False
        if stream == f"{st.st_dev}:{st.st_ino}":
            return True
    if env.get("INVOCATION_ID"):
        return os.getppid() == 1 or _parent_is_systemd()
    return False


def _parent_is_systemd() -> bool:
    try:
        return Path(f"/proc/{os.getppid()}/comm").read_text().strip() == "systemd"
    except OSError:
        return False


def choose_targets(setting: str, systemd: bool) -> tuple[str, ...]:
    """What ``SF_LOG_TARGET`` means here (``setting`` already checked)."""
    asked = log_targets(setting)
    if asked:
        return asked
    return ("journal",) if systemd else ("file",)


@dataclass
class LogSetup:
    """The handlers in place; ``reopen`` for SIGHUP."""

    targets: tuple[str, ...]
    file: Path | None = None
    handlers: list[logging.Handler] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)

    def reopen(self) -> None:
        """Reopen the log file now (logrotate's postrotate); logs 196101. Idempotent."""
        for h in self.handlers:
            if isinstance(h, logging.handlers.WatchedFileHandler):
                h.acquire()
                try:
                    if h.stream is not None:
                        h.stream.close()
                    h.stream = h._open()
                    h._statstream()
                finally:
                    h.release()
        if self.file is not None:
            logging.getLogger("standfast.daemon").info(
                Notice.of("196101", path=self.file).text("en")
            )


def _open(target: str, log_file: Path, facility: str, journal: str) -> logging.Handler:
    """One handler; OSError when it cannot be opened."""
    if target == "journal":
        code = logging.handlers.SysLogHandler.facility_names[facility]
        jh = JournalHandler(path=journal, facility=code)
        jh.check()
        jh.setFormatter(logging.Formatter("%(message)s"))
        return jh
    if target == "syslog":
        sh = logging.handlers.SysLogHandler(
            SYSLOG_SOCKET, logging.handlers.SysLogHandler.facility_names[facility]
        )
        sh.setFormatter(logging.Formatter(SYSLOG_FORMAT))
        return sh
    log_file.parent.mkdir(parents=True, exist_ok=True)
    # Reopened when logrotate moves the file away, and at SIGHUP (LogSetup.reopen).
    fh = logging.handlers.WatchedFileHandler(log_file, encoding="utf-8")
    fh.setFormatter(logging.Formatter(FORMAT, DATEFMT))
    return fh


def setup_logging(
    log_file: Path,
    *,
    to_stderr: bool = True,
    level: int = logging.INFO,
    target: str = "auto",
    facility: str = "daemon",
    env: Mapping[str, str] | None = None,
    journal_socket: str = JOURNAL_SOCKET,
) -> LogSetup:
    """Put the ``standfast`` loggers' handlers in place (replacing any). ``target`` and
    ``facility`` are checked values of SF_LOG_TARGET and SF_SYSLOG_FACILITY."""
    systemd = under_systemd(os.environ if env is None else env)
    targets = choose_targets(target, systemd)
    root = logging.getLogger("standfast")
    root.setLevel(level)
    for h in list(root.handlers):
        root.removeHandler(h)
        h.close()
    setup = LogSetup(targets)
    opened: list[str] = []
    for t in targets:
        try:
            setup.handlers.append(_open(t, log_file, facility, journal_socket))
            opened.append(t)
        except OSError as exc:
            setup.notices.append(
                Notice.of("196102", target=t, reason=exc.strerror or exc, fallback=log_file)
            )
    if setup.notices and "file" not in opened:
        setup.handlers.append(_open("file", log_file, facility, journal_socket))
        opened.append("file")
    setup.targets = tuple(opened)
    if "file" in opened:
        setup.file = log_file
    if to_stderr and not systemd:
        sh = logging.StreamHandler(sys.stderr)
        sh.setFormatter(logging.Formatter(FORMAT, DATEFMT))
        setup.handlers.append(sh)
    for h in setup.handlers:
        h.addFilter(CodeFilter())
        root.addHandler(h)
    root.propagate = False
    for n in setup.notices:
        root.warning(n.text("en"))
    return setup
