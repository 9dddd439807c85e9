"""The server-to-server request channel over real TCP sockets on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import signal
import socket
import struct
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from standfast.cluster.auth import Sealer
from standfast.cluster.peer import (
    PeerClient,
    PeerError,
    PeerServer,
    PeerUnreachable,
)
from standfast.messages import StandfastError

KEY = secrets.token_bytes(32)
CLUSTER = "peertest"
RUNNER = Path(__file__).with_name("peer_runner.py")
SLACK = 0.3
Address = tuple[str, int]


def free_port(*hosts: str) -> int:
    """A TCP port free on every one of ``hosts``."""
    for _ in range(50):
        with socket.socket() as first:
            first.bind((hosts[0], 0))
            port = int(first.getsockname()[1])
        try:
            for host in hosts:
                with socket.socket() as sock:
                    sock.bind((host, port))
        except OSError:
            continue
        return port
    raise RuntimeError(f"no common free port on {hosts}")


@dataclass
class Node:
    """A PeerServer with a recording handler."""

    name: str
    listen: list[Address]
    calls: Counter[str] = field(default_factory=Counter)
    senders: list[str] = field(default_factory=list)
    server: PeerServer | None = None

    async def handler(self, sender: str, method: str, params: dict[str, Any]) -> dict[str, Any]:
        self.calls[method] += 1
        self.senders.append(sender)
        if method == "echo":
            return {"me": self.name, "params": params}
        if method == "sleep":
            await asyncio.sleep(float(params["seconds"]))
            return {"slept": params["seconds"]}
        if method == "refuse":
            raise StandfastError("107005", tag="nas-1", server=self.name)
        if method == "crash":
            raise RuntimeError("disk on fire")
        if method == "not_a_dict":
            return [1, 2]  # type: ignore[return-value]
        raise ValueError(f"unknown method {method}")

    async def start(self) -> PeerServer:
        self.server = PeerServer(self.name, CLUSTER, KEY, self.listen, self.handler)
        await self.server.start()
        return self.server

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.stop()
            self.server = None

    @property
    def srv(self) -> PeerServer:
        assert self.server is not None
        return self.server


@pytest.fixture
async def nodes() -> AsyncIterator[dict[str, Node]]:
    p1 = free_port("127.0.0.11", "127.0.0.12")
    p2 = free_port("127.0.0.21", "127.0.0.22")
    made = {
        "server1": Node("server1", [("127.0.0.11", p1), ("127.0.0.12", p1)]),
        "server2": Node("server2", [("127.0.0.21", p2), ("127.0.0.22", p2)]),
    }
    try:
        for node in made.values():
            await node.start()
        yield made
    finally:
        for node in made.values():
            await node.stop()


@pytest.fixture
async def client(nodes: dict[str, Node]) -> AsyncIterator[PeerClient]:
    """server1's client, knowing server2's two paths."""
    async with PeerClient(
        "server1", CLUSTER, KEY, {"server2": nodes["server2"].listen}
    ) as peer_client:
        yield peer_client


async def raw_exchange(address: Address, frame: bytes, timeout: float = 2.0) -> bytes | None:
    """Send one length-prefixed frame on a fresh connection; the reply, None on close."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection(*address), timeout)
    try:
        writer.write(struct.pack(">I", len(frame)) + frame)
        await writer.drain()
        try:
            head = await asyncio.wait_for(reader.readexactly(4), timeout)
        except (asyncio.IncompleteReadError, ConnectionResetError):
            return None
        (length,) = struct.unpack(">I", head)
        return await asyncio.wait_for(reader.readexactly(length), timeout)
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(writer.wait_closed(), timeout)


# --------------------------------------------------------------------------- calls


async def test_call_round_trips_and_reuses_its_connection(
    nodes: dict[str, Node], client: PeerClient
) -> None:
    server2 = nodes["server2"]
    for i in range(3):
        result = await client.call("server2", "echo", {"n": i, "s": "ü"}, timeout=2.0)
        assert result == {"me": "server2", "params": {"n": i, "s": "ü"}}
    assert server2.senders == ["server1"] * 3
    assert server2.calls == {"echo": 3}
    assert server2.srv.counters()["connections"] == 1
    assert client.idle_connections("server2") == 1


