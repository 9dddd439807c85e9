"""What a lone daemon leaves unimported, and the readiness probe without httpx."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from standfast.daemon.main import _remote_wanted
from standfast.daemon.notify import api_answers


@pytest.mark.parametrize(
    ("env", "wanted"),
    [
        ({}, True),  # the remote API listens by default
        ({"STANDFAST_REMOTE_LISTEN": "0.0.0.0:7443"}, True),
        ({"STANDFAST_REMOTE_LISTEN": "off"}, False),
        ({"STANDFAST_REMOTE_LISTEN": " Off "}, False),
        ({"STANDFAST_REMOTE_LISTEN": "none", "STANDFAST_METRICS_LISTEN": "off"}, False),
        ({"STANDFAST_REMOTE_LISTEN": "no", "STANDFAST_METRICS_LISTEN": "127.0.0.1:9100"}, True),
        ({"STANDFAST_REMOTE_LISTEN": "0", "STANDFAST_METRICS_LISTEN": "bad"}, True),
    ],
)
def test_remote_wanted(env: dict[str, str], wanted: bool) -> None:
    assert _remote_wanted(env) is wanted


def test_lone_daemon_imports_no_cluster_or_remote_stack() -> None:
    code = (
        "import sys, standfast.daemon.main\n"
        "heavy = ['grpc', 'aetcd', 'httpx', 'standfast.engine.member',"
        " 'standfast.alerts.service', 'standfast.api.remote']\n"
        "print(','.join(m for m in heavy if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == ""


async def _serve(path: Path, answer: bytes) -> asyncio.AbstractServer:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(answer)
        await writer.drain()
        writer.close()

    return await asyncio.start_unix_server(handle, str(path))


@pytest.mark.parametrize(
    ("answer", "ok"),
    [
        (b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}", True),
        (b"HTTP/1.1 503 Service Unavailable\r\n\r\n", False),
        (b"garbage\r\n", False),
        (b"", False),
    ],
)
def test_api_answers(tmp_path: Path, answer: bytes, ok: bool) -> None:
    async def main() -> bool:
        server = await _serve(tmp_path / "s.sock", answer)
        async with server:
            return await api_answers(tmp_path / "s.sock", timeout=2.0)

    assert asyncio.run(main()) is ok


def test_api_answers_bounded_when_nobody_answers(tmp_path: Path) -> None:
    async def main() -> bool:
        async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await asyncio.sleep(5)

        server = await asyncio.start_unix_server(silent, str(tmp_path / "s.sock"))
        async with server:
            return await api_answers(tmp_path / "s.sock", timeout=0.2)

    assert asyncio.run(main()) is False
    assert asyncio.run(api_answers(tmp_path / "missing.sock", timeout=0.2)) is False
