"""The outside observer of the vm-lab benchmarks: when did the NAS export appear?

One observer for every product measured (bench/vm_failover.py for Standfast,
bench/vm_peer_pacemaker.py for Pacemaker), so their figures are comparable: a watcher
in the target guest (the guest's own /usr/bin/python3, started before the run) waits
on /proc/mounts with poll(), which the kernel wakes on every change of the mount
table, and stamps, with the guest's clock, the first moment the mount point is there;
the stamp is converted to the host's clock with an offset measured by round trips just
before the run.  No product's own event times go into the headline figure.  (A shell
loop forking grep every 10 ms was the first watcher: under TCG each turn took a few
hundred milliseconds, so its stamps came up to 0.4 s late, for both products.)
"""

from __future__ import annotations

import time

from standfast.lab.vmlab import VmLab

MP = "/mnt/data"

#: Stamps (guest clock) the first moment MP is in the guest's mount table: woken by the
#: kernel on each mount table change (POLLPRI/POLLERR on /proc/mounts), and every 50 ms
#: in any case; no process is started per look.
WATCH_PY = """
import os, select, sys, time
mp, out = sys.argv[1], sys.argv[2]
fd = os.open("/proc/mounts", os.O_RDONLY)
poller = select.poll()
poller.register(fd, select.POLLPRI | select.POLLERR)
def mounted():
    os.lseek(fd, 0, os.SEEK_SET)
    chunks = []
    while True:
        b = os.read(fd, 65536)
        if not b:
            break
        chunks.append(b)
    return (" " + mp + " ").encode() in b"".join(chunks)
while not mounted():
    poller.poll(50)
stamp = time.time()
with open(out + ".tmp", "w") as f:
    f.write("%.6f\\n" % stamp)
os.rename(out + ".tmp", out)
"""
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
    lab.spawn(server, ["/usr/bin/python3", "-I", "-c", WATCH_PY, MP, STAMP])


def mounted_at(lab: VmLab, server: str, offset: float, timeout: float = 30.0) -> float:
    """The watcher's stamp on the host's clock (waits up to *timeout* s for it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = lab.exec(server, ["cat", STAMP], timeout=20)
        if r.ok and r.stdout.strip():
            return float(r.stdout.strip()) - offset
        time.sleep(0.5)
    raise RuntimeError(f"{server}: the mount watcher never saw {MP}")