async def test_a_whole_configuration_fits_in_one_call(client: PeerClient) -> None:
    """Requests and replies far beyond a datagram (a large cluster's configuration is
    pushed in one call) travel whole; only past the frame limit is one refused, before
    anything is sent."""
    blob = "r" * 1_500_000
    result = await client.call("server2", "echo", {"config": blob}, timeout=5.0)
    assert result["params"]["config"] == blob
    with pytest.raises(ValueError, match="more than"):
        await client.call("server2", "echo", {"config": "r" * 5_000_000}, timeout=5.0)


async def test_standfast_error_arrives_with_its_code(client: PeerClient) -> None:
    with pytest.raises(PeerError) as info:
        await client.call("server2", "refuse", {}, timeout=2.0)
    err = info.value
    assert (err.peer, err.method, err.code) == ("server2", "refuse", "107005")
    assert "nas-1" in err.message
    assert err.error["params"] == {"tag": "nas-1", "server": "server2"}
    # The connection stays usable after an error reply.
    assert (await client.call("server2", "echo", {}, timeout=2.0))["me"] == "server2"


async def test_other_handler_failures_are_191010(client: PeerClient) -> None:
    with pytest.raises(PeerError) as info:
        await client.call("server2", "crash", {}, timeout=2.0)
    assert info.value.code == "191010"
    assert "disk on fire" in info.value.message
    with pytest.raises(PeerError) as info:
        await client.call("server2", "not_a_dict", {}, timeout=2.0)
    assert info.value.code == "191010"
    with pytest.raises(PeerError) as info:
        await client.call("server2", "echo", {"_deadline": "soon"}, timeout=2.0)
    assert info.value.code == "191010"


async def test_slow_handler_is_cut_at_its_deadline(
    nodes: dict[str, Node], client: PeerClient
) -> None:
    start = time.monotonic()
    with pytest.raises(PeerError) as info:
        await client.call("server2", "sleep", {"seconds": 10, "_deadline": 0.4}, timeout=3.0)
    elapsed = time.monotonic() - start
    assert info.value.code == "191011"
    assert "0.4" in info.value.message
    assert 0.4 <= elapsed < 0.4 + SLACK
    assert nodes["server2"].calls["sleep"] == 1


async def test_twenty_concurrent_calls(nodes: dict[str, Node], client: PeerClient) -> None:
    results = await asyncio.gather(
        *(client.call("server2", "echo", {"i": i}, timeout=3.0) for i in range(20))
    )
    assert [r["params"]["i"] for r in results] == list(range(20))
    assert nodes["server2"].calls["echo"] == 20
    # Slow ones do not hold up each other either.
    start = time.monotonic()
    await asyncio.gather(
        *(client.call("server2", "sleep", {"seconds": 0.3}, timeout=3.0) for _ in range(20))
    )
    assert time.monotonic() - start < 0.3 + SLACK


async def test_broadcast(nodes: dict[str, Node]) -> None:
    dead = ("127.0.0.31", free_port("127.0.0.31"))
    peers = {"server1": nodes["server1"].listen, "server2": nodes["server2"].listen}
    async with PeerClient("server3", CLUSTER, KEY, {**peers, "server4": [dead]}) as c:
        out = await c.broadcast(["server1", "server2", "server4"], "echo", {"x": 1}, timeout=1.0)
        assert out["server1"] == {"me": "server1", "params": {"x": 1}}
        assert out["server2"] == {"me": "server2", "params": {"x": 1}}
        assert isinstance(out["server4"], PeerUnreachable)
        out = await c.broadcast(["server1", "server2"], "refuse", {}, timeout=1.0)
        assert all(isinstance(v, PeerError) and v.code == "107005" for v in out.values())


# --------------------------------------------------------------------------- paths


async def test_dead_first_address_falls_over_to_the_second(nodes: dict[str, Node]) -> None:
    dead = ("127.0.0.99", nodes["server2"].listen[0][1])
    peers = {"server2": [dead, nodes["server2"].listen[1]]}
    async with PeerClient("server1", CLUSTER, KEY, peers) as c:
        start = time.monotonic()
        assert (await c.call("server2", "echo", {}, timeout=2.0))["me"] == "server2"
        assert time.monotonic() - start < SLACK  # refused at once, no waiting


async def test_silent_first_path_is_hedged_onto_the_second(nodes: dict[str, Node]) -> None:
    # A listener that accepts (in the kernel) but never answers: like a hung path.
    with socket.socket() as hole:
        hole.bind(("127.0.0.13", 0))
        hole.listen(8)
        peers = {"server2": [hole.getsockname(), nodes["server2"].listen[1]]}
        async with PeerClient("server1", CLUSTER, KEY, peers) as c:
            start = time.monotonic()
            assert (await c.call("server2", "echo", {}, timeout=2.0))["me"] == "server2"
            elapsed = time.monotonic() - start
        assert 1.0 <= elapsed < 1.0 + SLACK  # hedge after min(1 s, 2 s / 2 paths)


