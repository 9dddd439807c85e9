"""The daemon's log lines (the guide's format, codes), where they go, and the native
journal protocol written to a real Unix datagram socket the test binds."""

from __future__ import annotations

import array
import logging
import os
import re
import socket
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest

from standfast.config.tunables import parse_defaults
from standfast.daemon.journal import JournalHandler, encode
from standfast.daemon.logs import (
    DATEFMT,
    FORMAT,
    CodeFilter,
    choose_targets,
    code_of,
    setup_logging,
    under_systemd,
)
from standfast.messages import Notice

GUIDE_LINE = re.compile(r"\d\d/\d\d/\d{4} \d\d:\d\d:\d\d \S")


def record(msg: str, level: int = logging.INFO, **extra: object) -> logging.LogRecord:
    r = logging.LogRecord("standfast.kits", level, __file__, 42, msg, None, None, "fn")
    r.__dict__.update(extra)
    CodeFilter().filter(r)
    return r


def test_the_line_is_the_guides_time_stamp_and_message_only() -> None:
    fmt = logging.Formatter(FORMAT, DATEFMT)
    r = record('create: BEGIN creation of "device-nas20988" on server "server1"')
    r.created = 996215797.0  # 07/27/2001 06:36:37 UTC
    line = fmt.format(r)
    stamp = logging.Formatter("%(asctime)s", DATEFMT).formatTime(r, DATEFMT)
    assert line == f'{stamp} create: BEGIN creation of "device-nas20988" on server "server1"'
    assert re.fullmatch(r"07/27/2001 \d\d:36:37", stamp)
    assert "standfast.kits" not in line and "INFO" not in line


@pytest.mark.parametrize(
    ("message", "code"),
    [
        (Notice.of("190208", server="s1", version="1").text("en"), "190208"),
        ('create: BEGIN creation of "db" on server "s1"', "190701"),
        ('restore: END successful restore of "db" on server "s1"', "190702"),
        ('remove: END failed remove of "db" on server "s1"', "190703"),
        ('Creating Resource Instance db with id /x on machine "s1":', "190704"),
        ('Creating Dependency web-"db" on machine "s1":', "190705"),
        ("Removing /etc/fstab entry", "190706"),
        ("999999: not in the catalogue", ""),
        ("Checking extendability for db", ""),
    ],
)
def test_each_record_carries_its_code(message: str, code: str) -> None:
    assert code_of(message) == code
    assert record(message).sf_code == code


def test_a_code_given_by_the_caller_wins() -> None:
    assert record("text without code", sf_code="190215").sf_code == "190215"


def test_systemd_is_recognised_by_its_variables(tmp_path: Path) -> None:
    with (tmp_path / "err").open("w") as err:
        st = os.fstat(err.fileno())
        stream = f"{st.st_dev}:{st.st_ino}"
        assert under_systemd({"JOURNAL_STREAM": stream}, err.fileno())
        # Inherited by a child whose standard error went elsewhere: not the journal.
        assert not under_systemd({"JOURNAL_STREAM": "1:2"}, err.fileno())
    assert not under_systemd({})
    # INVOCATION_ID alone counts only when systemd is the parent (pytest is ours).
    assert not under_systemd({"INVOCATION_ID": "abc"})


def test_targets() -> None:
    assert choose_targets("auto", systemd=True) == ("journal",)
    assert choose_targets("auto", systemd=False) == ("file",)
    assert choose_targets("journal,file", systemd=True) == ("journal", "file")
    assert choose_targets("syslog", systemd=False) == ("syslog",)


def test_log_tunables_are_checked(tmp_path: Path) -> None:
    good = "SF_LOG_LEVEL=DEBUG\nSF_LOG_TARGET=syslog, file\nSF_SYSLOG_FACILITY=local3\n"
    t, notices = parse_defaults(good, tmp_path, "s1")
    assert notices == []
    assert (t.SF_LOG_LEVEL, t.SF_LOG_TARGET, t.SF_SYSLOG_FACILITY) == (
        "debug",
        "syslog,file",
        "local3",
    )
    for bad in (
        "SF_LOG_LEVEL=loud",
        "SF_LOG_TARGET=stdout",
        "SF_LOG_TARGET=file,file",
        "SF_LOG_TARGET=",
        "SF_SYSLOG_FACILITY=kern",
    ):
        t, notices = parse_defaults(bad + "\n", tmp_path, "s1")
        assert [n.code for n in notices] == ["190302"], bad
        assert (t.SF_LOG_LEVEL, t.SF_LOG_TARGET, t.SF_SYSLOG_FACILITY) == (
            "info",
            "auto",
            "daemon",
        )


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "journal.sock"))
    sock.settimeout(5)
    yield sock
    sock.close()


