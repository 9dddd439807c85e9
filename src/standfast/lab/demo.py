"""``standfast lab demo``: a NAS failover on real Linux servers, narrated.

Two qemu guests (server1, server2) and an nfs-ganesha NAS; server1 mounts the export
at /mnt/data by IP address (``vers=3,hard,intr``) with an /etc/fstab line, as an
administrator would; Standfast puts it under protection (``resource create --kit nas
--id /mnt/data``: the NAS device and file system resources, the fstab line removed),
a writer application goes on top (one timestamped line every 0.2 s into a file on
the NAS), the hierarchy is extended to server2, and server1 is crashed (its qemu is
SIGKILLed).  Server2 detects the failure, mounts the export and starts the writer;
the demo prints the failover's timeline from server2's events, relative to the
crash, and checks in the writer's file (read on the NAS, outside the cluster) that
server1 wrote before the crash, server2 after, and never both at once.

The lab stays up for exploring; ``standfast lab down`` removes it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from standfast.lab.cluster_vm import ClusterError, VmCluster, writer_overlaps, writer_runs
from standfast.lab.image import DEFAULT_CACHE_DIR
from standfast.lab.state import DEFAULT_LAB_DIR
from standfast.lab.vmlab import VmLab

MOUNT_POINT = "/mnt/data"
WRITER_TAG = "writer"
WRITER_FILE = "writer.log"


@dataclass
class TimelineRow:
    at: float  # seconds after the crash
    what: str


@dataclass
class DemoResult:
    filesys_tag: str
    device_tag: str
    crash_at: float
    in_service_seconds: float
    timeline: list[TimelineRow] = field(default_factory=list)
    server1_lines_before: int = 0
    server2_lines_after: int = 0
    overlaps: list[str] = field(default_factory=list)


def failover_event(events: list[dict[str, Any]], tag: str, since: float) -> dict[str, Any]:
    """The newest ``failover`` event of *tag* at or after *since* (wall clock)."""
    found = [
        e
        for e in events
        if e.get("kind") == "failover" and e.get("tag") == tag and float(e.get("ts", 0)) >= since
    ]
    if not found:
        raise ClusterError(f"no failover event for {tag} since the crash")
    return found[-1]


def timeline(event: dict[str, Any], crash_at: float, kits: dict[str, str]) -> list[TimelineRow]:
    """The failover event's moments relative to *crash_at*.  *kits*: tag -> kit."""
    data = event.get("data", {})
    rows = [TimelineRow(0.0, "server1 crashed (qemu SIGKILLed)")]
    if "detected_at" in data:
        rows.append(
            TimelineRow(
                float(data["detected_at"]) - crash_at,
                f"detection: server2 declares {data.get('from', '?')} failed "
                "(every comm path dead)",
            )
        )
    if "decision_at" in data:
        rows.append(
            TimelineRow(
                float(data["decision_at"]) - crash_at,
                f"decision: {event.get('tag')} fails over to {data.get('to', '?')}",
            )
        )
    names = {
        "nas": "NAS device check",
        "filesys": "mount (filesys restore)",
        "app": "application up",
    }
    for step in data.get("steps", []):
        kind = names.get(kits.get(str(step.get("tag")), str(step.get("kit"))), "restore")
        rows.append(TimelineRow(float(step["began"]) - crash_at, f"{kind}: {step['tag']} begins"))
        rows.append(TimelineRow(float(step["ended"]) - crash_at, f"{kind}: {step['tag']} done"))
    rows.append(
        TimelineRow(float(event["ts"]) - crash_at, f"{event.get('tag')} in service on server2")
    )
    return sorted(rows, key=lambda r: r.at)