async def test_a_request_on_two_paths_runs_once(nodes: dict[str, Node]) -> None:
    # The handler outlasts the hedge delay, so the request goes out on both paths; the
    # server joins the copy to the running call instead of running it again.
    async with PeerClient("server1", CLUSTER, KEY, {"server2": nodes["server2"].listen}) as c:
        start = time.monotonic()
        result = await c.call("server2", "sleep", {"seconds": 0.8}, timeout=1.0)
        assert result == {"slept": 0.8}
        assert time.monotonic() - start < 0.8 + SLACK
    counters = nodes["server2"].srv.counters()
    assert nodes["server2"].calls["sleep"] == 1
    assert counters["duplicate"] == 1
    assert counters["connections"] == 2


async def test_stopped_peer_is_unreachable_within_the_timeout(
    nodes: dict[str, Node], client: PeerClient
) -> None:
    await client.call("server2", "echo", {}, timeout=2.0)
    await nodes["server2"].stop()
    start = time.monotonic()
    with pytest.raises(PeerUnreachable) as info:
        await client.call("server2", "echo", {}, timeout=1.0)
    assert time.monotonic() - start < 1.0 + SLACK
    assert info.value.code == "191012"
    assert "127.0.0.21" in info.value.detail and "127.0.0.22" in info.value.detail
    # Back again on the same addresses: the dead cached connection is replaced.
    await nodes["server2"].start()
    assert (await client.call("server2", "echo", {}, timeout=2.0))["me"] == "server2"


async def test_a_stop_with_open_connections_is_quiet(
    nodes: dict[str, Node], client: PeerClient
) -> None:
    """A daemon's stop cancels the connections it serves; nothing reaches the loop's
    exception handler (under Python 3.11 a cancelled connection task logged "Exception
    in callback ... CancelledError" for each, in every daemon's log at each stop)."""
    await client.call("server2", "echo", {}, timeout=2.0)  # one idle, cached connection
    idle = [await asyncio.open_connection(*a) for a in nodes["server2"].listen]
    loop = asyncio.get_running_loop()
    reported: list[dict[str, Any]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: reported.append(context))
    try:
        await asyncio.sleep(0.1)  # the server's tasks are reading
        await nodes["server2"].stop()
        await asyncio.sleep(0.1)  # done callbacks run
    finally:
        loop.set_exception_handler(previous)
        for _, writer in idle:
            writer.close()
    assert [str(c.get("exception") or c.get("message")) for c in reported] == []


async def test_unknown_peer_and_bad_arguments(client: PeerClient) -> None:
    with pytest.raises(PeerUnreachable):
        await client.call("nobody", "echo", {}, timeout=1.0)
    with pytest.raises(ValueError):
        await client.call("server2", "echo", {"x": object()}, timeout=1.0)
    with pytest.raises(ValueError):
        await client.call("server2", "echo", {"x": "y" * 4_200_000}, timeout=1.0)
    with pytest.raises(ValueError):
        await client.call("server2", "reply", {}, timeout=1.0)


# --------------------------------------------------------------------------- security


async def test_forged_request_gets_no_reply_and_runs_nothing(
    nodes: dict[str, Node], caplog: pytest.LogCaptureFixture
) -> None:
    server2 = nodes["server2"]
    caplog.set_level(logging.WARNING, logger="standfast.cluster")
    forger = Sealer(secrets.token_bytes(32), CLUSTER, "server1")
    frame = forger.seal("server2", "echo", {"_id": secrets.token_hex(16)})
    assert await raw_exchange(server2.listen[0], frame) is None
    assert await raw_exchange(server2.listen[0], b"\x00" * 100) is None
    assert server2.calls == {}
    assert server2.srv.counters()["forged"] == 1
    assert server2.srv.counters()["malformed"] == 1
    assert any(r.getMessage().startswith("191003: ") for r in caplog.records)


