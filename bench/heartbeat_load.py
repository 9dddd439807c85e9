"""Heartbeats under load: three real Standfast servers (netns backend) at the product's
default heartbeat (0.3 s x 5), one app hierarchy, while the machine is kept busy:
CPU hogs (two per core, normal class), an application writing hard (write + fsync),
CLI calls to every server and a Python import storm, all outside the daemons. Counts
false detections from the daemons' own logs: a comm path declared DEAD (191005) or a
server declared failed (191007) while nothing failed. Prints the count per server and
in all, and the hierarchy's holder at the end (it must not have moved).

usage: python bench/heartbeat_load.py [--seconds 600] [--realtime-priority 10]
       (root; --realtime-priority 0 runs the daemons without their real-time claim,
       to compare)
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from standfast.lab.netns import NetCluster, net_cluster

#: Log codes that mean a peer or path was declared lost.
FALSE_DETECTIONS = ("191005", "191007")
WRITER = (
    "import os, sys\n"
    "fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)\n"
    "block = os.urandom(1 << 20)\n"
    "while True:\n"
    "    for _ in range(16):\n"
    "        os.write(fd, block)\n"
    "    os.fsync(fd)\n"
    "    os.lseek(fd, 0, os.SEEK_SET)\n"
)
IMPORTS = "import standfast.cli.main, standfast.api.app, standfast.engine.engine"


@contextmanager
def load(c: NetCluster, workdir: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    """The load, running until the block ends; every process started here is stopped
    by its PID afterwards."""
    procs: list[subprocess.Popen[bytes]] = []
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    try:
        for _ in range(2 * (os.cpu_count() or 1)):
            procs.append(subprocess.Popen([sys.executable, "-c", "while True: pass"], **quiet))
        target = workdir / "writer.data"
        procs.append(subprocess.Popen([sys.executable, "-c", WRITER, str(target)], **quiet))
        storm = (
            "import subprocess, sys\n"
            f"while True: subprocess.run([sys.executable, '-c', {IMPORTS!r}])"
        )
        procs.append(subprocess.Popen([sys.executable, "-c", storm], **quiet))
        yield procs
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
            p.wait(10)


def false_detections(c: NetCluster) -> dict[str, int]:
    out = {}
    for name, srv in c.servers.items():
        text = srv.log_file.read_text(errors="replace")
        out[name] = sum(text.count(f"{code}:") for code in FALSE_DETECTIONS)
    return out


def run(workdir: Path, seconds: float, priority: int, tag: str = "hl") -> dict[str, object]:
    """One loaded period; the counts, the CLI calls made and the holder before/after."""
    defaults = f"SF_REALTIME_PRIORITY={priority}\n"
    with net_cluster(workdir, count=3, tag=tag, defaults=defaults) as c:
        c.start_all()
        time.sleep(c.settle_seconds())
        c.cli("server1", "resource", "create", "--kit", "app", "--tag", "app", *c.app_props("app"))
        for target in ("server2", "server3"):
            c.cli("server1", "resource", "extend", "app", "--target", target)
        time.sleep(1.0)
        before = false_detections(c)
        holder_before = c.where("app")
        calls = 0
        with load(c, workdir):
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                for server in c.servers:
                    c.cli(server, "status", "--json", check=False, timeout=60)
                    calls += 1
        time.sleep(0.5)
        after = false_detections(c)
        return {
            "false": {s: after[s] - before[s] for s in after},
            "calls": calls,
            "holder_before": holder_before,
            "holder_after": c.where("app"),
            "alive": sorted(
                n
                for n, s in c.api("server1", "GET", "/v1/status")["cluster"]["servers"].items()
                if s["alive"]
            ),
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=600.0)
    parser.add_argument("--realtime-priority", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sf-hbload-") as tmp:
        r = run(Path(tmp), args.seconds, args.realtime_priority)
    false = r["false"]
    assert isinstance(false, dict)
    print(
        f"heartbeat 0.3 s x 5, SF_REALTIME_PRIORITY={args.realtime_priority}, "
        f"{args.seconds:.0f} s under load ({2 * (os.cpu_count() or 1)} CPU hogs, a writer, "
        f"an import storm, {r['calls']} CLI calls):"
    )
    print(f"  false detections: {sum(false.values())} ({false})")
    print(f"  holder before {r['holder_before']}, after {r['holder_after']}; alive {r['alive']}")
    return 0 if sum(false.values()) == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
