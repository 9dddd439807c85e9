"""The lab's host-side control channel against a stand-in for qemu's chardev socket.

The stand-in is a real UNIX socket server speaking the agent's protocol (one JSON line
per request, replies by id) whose replies the test delays or withholds; like qemu it
serves one client at a time.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from standfast.lab.channel import AgentTimeout, ControlChannel, GuestError, GuestGone


class FakePort:
    """Answers ``{"delay": s}`` after s seconds, never answers ``{"mute": true}``,
    closes the connection on ``{"hangup": true}``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.connections = 0
        self._srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._srv.bind(str(path))
        self._srv.listen(4)
        self._stop = False
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop:
            try:
                conn, _ = self._srv.accept()
            except OSError:
                return
            self.connections += 1
            self._client(conn)

    def _client(self, conn: socket.socket) -> None:
        lock = threading.Lock()
        buf = b""
        with conn:
            while True:
                try:
                    chunk = conn.recv(65536)
                except OSError:
                    return
                if not chunk:
                    return
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    if not line.strip():
                        continue
                    req = json.loads(line)
                    if req.get("hangup"):
                        conn.shutdown(socket.SHUT_RDWR)
                        return
                    if req.get("mute"):
                        continue
                    threading.Thread(
                        target=self._reply, args=(conn, lock, req), daemon=True
                    ).start()

    @staticmethod
    def _reply(conn: socket.socket, lock: threading.Lock, req: dict[str, object]) -> None:
        time.sleep(float(req.get("delay", 0)))  # type: ignore[arg-type]
        with lock, contextlib.suppress(OSError):
            conn.sendall((json.dumps({"id": req["id"], "ok": True}) + "\n").encode())

    def close(self) -> None:
        self._stop = True
        self._srv.close()


@pytest.fixture
def port(tmp_path: Path) -> Iterator[FakePort]:
    p = FakePort(tmp_path / "g.ctl")
    yield p
    p.close()


def test_short_requests_timing_out_do_not_end_a_long_one(port: FakePort) -> None:
    """The lab's ``control connection lost: timed out``: a request's deadline must
    never become a socket timeout that ends the reader under everyone else."""
    ch = ControlChannel(port.path)
    result: dict[str, object] = {}

    def long() -> None:
        try:
            result["reply"] = ch.request({"delay": 2.0}, timeout=10)
        except GuestError as exc:
            result["error"] = exc

    t = threading.Thread(target=long)
    t.start()
    time.sleep(0.2)
    for _ in range(3):
        with pytest.raises(AgentTimeout):
            ch.request({"mute": True}, timeout=0.3)
    assert ch.request({"delay": 0}, timeout=5)["ok"] is True
    t.join(10)
    assert "error" not in result
    assert isinstance(result["reply"], dict) and result["reply"]["ok"] is True
    assert port.connections == 1
    ch.close()


def test_a_quiet_guest_for_longer_than_any_timeout_keeps_the_connection(port: FakePort) -> None:
    ch = ControlChannel(port.path)
    assert ch.request({"delay": 0}, timeout=0.5)["ok"] is True  # short first request
    assert ch.request({"delay": 1.5}, timeout=5)["ok"] is True  # then a long quiet one
    assert port.connections == 1
    ch.close()


def test_a_connection_closed_by_qemu_fails_its_requests_at_once_then_reconnects(
    port: FakePort,
) -> None:
    ch = ControlChannel(port.path)
    errors: list[BaseException] = []

    def waiting() -> None:
        try:
            ch.request({"delay": 30}, timeout=30)
        except GuestError as exc:
            errors.append(exc)

    t = threading.Thread(target=waiting)
    t.start()
    time.sleep(0.2)
    t0 = time.monotonic()
    with pytest.raises(GuestError):
        ch.request({"hangup": True}, timeout=5)
    t.join(5)
    assert errors and time.monotonic() - t0 < 3
    assert ch.request({"delay": 0}, timeout=5)["ok"] is True
    assert port.connections == 2
    ch.close()


def test_a_silent_connection_is_dropped_and_the_next_request_reconnects(
    port: FakePort,
) -> None:
    ch = ControlChannel(port.path)
    with pytest.raises(AgentTimeout):
        ch.request({"mute": True}, timeout=0.3)
    assert ch.request({"delay": 0}, timeout=5)["ok"] is True
    assert port.connections == 2
    ch.close()


def test_a_guest_whose_qemu_is_gone_fails_at_once(port: FakePort) -> None:
    alive = [False]
    ch = ControlChannel(port.path, alive=lambda: alive[0])
    t0 = time.monotonic()
    with pytest.raises(GuestGone):
        ch.request({"delay": 0}, timeout=600)
    assert time.monotonic() - t0 < 0.5
    # ... and a request in flight when qemu dies ends within a poll, not at its deadline.
    alive[0] = True
    threading.Timer(0.3, lambda: alive.__setitem__(0, False)).start()
    t0 = time.monotonic()
    with pytest.raises(GuestGone):
        ch.request({"mute": True}, timeout=600)
    assert time.monotonic() - t0 < 2
    ch.close()


def test_a_missing_socket_with_qemu_gone_fails_at_once(tmp_path: Path) -> None:
    alive = [True]
    ch = ControlChannel(tmp_path / "nothing.ctl", alive=lambda: alive[0])
    threading.Timer(0.3, lambda: alive.__setitem__(0, False)).start()
    t0 = time.monotonic()
    with pytest.raises(GuestGone):
        ch.request({"delay": 0}, timeout=600)
    assert time.monotonic() - t0 < 2


def test_each_channel_claims_a_port_of_its_own(tmp_path: Path) -> None:
    ports = [FakePort(tmp_path / "g.ctl"), FakePort(tmp_path / "g.ctl.1")]
    paths = [p.path for p in ports]
    a, b, c = ControlChannel(paths), ControlChannel(paths), ControlChannel(paths)
    try:
        assert a.request({"delay": 0}, timeout=5)["ok"] is True
        assert b.request({"delay": 0}, timeout=5)["ok"] is True
        assert {a.path, b.path} == set(paths)
        with pytest.raises(AgentTimeout, match="held by other"):
            c.request({"delay": 0}, timeout=0.5)
        a.close()  # its port is free again
        assert c.request({"delay": 0}, timeout=5)["ok"] is True
        assert c.path == paths[0]
    finally:
        for ch in (a, b, c):
            ch.close()
        for p in ports:
            p.close()