async def test_replayed_request_gets_no_reply_and_runs_nothing(
    nodes: dict[str, Node], caplog: pytest.LogCaptureFixture
) -> None:
    server2 = nodes["server2"]
    caplog.set_level(logging.WARNING, logger="standfast.cluster")
    sealer = Sealer(KEY, CLUSTER, "intruder")
    frame = sealer.seal("server2", "echo", {"_id": secrets.token_hex(16)})
    assert await raw_exchange(server2.listen[0], frame) is not None  # the genuine request
    assert server2.calls["echo"] == 1
    # The captured frame again, on the same path and on the other one.
    assert await raw_exchange(server2.listen[0], frame) is None
    assert await raw_exchange(server2.listen[1], frame) is None
    assert server2.calls["echo"] == 1
    assert server2.srv.counters()["replayed"] == 2
    assert any(r.getMessage().startswith("191004: ") for r in caplog.records)


async def test_misdirected_reflected_and_oversized_frames_are_dropped(
    nodes: dict[str, Node], client: PeerClient
) -> None:
    server2 = nodes["server2"]
    sealer = Sealer(KEY, CLUSTER, "intruder")
    misdirected = sealer.seal("server1", "echo", {"_id": secrets.token_hex(16)})
    assert await raw_exchange(server2.listen[0], misdirected) is None
    # A reply or a heartbeat-like message reflected at the server is not a request.
    reply = sealer.seal("server2", "reply", {"_id": secrets.token_hex(16), "ok": True})
    assert await raw_exchange(server2.listen[0], reply) is None
    no_id = sealer.seal("server2", "echo", {"net": "net1", "inc": 1})
    assert await raw_exchange(server2.listen[0], no_id) is None
    reader, writer = await asyncio.open_connection(*server2.listen[0])
    writer.write(struct.pack(">I", 5 * 1024 * 1024))
    await writer.drain()
    assert await asyncio.wait_for(reader.read(), 2.0) == b""
    writer.close()
    counters = server2.srv.counters()
    assert counters["misdirected"] == 1
    assert counters["not_request"] == 2
    assert counters["oversize"] == 1
    assert server2.calls == {}
    # None of this disturbed the genuine client.
    assert (await client.call("server2", "echo", {}, timeout=2.0))["me"] == "server2"


async def test_reply_from_the_wrong_server_is_refused(nodes: dict[str, Node]) -> None:
    # server1's client believes server1's addresses are server2's: server1 answers as
    # itself (and first refuses a request addressed to server2), so nothing is accepted.
    async with PeerClient("server3", CLUSTER, KEY, {"server2": nodes["server1"].listen}) as c:
        with pytest.raises(PeerUnreachable):
            await c.call("server2", "echo", {}, timeout=1.0)
    assert nodes["server1"].calls == {}


# --------------------------------------------------------------------------- frozen peer


@pytest.fixture
def runner() -> Iterator[tuple[subprocess.Popen[str], list[Address]]]:
    port = free_port("127.0.0.21", "127.0.0.22")
    config = {
        "name": "server2",
        "cluster": CLUSTER,
        "key_hex": KEY.hex(),
        "listen": [["127.0.0.21", port], ["127.0.0.22", port]],
        "lifetime": 60.0,
    }
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, str(RUNNER), json.dumps(config)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        line = ""
        deadline = time.monotonic() + 10.0
        os.set_blocking(proc.stdout.fileno(), False)
        while not line.endswith("\n"):
            if time.monotonic() > deadline or proc.poll() is not None:
                raise AssertionError("peer runner did not start")
            line += proc.stdout.readline()
            time.sleep(0.01)
        ready = json.loads(line)
        assert ready["type"] == "ready"
        yield proc, [(h, p) for h, p in ready["listen"]]
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGCONT)
        proc.terminate()
        try:
            proc.wait(timeout=5.0)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5.0)
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None:
                pipe.close()


async def test_sigstopped_peer_is_unreachable_within_the_timeout(
    runner: tuple[subprocess.Popen[str], list[Address]],
) -> None:
    proc, listen = runner
    async with PeerClient("server1", CLUSTER, KEY, {"server2": listen}) as c:
        result = await c.call("server2", "echo", {"a": 1}, timeout=3.0)
        assert result == {"sender": "server1", "params": {"a": 1}}
        os.kill(proc.pid, signal.SIGSTOP)
        try:
            start = time.monotonic()
            with pytest.raises(PeerUnreachable) as info:
                await c.call("server2", "echo", {}, timeout=1.5)
            elapsed = time.monotonic() - start
            assert 1.5 <= elapsed < 1.5 + SLACK
            assert "no reply" in info.value.detail
        finally:
            os.kill(proc.pid, signal.SIGCONT)
        # Thawed, it answers again (the abandoned connections were closed, not reused).
        result = await c.call("server2", "echo", {"a": 2}, timeout=3.0)
        assert result == {"sender": "server1", "params": {"a": 2}}
