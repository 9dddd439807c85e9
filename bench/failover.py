"""Failover benchmark: three real Standfast servers (netns backend), one app hierarchy;
SIGKILL the primary's daemon and time until the hierarchy is ISP on the backup.

Prints each run, then the median and spread, split into detection (crash -> the
backup declares the primary failed) and takeover (declared failed -> ISP).

usage: python bench/failover.py [--runs N]   (root; default tunables)
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from standfast.lab.netns import net_cluster


def one_run(workdir: Path, run: int) -> dict[str, float]:
    with net_cluster(workdir / f"run{run}", count=3, tag=f"b{run % 10}") as c:
        c.start_all()
        time.sleep(c.settle_seconds())
        c.cli("server1", "resource", "create", "--kit", "app", "--tag", "app", *c.app_props("app"))
        for target in ("server2", "server3"):
            c.cli("server1", "resource", "extend", "app", "--target", target)
        time.sleep(1.0)  # every server has published its states
        crashed = time.time()
        c.crash("server1")
        c.wait_for("app", "server2", timeout=30)
        in_service = time.time()
        events: list[dict[str, Any]] = c.api("server2", "GET", "/v1/events")
        failover = next(e for e in events if e["kind"] == "failover")
        data = failover["data"]
        detected = float(data["detected_at"])
        isp_at = float(data["steps"][-1]["ended"])
        return {
            "total": isp_at - crashed,
            "detection": detected - crashed,
            "takeover": isp_at - detected,
            "observed": in_service - crashed,
        }


def summary(name: str, values: list[float]) -> str:
    med = statistics.median(values)
    return (
        f"{name:10s} median {med:6.3f} s   min {min(values):6.3f}   "
        f"max {max(values):6.3f}   stdev {statistics.pstdev(values):6.3f}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="sfbench-") as tmp:
        for run in range(args.runs):
            r = one_run(Path(tmp), run)
            results.append(r)
            print(
                f"run {run + 1}: total {r['total']:.3f} s = detection {r['detection']:.3f}"
                f" + takeover {r['takeover']:.3f}",
                flush=True,
            )
    print(
        f"\nfailover, 3 servers, default tunables, {args.runs} runs "
        "(crash = SIGKILL of the primary's daemon; ISP = restore ended on the backup)"
    )
    for key in ("total", "detection", "takeover"):
        print(summary(key, [r[key] for r in results]))
    print("peer: not measured by this benchmark (no ratio is claimed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
