"""NAS failover benchmark on the vm backend: real Linux guests, kernel NFS, ganesha.

One lab of two servers for every run.  Server1 mounts the NAS export and holds a NAS
hierarchy (device + file system, optionally with the lab's writer application on
top), extended to server2.  Each run:

1. crash: SIGKILL server1's qemu; time until the hierarchy is ISP on server2
   (split into detection and takeover from server2's failover event; "observed" is
   the host polling server2's API);
2. server1 is booted again and rejoins (not timed);
3. switchover: an in-service request on server1 (the API call, as the CLI makes it),
   timed until it returns with the hierarchy in service there.

Prints each run, then median and spread.

usage: python bench/vm_failover.py [--runs N] [--writer] [--lab-dir DIR]   (root)
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


def crash_run(cl: VmCluster, root: str) -> dict[str, float]:
    crashed = time.time()
    cl.lab.crash("server1")
    cl.wait_state("server2", root, "ISP", 120)
    observed = time.time() - crashed
    events: list[dict[str, Any]] = cl.events("server2")
    failover = [
        e for e in events if e["kind"] == "failover" and e["tag"] == root and e["ts"] >= crashed
    ][-1]
    data = failover["data"]
    detected = float(data["detected_at"])
    isp_at = float(data["steps"][-1]["ended"])
    mount = next(s for s in data["steps"] if s["kit"] == "filesys")
    return {
        "crash_total": isp_at - crashed,
        "detection": detected - crashed,
        "takeover": isp_at - detected,
        "mount": float(mount["ended"]) - float(mount["began"]),
        "observed": observed,
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
    parser.add_argument("--lab-dir", type=Path, default=None)
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE_DIR)
    args = parser.parse_args()
    lab_dir = args.lab_dir or Path(tempfile.mkdtemp(prefix="sfbench-", dir="/run"))
    lab = VmLab(lab_dir, args.cache_dir)
    lab.setup()
    results: list[dict[str, float]] = []
    try:
        lab.up(2)
        cl = VmCluster(lab)
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
                f"observed {r['observed']:.2f}); switchover {r['switchover']:.2f} s "
                f"(raw {r['switchover_raw']:.2f}); server1 rejoined in {rejoin:.1f} s",
                flush=True,
            )
    finally:
        lab.down()
        if args.lab_dir is None:
            shutil.rmtree(lab_dir, ignore_errors=True)
    print()
    for key in ("crash_total", "detection", "takeover", "mount", "observed", "switchover"):
        print(summary(key, [r[key] for r in results]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
