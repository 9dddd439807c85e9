"""NAS failover benchmark on the vm backend: real Linux guests, kernel NFS, ganesha.

One lab of two servers for every run.  Server1 mounts the NAS export and holds a NAS
hierarchy (device + file system, optionally with the lab's writer application on
top), extended to server2.  Each run:

1. crash: SIGKILL server1's qemu; time until the hierarchy is ISP on server2
   (split into detection and takeover from server2's failover event; "observed" is
   the host polling server2's API; the event's guest-clock times are converted to the
   host's clock). "mounted" is seen from outside the product by the shared observer
   (bench/vm_observer.py): a watcher in server2's guest waits on /proc/mounts (poll) and
   stamps the moment the export appears with the guest's clock, converted to host
   time (the offset is measured by a round trip before each run; its error is printed);
2. server1 is booted again and rejoins (not timed);
3. switchover: an in-service request on server1 (the API call, as the CLI makes it),
   timed until it returns with the hierarchy in service there, and ("switchover
   mounted") by the same observer, in server1's guest, from the moment the request
   left the client there (the guest's clock: the lab's control channel and the
   client's start-up are not counted, for either product).

Prints each run, then median and spread.

``--peer pacemaker``: then the lab is brought down and up again (fresh boots, so
both products pay the same first NFSv3 mount after boot: rpc.statd, modules) and the
same number of runs is made with Pacemaker+Corosync and ``ocf:heartbeat:Filesystem``
on the same export with the same options (bench/vm_peer_pacemaker.py: crash server1,
the holder, timed until mounted on server2; server1 back; ``crm_resource --move`` to
server1, timed until mounted there), by the same observer; prints both products'
medians and the ratio pacemaker / standfast.  The Debian packages (corosync,
pacemaker, resource-agents, crmsh) are installed on the host if missing.

usage: python bench/vm_failover.py [--runs N] [--writer] [--product-defaults]
       [--peer pacemaker] [--lab-dir DIR]
(root). ``--product-defaults``: the product's heartbeat (0.3 s x 5) and tunables
instead of the lab's more patient 0.5 s x 5 for TCG guests (Pacemaker always runs
at its own defaults).
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

if __package__ in (None, ""):  # run as a script: make ``bench`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.vm_observer import MP, guest_offset, mounted_at, watch_mount
from bench.vm_peer_pacemaker import LOG_MARKS, ensure_packages, run_pacemaker
from standfast.lab.cluster_vm import VmCluster
from standfast.lab.image import DEFAULT_CACHE_DIR
from standfast.lab.vmlab import VmLab


def crash_run(cl: VmCluster, root: str) -> dict[str, float]:
    offset, error = guest_offset(cl.lab, "server2")
    watch_mount(cl.lab, "server2")
    time.sleep(1.0)  # the watcher runs
    crashed = time.time()
    cl.lab.crash("server1")
    cl.wait_state("server2", root, "ISP", 120)
    observed = time.time() - crashed
    mounted = mounted_at(cl.lab, "server2", offset) - crashed
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
    offset, _ = guest_offset(cl.lab, "server1")
    watch_mount(cl.lab, "server1")
    time.sleep(1.0)  # the watcher runs
    # Timed from the request leaving the client in the guest (its clock, ``sent_at``),
    # not from the host: the lab's control channel and the client's start are the
    # lab's, not the product's.
    reply = cl.api_reply("server1", "POST", "/v1/in-service", {"tag": root}, timeout=120)
    if reply.get("status") != 200:
        raise RuntimeError(f"in-service failed: {reply}")
    if cl.states("server1").get(root) != "ISP":
        raise RuntimeError(f"{root} not ISP on server1 after the switchover")
    sent_guest = float(reply["sent_at"])
    mounted = mounted_at(cl.lab, "server1", offset) - (sent_guest - offset)
    # The split, from server1's events (the guest's clock, as ``sent_at``): the peers
    # asked and the holder's release answered ("switchover" event), then the restore.
    after = [e for e in cl.events("server1") if float(e["ts"]) >= sent_guest]
    released = next(float(e["ts"]) for e in after if e["kind"] == "switchover")
    in_service = next(float(e["ts"]) for e in after if e["kind"] == "in_service")
    return {
        "switchover": float(reply["seconds"]),
        "switchover_mounted": mounted,
        "switchover_release": released - sent_guest,
        "switchover_restore": in_service - released,
    }


def summary(name: str, values: list[float]) -> str:
    med = statistics.median(values)
    return (
        f"{name:18s} median {med:6.2f} s   min {min(values):6.2f}   "
        f"max {max(values):6.2f}   stdev {statistics.pstdev(values):5.2f}"
    )


def run_standfast(lab: VmLab, args: argparse.Namespace) -> list[dict[str, float]]:
    """The Standfast runs in *lab* (up, two servers)."""
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
    results: list[dict[str, float]] = []
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
            f"switchover {r['switchover']:.2f} s (peers and release "
            f"{r['switchover_release']:.2f}, restore {r['switchover_restore']:.2f}; "
            f"mounted on server1 {r['switchover_mounted']:.2f}); "
            f"server1 rejoined in {rejoin:.1f} s",
            flush=True,
        )
    return results


def report(standfast: list[dict[str, float]], pacemaker: list[dict[str, float]]) -> None:
    print()
    print("standfast:")
    keys = ("mounted", "crash_total", "detection", "takeover", "mount", "observed")
    switchover = ("switchover", "switchover_release", "switchover_restore", "switchover_mounted")
    for key in (*keys, *switchover):
        print("  " + summary(key, [r[key] for r in standfast]))
    if not pacemaker:
        return
    print("pacemaker:")
    for key in ("mounted", "switchover_mounted"):
        print("  " + summary(key, [r[key] for r in pacemaker]))
    # Its own log's split of the failover (informative; the headline is the observer's).
    for key in LOG_MARKS:
        if all(key in r for r in pacemaker):
            print("  " + summary(f"log: {key}", [r[key] for r in pacemaker]))
    print()
    for key in ("mounted", "switchover_mounted"):
        name = key.replace("_", " ")
        print(f"{key} per run: standfast " + " ".join(f"{r[key]:.2f}" for r in standfast))
        print(f"{key} per run: pacemaker " + " ".join(f"{r[key]:.2f}" for r in pacemaker))
        ratio = statistics.median(r[key] for r in pacemaker) / statistics.median(
            r[key] for r in standfast
        )
        print(f"ratio (pacemaker / standfast, {name} median): {ratio:.1f}x")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--writer", action="store_true", help="an application on top")
    parser.add_argument(
        "--product-defaults",
        action="store_true",
        help="the product's heartbeat (0.3 s x 5) and tunables, not the lab's",
    )
    parser.add_argument(
        "--peer",
        choices=["pacemaker"],
        default=None,
        help="then the same runs with Pacemaker+Corosync in freshly booted guests",
    )
    parser.add_argument("--lab-dir", type=Path, default=None)
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE_DIR)
    args = parser.parse_args()
    if args.peer == "pacemaker":
        ensure_packages()  # before the Standfast runs: a missing package fails at once
    lab_dir = args.lab_dir or Path(tempfile.mkdtemp(prefix="sfbench-", dir="/run"))
    lab = VmLab(lab_dir, args.cache_dir)
    lab.setup()
    pacemaker: list[dict[str, float]] = []
    try:
        lab.up(2)
        standfast = run_standfast(lab, args)
        if args.peer == "pacemaker":
            # Fresh boots: both products start from guests that have never mounted.
            lab.down()
            lab.up(2)
            print(f"\npacemaker in freshly booted guests; {args.runs} runs", flush=True)
            pacemaker = run_pacemaker(lab, args.runs, lambda line: print(line, flush=True))
    finally:
        lab.down()
        if args.lab_dir is None:
            shutil.rmtree(lab_dir, ignore_errors=True)
    report(standfast, pacemaker)
    return 0


if __name__ == "__main__":
    sys.exit(main())
