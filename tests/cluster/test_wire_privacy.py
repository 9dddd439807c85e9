"""What crosses the wire between servers is sealed: packets captured on the test's own
links (a raw AF_PACKET socket on each server's host-side veth, as tcpdump reads them)
while a resource is made, extended and switched over carry no server name, no tag and
no command line, only the envelope's clear framing (docs/architecture.md, "A
cluster")."""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from standfast.lab.netns import NetCluster, net_cluster
from tests.cluster.test_failover import DEFAULTS

pytestmark = [pytest.mark.root, pytest.mark.daemon]

ETH_P_ALL = 0x0003
HEARTBEAT_PORT, PEER_PORT = 7800, 7801
MARKER = "sf-wire-marker-5d1c"


@pytest.fixture
def cluster3(tmp_path: Path) -> Iterator[NetCluster]:
    with net_cluster(tmp_path / "c", count=3, tag="wp", defaults=DEFAULTS) as c:
        c.start_all()
        yield c


class Capture:
    """Every IPv4 UDP/TCP payload seen on one bridge to or from the cluster's ports."""

    def __init__(self, interface: str) -> None:
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        self.sock.bind((interface, 0))
        self.sock.settimeout(0.2)
        self.payloads: dict[int, list[bytes]] = {HEARTBEAT_PORT: [], PEER_PORT: []}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                frame = self.sock.recv(65535)
            except TimeoutError:
                continue
            self._take(frame)

    def _take(self, frame: bytes) -> None:
        if len(frame) < 34 or frame[12:14] != b"\x08\x00":  # IPv4 only
            return
        ip = frame[14:]
        ihl, proto = (ip[0] & 0x0F) * 4, ip[9]
        l4 = ip[ihl:]
        if proto == 17 and len(l4) >= 8:  # UDP
            sport, dport = struct.unpack("!HH", l4[:4])
            payload = l4[8:]
        elif proto == 6 and len(l4) >= 20:  # TCP
            sport, dport = struct.unpack("!HH", l4[:4])
            payload = l4[(l4[12] >> 4) * 4 :]
        else:
            return
        for port in (HEARTBEAT_PORT, PEER_PORT):
            if port in (sport, dport) and payload:
                self.payloads[port].append(payload)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sock.close()


def test_nothing_readable_crosses_the_wire(cluster3: NetCluster) -> None:
    c = cluster3
    time.sleep(c.settle_seconds())
    # The host ends of every server's links: all it sends and receives on both networks.
    captures = [Capture(link) for srv in c.servers.values() for link in srv.host_links.values()]
    try:
        props = [
            "--prop", f"restore=/bin/true {MARKER}-start",
            "--prop", f"remove=/bin/true {MARKER}-stop",
            "--prop", f"quick_check=/bin/true {MARKER}-check",
        ]  # fmt: skip
        c.cli("server1", "resource", "create", "--kit", "app", "--tag", "wiretag", *props)
        c.cli("server1", "resource", "extend", "wiretag", "--target", "server2")
        c.cli("server2", "resource", "in-service", "wiretag")
        c.wait_for("wiretag", "server2", timeout=20)
        time.sleep(1.0)  # heartbeats carrying the new states
    finally:
        for cap in captures:
            cap.stop()
    beats = [p for cap in captures for p in cap.payloads[HEARTBEAT_PORT]]
    frames = b"".join(p for cap in captures for p in cap.payloads[PEER_PORT])
    assert len(beats) > 20, "heartbeats were captured"
    assert len(frames) > 1000, "the configuration push and the switchover were captured"
    everything = b"".join(beats) + frames
    for plain in (MARKER.encode(), b"wiretag", b"server1", b"server2", b"/bin/true", b"ISP"):
        assert plain not in everything, f"{plain!r} readable on the wire"
    assert all(p.startswith(b"SFCM") for p in beats), "every heartbeat is an envelope"