def decode(data: bytes) -> dict[str, str]:
    """The native protocol, parsed as journald parses it."""
    fields: dict[str, str] = {}
    i = 0
    while i < len(data):
        nl = data.index(b"\n", i)
        line = data[i:nl]
        if b"=" in line:
            name, value = line.split(b"=", 1)
            i = nl + 1
        else:
            name = line
            (size,) = struct.unpack("<Q", data[nl + 1 : nl + 9])
            value = data[nl + 9 : nl + 9 + size]
            assert data[nl + 9 + size : nl + 10 + size] == b"\n"
            i = nl + 10 + size
        assert re.fullmatch(rb"[A-Z][A-Z0-9_]*", name), name
        fields[name.decode()] = value.decode()
    return fields


def handler(tmp_path: Path) -> JournalHandler:
    h = JournalHandler(path=str(tmp_path / "journal.sock"), facility=3)
    h.setFormatter(logging.Formatter("%(message)s"))
    h.addFilter(CodeFilter())
    return h


def test_journal_datagrams_carry_message_priority_and_code(
    journal: socket.socket, tmp_path: Path
) -> None:
    h = handler(tmp_path)
    h.check()
    h.handle(record(Notice.of("190215", server="s1", seconds="0.4").text("en")))
    h.handle(record("line one\nline two", logging.ERROR))
    first, second = decode(journal.recv(65536)), decode(journal.recv(65536))
    assert first["MESSAGE"] == Notice.of("190215", server="s1", seconds="0.4").text("en")
    assert first["MESSAGE"].startswith("190215: Daemon ready on server s1")
    assert (first["PRIORITY"], first["SYSLOG_IDENTIFIER"]) == ("6", "standfast")
    assert (first["STANDFAST_CODE"], first["SYSLOG_FACILITY"]) == ("190215", "3")
    assert (first["CODE_LINE"], first["CODE_FUNC"]) == ("42", "fn")
    # A message with a newline uses the length-prefixed form; no code, no field.
    assert second["MESSAGE"] == "line one\nline two"
    assert second["PRIORITY"] == "3" and "STANDFAST_CODE" not in second
    # Closed as logging.config.dictConfig closes every handler (uvicorn does it at the
    # daemon's start): the next record still arrives.
    h.close()
    h.handle(record("after close"))
    assert decode(journal.recv(65536))["MESSAGE"] == "after close"
    h.close()


def test_a_record_too_large_for_a_datagram_goes_as_a_sealed_memfd(
    journal: socket.socket, tmp_path: Path
) -> None:
    journal.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    h = handler(tmp_path)
    h.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
    big = "x" * 400_000
    h.handle(record(big, logging.WARNING))
    msg, anc, _flags, _addr = journal.recvmsg(65536, socket.CMSG_SPACE(4))
    assert msg == b""
    [(level, kind, data)] = anc
    assert (level, kind) == (socket.SOL_SOCKET, socket.SCM_RIGHTS)
    fd = array.array("i", data[:4])[0]
    try:
        content = os.pread(fd, 1 << 20, 0)
    finally:
        os.close(fd)
    fields = decode(content)
    assert fields["MESSAGE"] == big and fields["PRIORITY"] == "4"
    h.close()


def test_no_journal_listening_falls_back_to_the_file(tmp_path: Path) -> None:
    log_file = tmp_path / "log" / "standfast.log"
    setup = setup_logging(
        log_file,
        to_stderr=False,
        target="journal",
        env={},
        journal_socket=str(tmp_path / "no-journal.sock"),
    )
    try:
        assert setup.targets == ("file",)
        assert [n.code for n in setup.notices] == ["196102"]
        assert "196102: Cannot log to journal" in log_file.read_text()
    finally:
        setup_logging(tmp_path / "other.log", to_stderr=False, env={})


def test_file_lines_and_reopen(tmp_path: Path) -> None:
    log_file = tmp_path / "standfast.log"
    setup = setup_logging(log_file, to_stderr=False, level=logging.WARNING, env={})
    log = logging.getLogger("standfast.engine")
    log.info("not at this level")
    log.warning('create: END failed creation of "db" on server "s1"')
    os.rename(log_file, tmp_path / "standfast.log.1")
    setup.reopen()  # SIGHUP; the file is made again (196101 is INFO: not written)
    log.error(Notice.of("190209", server="s1").text("en"))
    old = (tmp_path / "standfast.log.1").read_text().splitlines()
    new = log_file.read_text().splitlines()
    assert len(old) == 1 and old[0].endswith('create: END failed creation of "db" on server "s1"')
    assert len(new) == 1 and new[0][20:].startswith("190209: ")
    assert all(GUIDE_LINE.match(line) for line in old + new)
    setup_logging(tmp_path / "other.log", to_stderr=False, env={})


def test_encode_is_the_native_form() -> None:
    assert encode([("MESSAGE", "hi"), ("PRIORITY", "6")]) == b"MESSAGE=hi\nPRIORITY=6\n"
    assert encode([("MESSAGE", "a\nb")]) == b"MESSAGE\n" + struct.pack("<Q", 3) + b"a\nb\n"
