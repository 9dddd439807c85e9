"""Self-fencing by watchdog, with real daemons: a hung holder (SIGSTOP) stops petting
its watchdog and is reset; without fencing, the peer waits the watchdog timeout plus
its margin before it takes over, so the application's ledger never shows it twice.

The build machine must never reset itself, so each server's watchdog here is a plain
file the daemon pets through the same interface, and the test plays the kernel: a
server whose file stops growing for the timeout is reset (its daemon killed).
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from standfast.lab.netns import NetCluster, dump, net_cluster
from tests.cluster.test_failover import DEFAULTS, make_app

pytestmark = [pytest.mark.root, pytest.mark.daemon]

TIMEOUT = 3  # SF_WATCHDOG_TIMEOUT
MARGIN = 1.0  # SF_WATCHDOG_MARGIN


class KernelWatchdog(threading.Thread):
    """Resets a server whose watchdog file has not been written for TIMEOUT seconds."""

    def __init__(self, c: NetCluster, devices: dict[str, Path]) -> None:
        super().__init__(daemon=True)
        self.c, self.devices = c, devices
        self.reset_at: dict[str, float] = {}
        self.done = threading.Event()

    def run(self) -> None:
        last = {s: (d.stat().st_size, time.monotonic()) for s, d in self.devices.items()}
        while not self.done.wait(0.1):
            for server, device in self.devices.items():
                if server in self.reset_at:
                    continue
                size, since = last[server]
                now = time.monotonic()
                if device.stat().st_size != size:
                    last[server] = (device.stat().st_size, now)
                elif now - since >= TIMEOUT and device.read_bytes()[-1:] != b"V":
                    self.reset_at[server] = time.time()
                    self.c.crash(server)


def test_a_hung_holder_is_reset_before_its_peer_takes_over(tmp_path: Path) -> None:
    work = tmp_path / "c"
    with net_cluster(work, count=3, tag="w", defaults=DEFAULTS) as c:
        devices = {}
        for name in c.servers:
            devices[name] = work / f"{name}.watchdog"
            devices[name].write_bytes(b"")
            c.defaults = (
                DEFAULTS
                + f"SF_WATCHDOG_DEVICE={devices[name]}\n"
                + f"SF_WATCHDOG_TIMEOUT={TIMEOUT}\nSF_WATCHDOG_MARGIN={MARGIN}\n"
            )
            c.start(name)
        kernel = KernelWatchdog(c, devices)
        kernel.start()
        try:
            time.sleep(2.5)
            make_app(c)
            assert "190503" in c.servers["server1"].log_file.read_text()
            hung_at = time.time()
            c.hang("server1")
            c.wait_for("app", "server2", timeout=30)
            reset = kernel.reset_at["server1"]
            assert reset - hung_at >= TIMEOUT - 0.5
            assert c.overlaps("app", ignore={"server1": reset}) == [], dump(c)
            starts = [
                float(line.split()[0])
                for line in c.ledger.read_text().splitlines()
                if line.split()[1:] == ["server2", "app", "start"]
            ]
            assert starts and starts[0] > reset, (starts, reset)
            events = json.loads(c.cli("server2", "events", "--json").stdout)
            failover = [e for e in events if e["kind"] == "failover" and e["tag"] == "app"]
            assert failover and failover[-1]["data"]["from"] == "server1"
        finally:
            kernel.done.set()
        # A clean stop disarms: the magic close is the last thing written.
        c.stop("server3")
        assert devices["server3"].read_bytes()[-1:] == b"V"
