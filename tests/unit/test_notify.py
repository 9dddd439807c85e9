"""sd_notify: the environment systemd passes, real datagrams, the watchdog's rule."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from standfast.daemon.notify import Notifier, pet_watchdog, supervise


@dataclass
class Loop:
    """The engine's heartbeat, as the watchdog reads it."""

    last_cycle_at: float


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[tuple[str, socket.socket]]:
    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.setblocking(False)
    yield path, sock
    sock.close()


def drain(sock: socket.socket) -> list[str]:
    out: list[str] = []
    while True:
        try:
            out.append(sock.recv(4096).decode())
        except BlockingIOError:
            return out


def test_from_env_reads_and_unsets_the_variables() -> None:
    env = {"NOTIFY_SOCKET": "/run/x", "WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "42", "A": "b"}
    n = Notifier.from_env(env, pid=42)
    assert n.address == "/run/x"
    assert n.watchdog_interval == 30.0
    assert env == {"A": "b"}  # children of the daemon do not inherit them


@pytest.mark.parametrize(
    ("env", "interval"),
    [
        ({"NOTIFY_SOCKET": "/run/x", "WATCHDOG_USEC": "2000000", "WATCHDOG_PID": "7"}, None),
        ({"NOTIFY_SOCKET": "/run/x", "WATCHDOG_USEC": "0"}, None),
        ({"NOTIFY_SOCKET": "/run/x", "WATCHDOG_USEC": "soon"}, None),
        ({"NOTIFY_SOCKET": "/run/x", "WATCHDOG_USEC": "2000000"}, 2.0),
        ({"WATCHDOG_USEC": "2000000"}, None),  # no socket: nobody to pet
    ],
)
def test_watchdog_only_when_meant_for_us(env: dict[str, str], interval: float | None) -> None:
    assert Notifier.from_env(dict(env), pid=42).watchdog_interval == interval


def test_not_under_systemd_sends_nothing() -> None:
    n = Notifier.from_env({})
    assert not n.enabled
    assert n.send("READY=1") is False


def test_send_is_one_datagram(receiver: tuple[str, socket.socket]) -> None:
    path, sock = receiver
    n = Notifier(path, None)
    assert n.send("READY=1", "STATUS=up")
    n.close()
    assert drain(sock) == ["READY=1\nSTATUS=up"]


def test_abstract_socket_address() -> None:
    name = f"standfast-test-{uuid.uuid4().hex}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(b"\0" + name.encode())
    sock.setblocking(False)
    try:
        n = Notifier("@" + name, None)
        assert n.send("WATCHDOG=1")
        n.close()
        assert drain(sock) == ["WATCHDOG=1"]
    finally:
        sock.close()


def test_a_failed_send_is_logged_once(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    n = Notifier(str(tmp_path / "absent.sock"), None)
    with caplog.at_level(logging.WARNING, logger="standfast.daemon"):
        assert n.send("READY=1") is False
        assert n.send("WATCHDOG=1") is False
    n.close()
    assert [r.getMessage()[:7] for r in caplog.records] == ["190214:"]


async def test_pets_while_the_loop_turns_and_stops_when_it_stalls(
    receiver: tuple[str, socket.socket], caplog: pytest.LogCaptureFixture
) -> None:
    path, sock = receiver
    n = Notifier(path, 0.4)  # pets every 0.1 s while the last cycle is under 0.2 s old
    loop = Loop(time.monotonic())

    async def turning(until: float) -> None:
        while time.monotonic() < until:
            loop.last_cycle_at = time.monotonic()
            await asyncio.sleep(0.02)

    task = asyncio.create_task(pet_watchdog(n, loop))
    try:
        await turning(time.monotonic() + 0.5)
        pets_while_turning = drain(sock)
        with caplog.at_level(logging.WARNING, logger="standfast.daemon"):
            await asyncio.sleep(0.3)  # settle: the last pet may fall just after the stall
            drain(sock)
            await asyncio.sleep(0.6)  # stalled: the cycle is older than half the interval
            pets_while_stalled = drain(sock)
        await turning(time.monotonic() + 0.3)
        pets_after = drain(sock)
    finally:
        task.cancel()
        n.close()
    assert len(pets_while_turning) >= 3
    assert set(pets_while_turning) == {"WATCHDOG=1"}
    assert pets_while_stalled == []
    assert [r.getMessage()[:7] for r in caplog.records] == ["190213:"]
    assert pets_after  # the loop turns again: so do the pets


async def test_ready_waits_for_a_cycle_and_the_api(
    receiver: tuple[str, socket.socket], tmp_path: Path
) -> None:
    """READY=1 needs both: a cycle after the start and an HTTP answer on the socket."""
    path, sock = receiver
    api = tmp_path / "api.sock"
    loop = Loop(time.monotonic())
    n = Notifier(path, None)
    task = asyncio.create_task(supervise(n, loop, api, "server1"))
    await asyncio.sleep(0.3)
    assert drain(sock) == []  # no cycle yet, no API

    async def answer(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await r.readuntil(b"\r\n\r\n")
        w.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}")
        await w.drain()
        w.close()

    server = await asyncio.start_unix_server(answer, path=str(api))
    try:
        await asyncio.sleep(0.3)
        assert drain(sock) == []  # the API answers but the loop has not turned
        loop.last_cycle_at = time.monotonic()
        await asyncio.wait_for(task, timeout=5)
    finally:
        server.close()
        n.close()
    assert drain(sock) == ["READY=1\nSTATUS=API answers, control loop running"]


def test_the_daemon_process_keeps_no_variable() -> None:
    """The module reads os.environ by default: what it removes is gone for children."""
    os.environ["NOTIFY_SOCKET"] = "/run/none"
    try:
        Notifier.from_env()
        assert "NOTIFY_SOCKET" not in os.environ
    finally:
        os.environ.pop("NOTIFY_SOCKET", None)
