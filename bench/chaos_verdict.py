"""The campaign's judge, from outside the product: the applications' own ledger, the
faults the campaign caused, and what the servers answer. Pure functions; no I/O.

The ledger (``standfast.lab.ledger_app``) has one line per record, ``TIME SERVER APP
ACTION``, where ACTION is ``start`` or ``stop`` (written by the application itself) or
``powercut`` (written by the campaign the moment it cut a server's power: everything
that ran there died then). A run on a server lasts from its first ``start`` to the
next ``stop`` or ``powercut`` there; a repeated ``start`` (an idempotent restore) or a
``stop`` with nothing running changes nothing.

Safety rule: two runs of one application on different servers that overlap by more
than ``tolerance`` seconds are a violation, unless the overlap is the documented hole
of a hung daemon without fencing or watchdog: one of the two servers had its daemon
SIGSTOPped when the overlap began, and the overlap ended at most ``grace`` seconds
after that daemon was resumed. Those are reported as known, not as violations.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

# The tolerance covers the lag between a state change and its ledger record (the
# application writes and fsyncs its record just after its marker changed: milliseconds).
# An orderly handover can never overlap at all: the engine starts the new copy only after
# the old copy's stop script (which writes the stop record) has exited.
TOLERANCE = 0.1
# After a hung daemon resumes, it must notice within this many seconds that another
# server took over and stop its copy (heartbeat timeout plus a release).
RESUME_GRACE = 5.0
KNOWN_HUNG = "known: hung holder without fencing/watchdog"


@dataclass(frozen=True)
class Run:
    app: str
    server: str
    start: float
    end: float  # math.inf while it still runs


@dataclass(frozen=True)
class Overlap:
    app: str
    first: Run
    second: Run

    @property
    def start(self) -> float:
        return max(self.first.start, self.second.start)

    @property
    def end(self) -> float:
        return min(self.first.end, self.second.end)

    @property
    def seconds(self) -> float:
        return self.end - self.start

    def describe(self, t0: float = 0.0) -> str:
        def run(r: Run) -> str:
            end = "running" if math.isinf(r.end) else f"{r.end - t0:.2f}"
            return f"{r.server} [{r.start - t0:.2f}, {end}]"

        length = "open-ended" if math.isinf(self.seconds) else f"{self.seconds:.2f} s"
        return f"{self.app} on {run(self.first)} and {run(self.second)}: {length}"


def parse_ledger(text: str) -> list[tuple[float, str, str, str]]:
    """Every well-formed record, in file order (time, server, app, action)."""
    out = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) != 4:
            continue
        try:
            ts = float(parts[0])
        except ValueError:
            continue
        out.append((ts, parts[1], parts[2], parts[3]))
    return out


def runs(records: Iterable[tuple[float, str, str, str]]) -> list[Run]:
    """Each application's runs per server, in order of their start."""
    open_at: dict[tuple[str, str], float] = {}
    out: list[Run] = []
    for ts, server, app, action in sorted(records, key=lambda r: r[0]):
        key = (app, server)
        if action == "start":
            open_at.setdefault(key, ts)
        elif key in open_at:
            out.append(Run(app, server, open_at.pop(key), ts))
    out += [Run(app, server, t, math.inf) for (app, server), t in open_at.items()]
    return sorted(out, key=lambda r: (r.start, r.server))


def running_now(all_runs: Iterable[Run]) -> dict[str, list[str]]:
    """Per application, the servers where it runs at the end of the ledger."""
    out: dict[str, list[str]] = {}
    for r in all_runs:
        if math.isinf(r.end):
            out.setdefault(r.app, []).append(r.server)
    return {a: sorted(s) for a, s in out.items()}


def overlaps(all_runs: Sequence[Run], tolerance: float = TOLERANCE) -> list[Overlap]:
    """Pairs of runs of one application on two servers overlapping by > tolerance."""
    found = []
    for i, a in enumerate(all_runs):
        for b in all_runs[i + 1 :]:
            if a.app != b.app or a.server == b.server:
                continue
            o = Overlap(a.app, a, b)
            if o.seconds > tolerance:
                found.append(o)
    return found


def hung_holder(
    o: Overlap, hangs: Mapping[str, Sequence[tuple[float, float]]], grace: float = RESUME_GRACE
) -> str | None:
    """The server whose SIGSTOPped daemon explains ``o`` (see the module's rule), or None."""
    for run in (o.first, o.second):
        for h0, h1 in hangs.get(run.server, ()):
            if h0 <= o.start <= h1 and o.end <= h1 + grace:
                return run.server
    return None


@dataclass(frozen=True)
class SafetyFindings:
    violations: list[Overlap]
    known: list[tuple[Overlap, str]]  # with the hung server
    within_tolerance: list[Overlap]  # 0 < seconds <= tolerance: reported, not judged


def judge_safety(
    ledger_text: str,
    hangs: Mapping[str, Sequence[tuple[float, float]]],
    *,
    tolerance: float = TOLERANCE,
    grace: float = RESUME_GRACE,
) -> SafetyFindings:
    violations: list[Overlap] = []
    known: list[tuple[Overlap, str]] = []
    small: list[Overlap] = []
    for o in overlaps(runs(parse_ledger(ledger_text)), 0.0):
        who = hung_holder(o, hangs, grace)
        if o.seconds <= tolerance:
            small.append(o)
        elif who is None:
            violations.append(o)
        else:
            known.append((o, who))
    return SafetyFindings(violations, known, small)


def placement_problems(
    apps: Iterable[str],
    ledger_running: Mapping[str, Sequence[str]],
    status_in_service: Mapping[str, Sequence[str]],
) -> list[str]:
    """Liveness: each application runs on exactly one server (its ledger) and the
    servers' status shows it in service there and nowhere else. Empty when it holds."""
    problems = []
    for app in sorted(apps):
        ran = list(ledger_running.get(app, []))
        isp = sorted(status_in_service.get(app, []))
        if len(ran) != 1 or isp != ran:
            problems.append(
                f"{app}: running on [{', '.join(ran)}], in service on [{', '.join(isp)}]"
            )
    return problems


def divergence(configs: Mapping[str, tuple[int, str] | None]) -> str | None:
    """None when every server answered the same (version, digest); else a description."""
    seen = {v for v in configs.values()}
    if len(seen) == 1 and None not in seen:
        return None
    parts = []
    for server, v in sorted(configs.items()):
        parts.append(f"{server} " + ("no answer" if v is None else f"v{v[0]} {v[1]}"))
    return ", ".join(parts)
