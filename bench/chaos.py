"""Fault campaign on the netns lab: random fault schedules from a seed against three
Standfast servers, judged from outside the product.

Each schedule builds a fresh lab (three servers, two comm paths, majority quorum,
hierarchies appA, appB, appC created on server1, server2, server3 and each extended to
the other two), runs its faults, heals everything, and checks:

  SAFETY      the applications' own ledger shows no hierarchy running on two servers
              at once for more than --tolerance seconds (a hung daemon's copy, which
              nothing stops without fencing or a watchdog, is reported as "known")
  LIVENESS    within --bound seconds of the heal, every hierarchy runs on exactly one
              server and that server alone shows it in service
  DIVERGENCE  within --bound seconds of the heal, `config backup` gives the same
              version and digest on every server, and no accepted change is lost
  DEATH       every daemon runs at the end and no daemon log has a Traceback

One line per schedule (seed, faults, verdict), then a summary line; exit status 1 if
anything was violated. A seed replays its schedule exactly (with the same
--faults-per-schedule, --span, --hold and --kinds). Needs root, and one lab at a
time on a machine.
See docs/chaos.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make ``bench`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.chaos_plan import ALL_KINDS, KINDS, generate
from bench.chaos_run import BOUND, Result, Settings, run_schedule
from bench.chaos_verdict import RESUME_GRACE, TOLERANCE

VIOLATIONS = ("SAFETY", "LIVENESS", "DIVERGENCE", "DEATH")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="chaos.py",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        epilog="\n\n".join(__doc__.split("\n\n")[1:]) if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--seed", type=int, default=1, help="first seed (default 1)")
    p.add_argument("--schedules", type=int, default=1, help="seeds SEED..SEED+N-1 (default 1)")
    p.add_argument(
        "--faults-per-schedule",
        type=int,
        default=4,
        help="faults and operator actions per schedule (default 4)",
    )
    p.add_argument("--span", type=float, default=8.0, help="faults begin within S s (default 8)")
    p.add_argument(
        "--hold",
        type=float,
        nargs=2,
        default=(1.0, 6.0),
        metavar=("MIN", "MAX"),
        help="each fault lasts MIN..MAX s (default 1 6)",
    )
    p.add_argument(
        "--kinds",
        default=",".join(KINDS),
        help=f"comma-separated fault kinds to draw from, of {','.join(ALL_KINDS)}"
        f" (default {','.join(KINDS)})",
    )
    p.add_argument("--bound", type=float, default=BOUND, help=f"liveness bound, s ({BOUND:g})")
    p.add_argument(
        "--tolerance", type=float, default=TOLERANCE, help=f"safety tolerance, s ({TOLERANCE:g})"
    )
    p.add_argument(
        "--grace",
        type=float,
        default=RESUME_GRACE,
        help=f"a resumed hung daemon stops its copy within G s ({RESUME_GRACE:g})",
    )
    p.add_argument("--workdir", type=Path, help="where labs and kept logs go (default: new dir)")
    p.add_argument("--keep-all", action="store_true", help="keep every schedule's logs")
    p.add_argument("--json", action="store_true", help="one JSON document instead of lines")
    p.add_argument("--report", type=Path, help="also write the JSON document to FILE")
    p.add_argument("--dry-run", action="store_true", help="print the schedules, run nothing")
    args = p.parse_args(argv)
    args.kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    if args.schedules < 1 or args.faults_per_schedule < 1:
        p.error("--schedules and --faults-per-schedule must be at least 1")
    if sorted(set(args.kinds) - set(ALL_KINDS)) or not args.kinds:
        p.error(f"--kinds: choose from {', '.join(ALL_KINDS)}")
    if not 0 < args.hold[0] <= args.hold[1] or args.span < 0:
        p.error("--hold needs 0 < MIN <= MAX and --span must not be negative")
    return args


def line(r: Result) -> str:
    out = f"seed {r.seed:<5d} {r.faults}  ->  {r.verdict}"
    if not r.violations:
        out += f" (live {r.timings.get('liveness', 0):.1f} s after the heal)"
    for kind, detail in r.violations:
        out += f"\n    {kind}: {detail}"
    for k in r.known + r.notes:
        out += f"\n    {k}"
    if r.kept:
        out += f"\n    logs: {r.kept}"
    return out


def summary(results: list[Result], faults: int, seconds: float) -> str:
    kinds = Counter(k for r in results for k, _ in r.violations)
    bad = sum(1 for r in results if r.violations)
    known = sum(len(r.known) for r in results)
    by_kind = ", ".join(f"{kinds[k]} {k}" for k in VIOLATIONS)
    return (
        f"{len(results)} schedules, {faults} faults, {bad} schedules with violations "
        f"({by_kind}), {known} known (hung holder), {seconds:.0f} s"
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    schedules = [
        generate(
            seed,
            args.faults_per_schedule,
            span=args.span,
            hold=(args.hold[0], args.hold[1]),
            kinds=args.kinds,
        )
        for seed in range(args.seed, args.seed + args.schedules)
    ]
    if args.dry_run:
        for s in schedules:
            print(f"seed {s.seed:<5d} {s.compact()}")
        return 0
    if os.geteuid() != 0:
        print("chaos.py: the netns lab needs root", file=sys.stderr)
        return 2
    root = args.workdir or Path(tempfile.mkdtemp(prefix="sfchaos-", dir="/var/tmp"))
    root.mkdir(parents=True, exist_ok=True)
    settings = Settings(args.bound, args.tolerance, args.grace, args.keep_all)
    began = time.monotonic()
    results = []
    for s in schedules:
        r = run_schedule(s, root, settings)
        results.append(r)
        if not args.json:
            print(line(r), flush=True)
    faults = sum(len(s.faults) for s in schedules)
    text = summary(results, faults, time.monotonic() - began)
    doc = {
        "summary": text,
        "workdir": str(root),
        "settings": vars(settings),
        "results": [r.to_dict() for r in results],
    }
    if args.report:
        args.report.write_text(json.dumps(doc, indent=2) + "\n")
    if args.json:
        print(json.dumps(doc, indent=2))
    else:
        print(text)
        print(f"work directory: {root}")
    return 1 if any(r.violations for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