def run_demo(
    lab_dir: Path = DEFAULT_LAB_DIR,
    cache_dir: Path = DEFAULT_CACHE_DIR,
    *,
    say: Callable[[str], None] = print,
    install: bool = True,
) -> DemoResult:
    """Run the demo (see the module docstring); the lab stays up afterwards."""
    t_start = time.monotonic()

    def step(text: str) -> None:
        say(f"[{time.monotonic() - t_start:6.1f} s] {text}")

    lab = VmLab(lab_dir, cache_dir)
    step("lab setup (packages, guest kernel and initramfs; cached after the first run)")
    lab.setup(install=install)
    step("starting the NAS (nfs-ganesha) and two servers under qemu")
    info = lab.up(2)
    step(f"servers booted in {max(info.boot_seconds.values()):.1f} s; forming the cluster")
    cluster = VmCluster(lab)
    formed = cluster.form()
    step(f"cluster formed in {formed:.1f} s (server1 and server2 see each other)")
    source = cluster.mount_nas("server1", MOUNT_POINT)
    step(f"server1: mounted {source} on {MOUNT_POINT} (vers=3,hard,intr) + /etc/fstab line")
    fs_tag, body = cluster.create_nas_hierarchy("server1", MOUNT_POINT)
    for line in body.get("transcript", []):
        say(f"           | {line}")
    for notice in body.get("notices", []):
        say(f"           | {notice.get('code')}: {notice.get('message')}")
    states = cluster.states("server1")
    device_tag = next(t for t in states if t.startswith("device-nas"))
    step(f"NAS hierarchy {fs_tag} -> {device_tag} in service on server1")
    cluster.create_writer("server1", WRITER_TAG, f"{MOUNT_POINT}/{WRITER_FILE}", fs_tag)
    step(f"application {WRITER_TAG!r} (appends to {MOUNT_POINT}/{WRITER_FILE} every 0.2 s)")
    # Extend needs the whole hierarchy in service; on a loaded machine a slow check of
    # the mount can hold it ISU or recovering for a moment after the create.
    for tag in (WRITER_TAG, fs_tag, device_tag):
        cluster.wait_state("server1", tag, "ISP", 60)
    cluster.cli_ok("server1", "resource", "extend", WRITER_TAG, "--target", "server2")
    cluster.wait_state("server2", WRITER_TAG, "OSU", 60)
    step("hierarchy extended to server2 (nothing mounted there)")
    time.sleep(2.0)
    crash_at = time.time()
    lab.crash("server1")
    step("server1 CRASHED (power cut); waiting for server2 to take over")
    cluster.wait_state("server2", WRITER_TAG, "ISP", 120)
    in_service = time.time() - crash_at
    step(f"{WRITER_TAG} in service on server2, {in_service:.1f} s after the crash")
    kits = _kits(cluster, "server2")
    event = failover_event(cluster.events("server2"), WRITER_TAG, crash_at - 1.0)
    rows = timeline(event, crash_at, kits)
    say("")
    say("Failover timeline (seconds after the crash, from server2's `standfast events`):")
    for row in rows:
        say(f"  {row.at:+7.2f}  {row.what}")
    # Let server2's writer write a little, then read the file on the NAS itself.
    time.sleep(2.0)
    lines = cluster.writer_lines(WRITER_FILE)
    before = [x for x in lines if x.server == "server1" and x.ts <= crash_at]
    after = [x for x in lines if x.server == "server2" and x.ts >= crash_at]
    runs = writer_runs(lines)
    overlaps = writer_overlaps(lines)
    say("")
    say(f"The writer's file on the NAS ({cluster.nas_host_path(WRITER_FILE)}):")
    for run in runs:
        say(
            f"  {run.server}: {run.lines} lines, {run.first - crash_at:+.2f} s .. "
            f"{run.last - crash_at:+.2f} s"
        )
    if before and after:
        say(
            f"  last write by server1 {before[-1].ts - crash_at:+.2f} s, first by server2 "
            f"{after[0].ts - crash_at:+.2f} s: gap {after[0].ts - before[-1].ts:.2f} s"
        )
    ok = bool(before) and bool(after) and not overlaps
    say(
        "  check: "
        + (
            "OK (server1 before the crash, server2 after, never both)"
            if ok
            else f"FAILED: {len(before)} lines before, {len(after)} after, overlaps {overlaps}"
        )
    )
    say("")
    say("The lab is still running. Explore it:")
    say("  standfast lab status")
    say("  standfast lab exec server2 -- standfast status")
    say("  standfast lab exec server2 -- standfast events")
    say(f"  standfast lab exec server2 -- tail -n 3 {MOUNT_POINT}/{WRITER_FILE}")
    say("  standfast lab exec server2 -- tail /var/log/standfast/standfast.log")
    say("  standfast lab restart server1      # boot it again; its daemon rejoins")
    say("Tear it down:  standfast lab down")
    result = DemoResult(
        fs_tag,
        device_tag,
        crash_at,
        in_service,
        rows,
        len(before),
        len(after),
        overlaps,
    )
    if not ok:
        raise ClusterError("the writer's file does not show a clean failover")
    return result


def _kits(cluster: VmCluster, server: str) -> dict[str, str]:
    out: dict[str, str] = {}

    def walk(node: dict[str, Any]) -> None:
        out[str(node["tag"])] = str(node["kit"])
        for child in node.get("children", []):
            walk(child)

    for root in cluster.status(server).get("hierarchies", []):
        walk(root)
    return out


__all__ = ["DemoResult", "TimelineRow", "failover_event", "run_demo", "timeline"]
