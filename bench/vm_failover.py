"""NAS failover benchmark on the vm backend: real Linux guests, kernel NFS, ganesha.

One lab of two servers for every run.  Server1 mounts the NAS export and holds a NAS
hierarchy (device + file system, optionally with the lab's writer application on
top), extended to server2.  Each run:

1. crash: SIGKILL server1's qemu; time until the hierarchy is ISP on server2
   (split into detection and takeover from server2's failover event; "observed" is
   the host polling server2's API; the event's guest-clock times are converted to the
   host's clock). "mounted" is seen from outside the product: a
   shell loop in server2's guest watches /proc/mounts and stamps the moment the
   export appears with the guest's clock, converted to host time (the offset is
   measured by a round trip before each run; its error is printed);
2. server1 is booted again and rejoins (not timed);
3. switchover: an in-service request on server1 (the API call, as the CLI makes it),
   timed until it returns with the hierarchy in service there.

Prints each run, then median and spread.

usage: python bench/vm_failover.py [--runs N] [--writer] [--product-defaults] [--lab-dir DIR]
(root). ``--product-defaults``: the product's heartbeat (0.3 s x 5) and tunables
instead of the lab's more patient 0.5 s x 5 for TCG guests.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from standfast.lab.cluster_vm import VmCluster
from standfast.lab.image import DEFAULT_CACHE_DIR
from standfast.lab.vmlab import VmLab

MP = "/mnt/data"


#: Stamps (guest clock) the first moment MP is in the guest's mount table.
WATCH = (
    "while ! grep -qs ' {mp} ' /proc/mounts; do sleep 0.01; done; "
    "date +%s.%N > {out}.tmp && mv {out}.tmp {out}"
)
STAMP = "/run/sf-bench-mounted"


def guest_offset(cl: VmCluster, server: str) -> tuple[float, float]:
    """(guest clock - host clock, error bound) from the best of three round trips."""
    best: tuple[float, float] | None = None
    for _ in range(3):
        t0 = time.time()
        r = cl.lab.exec(server, ["date", "+%s.%N"], timeout=20)
        t1 = time.time()
        if not r.ok:
            raise RuntimeError(f"{server}: date: {r.stderr}")
        sample = (float(r.stdout.strip()) - (t0 + t1) / 2, (t1 - t0) / 2)
        if best is None or sample[1] < best[1]:
            best = sample
    assert best is not None
    return best


def watch_mount(cl: VmCluster, server: str) -> None:
    cl.lab.exec(server, ["rm", "-f", STAMP], timeout=20)
    cl.lab.spawn(server, ["sh", "-c", WATCH.format(mp=MP, out=STAMP)])


def mounted_at(cl: VmCluster, server: str, offset: float) -> float:
    """The watcher's stamp on the host's clock."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        r = cl.lab.exec(server, ["cat", STAMP], timeout=20)
        if r.ok and r.stdout.strip():
            return float(r.stdout.strip()) - offset
        time.sleep(0.5)
    raise RuntimeError(f"{server}: the mount watcher never saw {MP}")


def crash_run(cl: VmCluster, root: str) -> dict[str, float]:
    offset, error = guest_offset(cl, "server2")
    watch_mount(cl, "server2")
    time.sleep(1.0)  # the watcher runs
    crashed = time.time()
    cl.lab.crash("server1")
    cl.wait_state("server2", root, "ISP", 120)
    observed = time.time() - crashed
    mounted = mounted_at(cl, "server2", offset) - crashed
    events: list[dict[str, Any]] = cl.events("server2")
    failover = [
        e for e in events if e["kind"] == "failover" and e["tag"] == root and e["ts"] >= crashed
    ][-1]
    data = failover["data"]
    # The event's times are the guest's clock: on the host's, like ``crashed``.
    detected = float(data["detected_at"]) - offset
    isp_at = float(data["steps"][-1]["ended"]) - offset
    mount = next(s for s in data["steps"] if s["kit"] == "filesys")
    return {
        "crash_total": isp_at - crashed,
        "detection": detected - crashed,
        "takeover": isp_at - detected,
        "mount": float(mount["ended"]) - float(mount["began"]),
        "observed": observed,
        "mounted": mounted,
        "clock_offset": offset,
        "clock_error": error,
    }


