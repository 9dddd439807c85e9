"""A short fault campaign for CI: fixed seeds of bench/chaos.py on the netns lab, each
a fresh three-server cluster; every schedule must end with zero violations (safety,
liveness, convergence, daemon death; docs/chaos.md). About 30 s per seed.

The seeds below are the ones that found a violation in the first campaigns (docs/chaos.md,
"Findings"), each fixed since: they are the regression tests of those fixes, and between
them they cover every fault kind.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from bench.chaos_plan import ALL_KINDS, KINDS, generate

pytestmark = [pytest.mark.root, pytest.mark.daemon]

ROOT = Path(__file__).resolve().parents[2]
SEEDS = [1, 11, 13, 14, 19, 20]
# Drawn with the clean stop among the kinds: seed 3 (kinds in STOP_ORDER) found a
# traceback at every stop (a cancelled peer connection under Python 3.11); seed 6
# (ALL_KINDS) an accepted change lost, made on a server cut off from the majority;
# seed 23 (ALL_KINDS) stops all three daemons one after the other, with a link cut.
STOP_ORDER = ("crash", "hang", "stop", "cut", "isolate", "split", "in-service", "set")
CASES = [(seed, KINDS) for seed in SEEDS]
CASES += [(3, STOP_ORDER), (6, ALL_KINDS), (23, ALL_KINDS)]


def test_the_ci_seeds_cover_every_fault_kind() -> None:
    kinds = {f.kind for seed, drawn in CASES for f in generate(seed, kinds=drawn).faults}
    assert kinds == {"crash", "hang", "stop", "cut", "isolate", "split", "in-service", "set"}


@pytest.mark.timeout(150)
@pytest.mark.parametrize(("seed", "drawn"), CASES, ids=[f"seed{s}-{len(k)}" for s, k in CASES])
def test_schedule_has_no_violation(seed: int, drawn: tuple[str, ...], tmp_path: Path) -> None:
    r = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "chaos.py"),
            "--seed",
            str(seed),
            "--kinds",
            ",".join(drawn),
            "--json",
            "--workdir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=140,
        check=False,
    )
    assert r.stdout, r.stderr[-3000:]
    doc = json.loads(r.stdout)
    [result] = doc["results"]
    assert result["seed"] == seed and result["faults"] == generate(seed, kinds=drawn).compact()
    timeline = Path(result["kept"], "timeline.txt") if result["kept"] else None
    detail = timeline.read_text() if timeline and timeline.exists() else ""
    assert result["violations"] == [], f"{result['violations']}\n{detail}"
    assert result["verdict"] == "ok" and r.returncode == 0, r.stderr[-3000:]
