"""etcd arbitration benchmark: crash of the holder -> in service on the survivor, two
real Standfast servers (netns backend), with ``"quorum": "etcd"`` on a real
three-member etcd (TLS), and in the same run with the built-in TCP witness.

The observer is the application's own ledger (its start line on the survivor) against
the time of the SIGKILL, never the product's events. Prints each run, the medians and
their ratio.

usage: python bench/etcd_failover.py [--runs N] [--ttl S]   (root; default tunables)
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from standfast.lab.etcd_lab import EtcdLab
from standfast.lab.netns import NetCluster, net_cluster

DEFAULTS = "SF_QUICKCHECK_INTERVAL=0.5\n"


@contextmanager
def cluster(workdir: Path, tag: str, mode: str, ttl: int) -> Iterator[NetCluster]:
    prefix = f"sfc{tag}"
    lab = EtcdLab(workdir / "etcd", prefix, f"{prefix}br1") if mode == "etcd" else None
    extra: dict[str, Any]
    if lab is not None:
        extra = {"etcd": lab.settings(ttl=ttl, timeout=min(0.5, ttl / 8))}
    else:
        extra = {"witness": {"host": "10.249.1.1", "port": 7802, "timeout": 1.0}}
    quorum = "etcd" if lab is not None else "tcp_witness"
    with net_cluster(
        workdir, count=2, tag=tag, defaults=DEFAULTS, quorum=quorum, definition_extra=extra
    ) as c:
        try:
            if lab is not None:
                lab.up()
            else:
                c.start_witness(grant_ttl=3.0)
            yield c
        finally:
            if lab is not None:
                lab.down()


def one_run(workdir: Path, tag: str, mode: str, ttl: int) -> float:
    with cluster(workdir, tag, mode, ttl) as c:
        c.start_all()
        time.sleep(c.settle_seconds() + 0.5)
        c.cli("server1", "resource", "create", "--kit", "app", "--tag", "app", *c.app_props("app"))
        c.cli("server1", "resource", "extend", "app", "--target", "server2")
        time.sleep(1.5)  # every server has published its states; the lease renewed
        crashed = time.time()
        c.crash("server1")
        c.wait_for("app", "server2", timeout=ttl + 30)
        for line in c.ledger.read_text().splitlines():
            ts, server, app, action = line.split()
            if (server, app, action) == ("server2", "app", "start"):
                return float(ts) - crashed
        raise AssertionError("no start on server2 in the ledger")


def summary(name: str, values: list[float]) -> str:
    return (
        f"{name:12s} median {statistics.median(values):6.3f} s   min {min(values):6.3f}   "
        f"max {max(values):6.3f}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--ttl", type=int, default=3, help="etcd lease ttl (seconds)")
    args = parser.parse_args()
    figures: dict[str, list[float]] = {"etcd": [], "tcp_witness": []}
    with tempfile.TemporaryDirectory(prefix="sf-bench-etcd-") as tmp:
        for run in range(args.runs):
            for mode in figures:
                tag = f"x{run % 10}{mode[0]}"
                seconds = one_run(Path(tmp) / f"{mode}{run}", tag, mode, args.ttl)
                figures[mode].append(seconds)
                print(f"run {run + 1} {mode:12s} crash -> in service on server2 {seconds:6.3f} s")
    print(f"etcd lease ttl {args.ttl} s, {args.runs} runs each; observer: the application's ledger")
    for mode, values in figures.items():
        print(summary(mode, values))
    ratio = statistics.median(figures["etcd"]) / statistics.median(figures["tcp_witness"])
    print(f"etcd / built-in tcp_witness: {ratio:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
