"""Shared fixtures. A real nfs-ganesha NAS on loopback, shared by every test that
needs one (only one ganesha can be registered with rpcbind at a time).

The session NAS has three exports:

- ``open``: everyone, read-write (ganesha lists it with an empty client list);
- ``restricted``: only 192.0.2.55 (TEST-NET-1, never this machine), so ganesha hides
  it from our export list and refuses our MNT;
- ``mixed``: a client list with an address, a network, a wildcard and a netgroup, one
  of which (127.0.0.1) is us, to check that ganesha's real reply parses.

If an rpcbind is already running it is used and left running; otherwise the
NasServer starts one and stops it at the end. Only processes started here are
stopped, by PID.
"""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from standfast.lab.nas import NasExport, NasServer

LOOPBACK = "127.0.0.1"
RESTRICTED_CLIENT = "192.0.2.55"
MIXED_CLIENTS = "127.0.0.1, 10.1.0.0/16, *.example.com, @ng"


def free_port(host: str = LOOPBACK) -> int:
    """A port free for both TCP and UDP on ``host`` (ganesha listens on both)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind((host, 0))
            port = int(tcp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind((host, port))
                except OSError:
                    continue
                return port
    raise RuntimeError("no free port")


def nas_exports(root: Path) -> list[NasExport]:
    return [
        NasExport(root / "open", "/open", export_id=1),
        NasExport(root / "restricted", "/restricted", clients=RESTRICTED_CLIENT, export_id=2),
        NasExport(root / "mixed", "/mixed", clients=MIXED_CLIENTS, export_id=3),
    ]


@pytest.fixture(scope="session")
def nas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NasServer]:
    if os.geteuid() != 0:
        pytest.fail("the NAS needs root (rpcbind, privileged ports)")
    if (
        shutil.which("ganesha.nfsd") is None
        or shutil.which("rpcbind", path="/usr/sbin:/sbin") is None
    ):
        pytest.fail("nfs-ganesha and rpcbind are not installed: run ./scripts/bootstrap")
    root = tmp_path_factory.mktemp("nas")
    server = NasServer(root / "ganesha", nas_exports(root / "exports"), nfs_port=free_port())
    server.start(timeout=30.0)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def live_nas(nas: NasServer) -> NasServer:
    """The session NAS, running and not paused (a test before may have stopped it)."""
    if not nas.running():
        nas.start(timeout=30.0)
    return nas


def _export_path(nas: NasServer, name: str) -> str:
    for export in nas.exports:
        if export.pseudo == f"/{name}":
            return str(export.path)
    raise KeyError(name)


@pytest.fixture
def open_export(nas: NasServer) -> str:
    return _export_path(nas, "open")


@pytest.fixture
def restricted_export(nas: NasServer) -> str:
    return _export_path(nas, "restricted")


@pytest.fixture
def mixed_export(nas: NasServer) -> str:
    return _export_path(nas, "mixed")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """With STANDFAST_REQUIRE_ALL=1 (CI), a skipped test is a failed test: on the CI
    machine every part a test needs is installed, so a skip could only hide a gap."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.skipped and os.environ.get("STANDFAST_REQUIRE_ALL") == "1":
        report.outcome = "failed"
        report.longrepr = f"skipped where every test must run: {report.longrepr}"
