"""A NAS device resource against a real nfs-ganesha on loopback, hung on purpose.

The mount itself needs a kernel NFS client (the lab's guests); what runs here is
everything at the NFS protocol level: export access at restore, the NULL-call
quick check, and a SIGSTOPped NAS that must be detected within the deadline while
the daemon keeps answering.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from standfast.cli.status_exit import DEGRADED, FAILED, OK
from standfast.lab.nas import NasServer
from tests.support.daemon import Daemon

ANSWERED = (OK, DEGRADED, FAILED)

pytestmark = [pytest.mark.daemon, pytest.mark.nfs]

DEFAULTS = "SF_QUICKCHECK_INTERVAL=0.5\nSF_NFS_RPC_TIMEOUT=2\nSF_DEEPCHECK_INTERVAL=3600\n"


@pytest.fixture
def nas_daemon(tmp_path: Path, nas: NasServer) -> Iterator[Daemon]:
    d = Daemon(tmp_path / "sf", defaults=DEFAULTS).start()
    yield d
    d.stop()
    nas.resume()  # never leave the shared NAS stopped for the next test


def test_hung_nas_detected_within_deadline_daemon_responsive(
    nas_daemon: Daemon, nas: NasServer, open_export: str
) -> None:
    d = nas_daemon
    r = d.cli(
        "resource",
        "create",
        "--kit",
        "nas",
        "--id",
        f"127.0.0.1:{open_export}",
        "--tag",
        "nas-open",
    )
    assert r.returncode == 0, r.stderr
    assert d.states() == {"nas-open": "ISP"}

    nas.pause()
    hung_at = time.monotonic()
    slowest = 0.0
    while time.monotonic() - hung_at < 15:
        t0 = time.monotonic()
        r = d.cli("status", "--json", timeout=10)
        slowest = max(slowest, time.monotonic() - t0)
        # It answered: 0, or 3/4 once the NAS is ISU/OSF (docs/monitoring.md).
        assert r.returncode in ANSWERED, r.stderr
        if d.states()["nas-open"] == "OSF":
            break
    detected = time.monotonic() - hung_at
    # quick check every 0.5 s, each NULL call bounded by SF_NFS_RPC_TIMEOUT=2 s
    assert d.states()["nas-open"] == "OSF", d.states()
    assert detected < 0.5 + 2 + 2.5, detected
    assert slowest < 3.0, slowest  # a CLI process start included; the API never waited
    log = d.log_file.read_text()
    assert "190407" in log and "190411" in log

    nas.resume()
    r = d.cli("resource", "in-service", "nas-open")
    assert r.returncode == 0, r.stderr
    assert d.states()["nas-open"] == "ISP"


def test_lknaserror_halt_runs_the_halt_command(
    tmp_path: Path, nas: NasServer, open_export: str
) -> None:
    marker = tmp_path / "halted"
    d = Daemon(
        tmp_path / "sf",
        defaults=DEFAULTS + f"LKNASERROR=halt\nSF_HALT_COMMAND='/usr/bin/touch {marker}'\n",
    ).start()
    try:
        assert (
            d.cli(
                "resource",
                "create",
                "--kit",
                "nas",
                "--id",
                f"127.0.0.1:{open_export}",
                "--tag",
                "nas-h",
            ).returncode
            == 0
        )
        nas.pause()
        t0 = time.monotonic()
        while time.monotonic() - t0 < 10 and not marker.exists():
            time.sleep(0.05)
        assert marker.exists(), d.log_file.read_text()[-2000:]
        assert time.monotonic() - t0 < 5
        assert "190410" in d.log_file.read_text()
    finally:
        nas.resume()
        d.stop()


def test_export_not_allowed_refuses_creation(nas_daemon: Daemon, restricted_export: str) -> None:
    r = nas_daemon.cli(
        "resource",
        "create",
        "--kit",
        "nas",
        "--id",
        f"127.0.0.1:{restricted_export}",
        "--tag",
        "nas-r",
    )
    assert r.returncode != 0
    assert "107012" in r.stderr and r.stderr.strip().splitlines()[-1].startswith("000024:")
    assert nas_daemon.states() == {}


@pytest.mark.parametrize("bad", ["nas.example:/x", "127.0.0.1:relative", "nocolon"])
def test_bad_device_ids(nas_daemon: Daemon, bad: str) -> None:
    r = nas_daemon.cli("resource", "create", "--kit", "nas", "--id", bad)
    assert r.returncode != 0 and r.stderr.startswith("107004:"), r.stderr
