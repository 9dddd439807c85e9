"""Idle benchmark: what a lone daemon with N app resources costs at rest.

Starts a real daemon in a private directory, creates N ``app`` resources through its
local API (restore/remove ``/bin/true``, quick check ``/bin/true``, as in the issue's
measurement), waits for them to settle, then reads the kernel's accounting of the
daemon (``/proc/PID/stat``: its own threads, and the check commands it waited for)
over the measuring window, and its resident memory (``VmRSS``) at the end.

Prints the share of one core (daemon, its check children, both) and the RSS; the goal
(issue 12) is at most 1 % of a core and 60 MB with 100 resources.

usage: python bench/idle.py [--resources N] [--seconds S] [--interval I]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> tuple[float, float]:
    """(own user+system, waited-for children's user+system) of ``pid``, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    utime, stime, cutime, cstime = (int(x) for x in fields[11:15])
    return (utime + stime) / TICKS, (cutime + cstime) / TICKS


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def start(home: Path, interval: float | None) -> subprocess.Popen[bytes]:
    """The daemon, at its default tunables unless ``interval`` (SF_QUICKCHECK_INTERVAL)."""
    (home / "defaults").write_text(f"SF_QUICKCHECK_INTERVAL={interval:g}\n" if interval else "")
    (home / "fstab").write_text("")
    env = dict(os.environ)
    env.update(
        STANDFAST_HOME=str(home),
        STANDFAST_SERVER="server1",
        STANDFAST_FSTAB=str(home / "fstab"),
        STANDFAST_REMOTE_LISTEN="off",
        LANG="C.UTF-8",
    )
    env.pop("STANDFAST_DEFAULTS", None)
    out = (home / "daemon.out").open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "standfast", "daemon"], env=env, stdout=out, stderr=out
    )


def client(home: Path) -> httpx.Client:
    transport = httpx.HTTPTransport(uds=str(home / "run" / "standfast.sock"))
    return httpx.Client(transport=transport, base_url="http://sf", timeout=60)


def wait_answering(home: Path, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"daemon exited: {(home / 'daemon.out').read_text()[-2000:]}")
        try:
            with client(home) as c:
                if c.get("/v1/status").status_code == 200:
                    return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise SystemExit("daemon did not answer")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--resources", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument(
        "--interval", type=float, default=0.0, help="SF_QUICKCHECK_INTERVAL (0: default)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sf-idle-") as tmp:
        home = Path(tmp) / "sf"
        home.mkdir()
        proc = start(home, args.interval or None)
        try:
            wait_answering(home, proc)
            with client(home) as c:
                for i in range(args.resources):
                    props = {
                        "restore": "/bin/true",
                        "remove": "/bin/true",
                        "quick_check": "/bin/true",
                    }
                    r = c.post(
                        "/v1/resources", json={"kit": "app", "tag": f"app{i:03d}", "props": props}
                    )
                    if r.status_code != 200:
                        raise SystemExit(f"create app{i:03d}: {r.status_code} {r.text[:300]}")
            time.sleep(10.0)  # every resource in service, its checks on their schedule
            own0, kids0 = cpu_seconds(proc.pid)
            t0 = time.monotonic()
            time.sleep(args.seconds)
            own1, kids1 = cpu_seconds(proc.pid)
            elapsed = time.monotonic() - t0
            rss = rss_mb(proc.pid)
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
    own, kids = (own1 - own0) / elapsed * 100, (kids1 - kids0) / elapsed * 100
    print(f"idle daemon, {args.resources} app resources, {elapsed:.0f} s at rest:")
    print(f"  CPU {own + kids:5.2f} % of a core (daemon {own:.2f} %, check commands {kids:.2f} %)")
    print(f"  RSS {rss:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
