"""The peer channel's server under a connection flood, on loopback: silent connections
are closed after FIRST_FRAME_TIMEOUT, a source over its limit is refused at once, and an
authentic peer is served meanwhile."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from typing import Any

from standfast.cluster.peer import PeerClient, PeerServer
from standfast.cluster.peer_server import FIRST_FRAME_TIMEOUT
from standfast.host.connections import PEER_MAX_PER_SOURCE
from tests.cluster.test_peer import free_port

KEY = secrets.token_bytes(32)
CLUSTER = "limits"


async def _echo(sender: str, method: str, params: dict[str, Any]) -> dict[str, Any]:
    return {"from": sender}


async def _closed(reader: asyncio.StreamReader, within: float) -> bool:
    with contextlib.suppress(TimeoutError, ConnectionError):
        return await asyncio.wait_for(reader.read(1), within) == b""
    return False


async def test_silent_connections_are_closed_quickly_and_peers_still_served() -> None:
    port = free_port("127.0.0.31")
    address = ("127.0.0.31", port)
    async with PeerServer("server2", CLUSTER, KEY, [address], _echo) as server:
        sources = ["127.0.1.1"] * PEER_MAX_PER_SOURCE + ["127.0.1.2"] * 18
        silent = [
            await asyncio.open_connection(*address, local_addr=(source, 0)) for source in sources
        ]
        # Over the limit per source: closed at once, without a byte read.
        reader, writer = await asyncio.open_connection(*address, local_addr=("127.0.1.1", 0))
        assert await _closed(reader, 1.0)
        writer.close()
        async with PeerClient("server1", CLUSTER, KEY, {"server2": [address]}) as client:
            began = time.monotonic()
            assert await client.call("server2", "echo", {}, timeout=5.0) == {"from": "server1"}
            assert time.monotonic() - began < 1.0
            started = time.monotonic()
            results = await asyncio.gather(
                *(_closed(r, FIRST_FRAME_TIMEOUT + 2.0) for r, _ in silent)
            )
            assert all(results)
            assert time.monotonic() - started < FIRST_FRAME_TIMEOUT + 2.0
            # The authentic peer's pooled connection is still usable.
            assert await client.call("server2", "echo", {}, timeout=5.0) == {"from": "server1"}
        for _, w in silent:
            w.close()
        assert server.guard.total <= 1