def switchover_run(cl: VmCluster, root: str) -> dict[str, float]:
    # The API round trip alone (helper start-up in the guest), to subtract.
    t0 = time.monotonic()
    cl.status("server1")
    overhead = time.monotonic() - t0
    t0 = time.monotonic()
    code, body = cl.api("server1", "POST", "/v1/in-service", {"tag": root}, timeout=120)
    took = time.monotonic() - t0
    if code != 200:
        raise RuntimeError(f"in-service failed: {code} {body}")
    if cl.states("server1").get(root) != "ISP":
        raise RuntimeError(f"{root} not ISP on server1 after the switchover")
    return {"switchover": took - overhead, "switchover_raw": took}


def summary(name: str, values: list[float]) -> str:
    med = statistics.median(values)
    return (
        f"{name:15s} median {med:6.2f} s   min {min(values):6.2f}   "
        f"max {max(values):6.2f}   stdev {statistics.pstdev(values):5.2f}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--writer", action="store_true", help="an application on top")
    parser.add_argument(
        "--product-defaults",
        action="store_true",
        help="the product's heartbeat (0.3 s x 5) and tunables, not the lab's",
    )
    parser.add_argument("--lab-dir", type=Path, default=None)
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE_DIR)
    args = parser.parse_args()
    lab_dir = args.lab_dir or Path(tempfile.mkdtemp(prefix="sfbench-", dir="/run"))
    lab = VmLab(lab_dir, args.cache_dir)
    lab.setup()
    results: list[dict[str, float]] = []
    try:
        lab.up(2)
        if args.product_defaults:
            cl = VmCluster(lab, defaults={}, interval=0.3, miss_count=5)
        else:
            cl = VmCluster(lab)
        tunables = cl.defaults or "the defaults"
        print(f"heartbeat {cl.interval:g} s x {cl.miss_count}; tunables {tunables}")
        cl.form()
        cl.mount_nas("server1", MP)
        root, _ = cl.create_nas_hierarchy("server1", MP)
        if args.writer:
            cl.create_writer("server1", "writer", f"{MP}/writer.log", root)
            root = "writer"
        cl.cli_ok("server1", "resource", "extend", root, "--target", "server2")
        cl.wait_state("server2", root, "OSU", 60)
        print(f"hierarchy {root} on server1, extended to server2; {args.runs} runs")
        for run in range(1, args.runs + 1):
            time.sleep(2.0)  # every server has published its states
            r = crash_run(cl, root)
            rejoin = cl.restart_server("server1")
            cl.wait_state("server1", root, "OSU", 60)
            r.update(switchover_run(cl, root))
            results.append(r)
            print(
                f"run {run}: crash -> ISP {r['crash_total']:.2f} s (detection "
                f"{r['detection']:.2f}, takeover {r['takeover']:.2f}, mount {r['mount']:.2f}, "
                f"observed {r['observed']:.2f}); mounted on server2 {r['mounted']:.2f} s "
                f"after the cut, seen in the guest (its clock {r['clock_offset']:+.2f} s "
                f"+/- {r['clock_error']:.2f} off the host's); "
                f"switchover {r['switchover']:.2f} s "
                f"(raw {r['switchover_raw']:.2f}); server1 rejoined in {rejoin:.1f} s",
                flush=True,
            )
    finally:
        lab.down()
        if args.lab_dir is None:
            shutil.rmtree(lab_dir, ignore_errors=True)
    print()
    keys = ("mounted", "crash_total", "detection", "takeover", "mount", "observed", "switchover")
    for key in keys:
        print(summary(key, [r[key] for r in results]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
