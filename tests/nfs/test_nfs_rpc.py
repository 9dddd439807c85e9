"""The RPC client against small fake servers on loopback: deadlines and bad replies."""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from standfast.nfs import NfsProtocolError, NfsTimeout, NfsUnreachable, null_call, rpc
from standfast.nfs.xdr import XdrPacker, XdrUnpacker


def _accepted(xid: int, accept_stat: int, body: bytes = b"") -> bytes:
    packer = XdrPacker()
    for word in (xid, 1, 0, 0, 0, accept_stat):  # REPLY, ACCEPTED, verf AUTH_NONE, len 0
        packer.pack_uint(word)
    return packer.get_buffer() + body


def _read_call(conn: socket.socket) -> tuple[int, bytes]:
    header = b""
    while len(header) < 4:
        header += conn.recv(4 - len(header))
    (mark,) = struct.unpack(">I", header)
    length = mark & 0x7FFFFFFF
    body = b""
    while len(body) < length:
        body += conn.recv(length - len(body))
    return XdrUnpacker(body).unpack_uint(), body


@contextmanager
def fake_server(
    reply: Callable[[int, bytes], bytes | None], *, fragments: int = 1
) -> Iterator[tuple[int, list[bytes]]]:
    """A one-thread RPC server; ``reply(xid, call)`` returns the reply (None: stay silent)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.1)
    port = listener.getsockname()[1]
    calls: list[bytes] = []
    stop = threading.Event()
    held: list[socket.socket] = []

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            held.append(conn)
            conn.settimeout(5)
            xid, call = _read_call(conn)
            calls.append(call)
            answer = reply(xid, call)
            if answer is None:
                continue
            size = max(1, len(answer) // fragments + 1)
            pieces = [answer[i : i + size] for i in range(0, len(answer), size)] or [b""]
            for index, piece in enumerate(pieces):
                last = 0x80000000 if index == len(pieces) - 1 else 0
                conn.sendall(struct.pack(">I", last | len(piece)) + piece)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield port, calls
    finally:
        stop.set()
        thread.join(5)
        for conn in held:
            conn.close()
        listener.close()


def test_null_call_success_and_call_encoding() -> None:
    with fake_server(lambda xid, call: _accepted(xid, 0)) as (port, calls):
        assert null_call("127.0.0.1", timeout=2.0, program=100003, version=3, port=port) < 1
    call = XdrUnpacker(calls[0])
    call.unpack_uint()  # xid
    assert [call.unpack_uint() for _ in range(5)] == [0, 2, 100003, 3, 0]


def test_fragmented_reply_is_reassembled() -> None:
    with fake_server(lambda xid, call: _accepted(xid, 0, b"\x00\x00\x08\x01"), fragments=4) as (
        port,
        _,
    ):
        reply = rpc.call(
            rpc.RpcCall("127.0.0.1", port, 100000, 2, 3, b""), deadline=time.monotonic() + 2
        )
    assert reply == b"\x00\x00\x08\x01"


def test_silent_server_times_out_on_deadline() -> None:
    with fake_server(lambda xid, call: None) as (port, _):
        started = time.monotonic()
        with pytest.raises(NfsTimeout) as caught:
            null_call("127.0.0.1", timeout=0.5, port=port)
        assert 0.45 < time.monotonic() - started < 1.0
    assert caught.value.what.startswith("NULL")
    assert 0.45 < caught.value.elapsed < 1.0


@pytest.mark.parametrize(
    ("accept_stat", "text"),
    [(1, "PROG_UNAVAIL"), (3, "PROC_UNAVAIL"), (5, "SYSTEM_ERR")],
)
def test_accept_errors(accept_stat: int, text: str) -> None:
    with (
        fake_server(lambda xid, call: _accepted(xid, accept_stat)) as (port, _),
        pytest.raises(NfsProtocolError, match=text),
    ):
        null_call("127.0.0.1", timeout=2.0, port=port)


def test_prog_mismatch_reports_versions() -> None:
    body = struct.pack(">II", 2, 4)
    with (
        fake_server(lambda xid, call: _accepted(xid, 2, body)) as (port, _),
        pytest.raises(NfsProtocolError, match="versions 2-4"),
    ):
        null_call("127.0.0.1", timeout=2.0, port=port)


def test_auth_error_is_a_protocol_error() -> None:
    def denied(xid: int, call: bytes) -> bytes:
        return struct.pack(">IIIII", xid, 1, 1, 1, 5)  # DENIED, AUTH_ERROR, AUTH_TOOWEAK

    with fake_server(denied) as (port, _), pytest.raises(NfsProtocolError, match="AUTH_TOOWEAK"):
        null_call("127.0.0.1", timeout=2.0, port=port)


@pytest.mark.parametrize(
    "reply",
    [
        lambda xid: struct.pack(">I", xid),  # truncated
        lambda xid: struct.pack(">III", xid ^ 1, 1, 0),  # wrong xid
        lambda xid: struct.pack(">II", xid, 0),  # a CALL, not a REPLY
    ],
)
def test_garbage_replies(reply: Callable[[int], bytes]) -> None:
    with fake_server(lambda xid, call: reply(xid)) as (port, _), pytest.raises(NfsProtocolError):
        null_call("127.0.0.1", timeout=2.0, port=port)


def test_server_closing_early_is_a_protocol_error() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]

    def close_at_once() -> None:
        conn, _ = listener.accept()
        conn.close()

    thread = threading.Thread(target=close_at_once, daemon=True)
    thread.start()
    try:
        with pytest.raises((NfsProtocolError, NfsUnreachable)):
            null_call("127.0.0.1", timeout=2.0, port=port)
    finally:
        thread.join(2)
        listener.close()


def test_refused_port_is_unreachable_at_once() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.monotonic()
    with pytest.raises(NfsUnreachable, match="refused"):
        null_call("127.0.0.1", timeout=5.0, port=port)
    assert time.monotonic() - started < 0.5


def test_expired_deadline_does_not_connect() -> None:
    with pytest.raises(NfsTimeout):
        null_call("127.0.0.1", timeout=0.0, port=9)


def test_privileged_source_port() -> None:
    import os

    if os.geteuid() != 0:
        pytest.skip("needs root")
    seen: list[int] = []
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]

    def serve() -> None:
        conn, peer = listener.accept()
        seen.append(peer[1])
        xid, _ = _read_call(conn)
        answer = _accepted(xid, 0)
        conn.sendall(struct.pack(">I", 0x80000000 | len(answer)) + answer)
        conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        rpc.call(
            rpc.RpcCall("127.0.0.1", port, 100005, 3, 0, auth=rpc.AuthSys(), privileged=True),
            deadline=time.monotonic() + 2,
        )
    finally:
        thread.join(2)
        listener.close()
    assert 600 <= seen[0] < 1024


def test_rpc_host_must_be_an_address() -> None:
    with pytest.raises(ValueError):
        rpc.call(rpc.RpcCall("localhost", 1, 1, 1, 0), deadline=time.monotonic() + 1)
