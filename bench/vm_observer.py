"""The outside observer of the vm-lab benchmarks: when did the NAS export appear?

One observer for every product measured (bench/vm_failover.py for Standfast,
bench/vm_peer_pacemaker.py for Pacemaker), so their figures are comparable: a shell
loop in the target guest polls /proc/mounts every 10 ms and stamps, with the guest's
clock, the first moment the mount point is there; the stamp is converted to the host's
clock with an offset measured by round trips just before the run.  No product's own
event times go into the headline figure.
"""

from __future__ import annotations

import time

from standfast.lab.vmlab import VmLab

MP = "/mnt/data"

#: Stamps (guest clock) the first moment MP is in the guest's mount table.
WATCH = (
    "while ! grep -qs ' {mp} ' /proc/mounts; do sleep 0.01; done; "
    "date +%s.%N > {out}.tmp && mv {out}.tmp {out}"
)
STAMP = "/run/sf-bench-mounted"


def guest_offset(lab: VmLab, server: str) -> tuple[float, float]:
    """(guest clock - host clock, error bound) from the best of three round trips."""
    best: tuple[float, float] | None = None
    for _ in range(3):
        t0 = time.time()
        r = lab.exec(server, ["date", "+%s.%N"], timeout=20)
        t1 = time.time()
        if not r.ok:
            raise RuntimeError(f"{server}: date: {r.stderr}")
        sample = (float(r.stdout.strip()) - (t0 + t1) / 2, (t1 - t0) / 2)
        if best is None or sample[1] < best[1]:
            best = sample
    assert best is not None
    return best


def watch_mount(lab: VmLab, server: str) -> None:
    """Start the watcher in *server* (MP must not be mounted there yet)."""
    lab.exec(server, ["rm", "-f", STAMP], timeout=20)
    lab.spawn(server, ["sh", "-c", WATCH.format(mp=MP, out=STAMP)])


def mounted_at(lab: VmLab, server: str, offset: float, timeout: float = 30.0) -> float:
    """The watcher's stamp on the host's clock (waits up to *timeout* s for it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = lab.exec(server, ["cat", STAMP], timeout=20)
        if r.ok and r.stdout.strip():
            return float(r.stdout.strip()) - offset
        time.sleep(0.5)
    raise RuntimeError(f"{server}: the mount watcher never saw {MP}")
