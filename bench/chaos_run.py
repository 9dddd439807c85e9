"""One schedule of the campaign, on a fresh three-server netns lab: form the cluster,
run the faults on their timeline, heal everything, then judge (safety, liveness,
convergence, daemon death). Needs root; one lab at a time on a machine (the lab's
addresses are fixed), so run it under the integration lock.

Timing contract (defaults): forming the cluster takes about 15 s, the faults last
``schedule.length`` (at most span + hold, 14 s), liveness and convergence each wait at
most ``bound`` seconds from the heal, the checks and the teardown a few seconds more.
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import chaos_verdict as verdict
from bench.chaos_lab import Lab
from bench.chaos_plan import APPS, LINK_KINDS, SERVERS, Schedule
from standfast.config.backup_archive import parse_archive
from standfast.lab.netns import NetCluster, net_cluster

DEFAULTS = "SF_QUICKCHECK_INTERVAL=0.5\n"
BOUND = 30.0  # liveness and convergence, seconds after the heal
FORM_TIMEOUT = 30.0
# A server's configuration as ``config backup`` wrote it: version, digest, the whole.
Config = tuple[int, str, dict[str, Any]]


@dataclass
class Settings:
    bound: float = BOUND
    tolerance: float = verdict.TOLERANCE
    grace: float = verdict.RESUME_GRACE
    keep_all: bool = False


@dataclass
class Result:
    seed: int
    faults: str
    schedule: dict[str, Any]
    violations: list[tuple[str, str]] = field(default_factory=list)  # (kind, detail)
    known: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    ops: list[dict[str, Any]] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    kept: str = ""

    @property
    def verdict(self) -> str:
        if not self.violations:
            return "ok"
        return " ".join(sorted({k for k, _ in self.violations}))

    def to_dict(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "faults": self.faults,
            "schedule": self.schedule,
            "verdict": self.verdict,
            "violations": [{"kind": k, "detail": d} for k, d in self.violations],
            "known": self.known,
            "notes": self.notes,
            "operator_actions": self.ops,
            "timings": self.timings,
            "kept": self.kept,
        }


def run_schedule(schedule: Schedule, root: Path, settings: Settings) -> Result:
    """Run one schedule in ``root/seed-N`` (removed afterwards unless something was
    found or ``keep_all``). Raises only for a lab that cannot be built or formed."""
    work = root / f"seed-{schedule.seed}"
    if work.exists():
        shutil.rmtree(work)
    res = Result(schedule.seed, schedule.compact(), schedule.to_dict())
    tag = f"ch{schedule.seed % 1000}"
    _clean_leftovers(tag)
    begun = time.monotonic()
    with net_cluster(work, count=len(SERVERS), tag=tag, defaults=DEFAULTS) as c:
        lab = Lab(c)
        try:
            _form(c)
            res.timings["form"] = round(time.monotonic() - begun, 2)
            t0 = time.time()
            lab.note("faults begin")
            _run_faults(lab, schedule, t0)
            lab.heal_all()
            healed = time.time()
            res.timings["faults"] = round(healed - t0, 2)
            _judge(lab, res, settings, healed, t0)
            _write_timeline(lab, work, t0)
        finally:
            lab.power_off_all()
    res.timings["total"] = round(time.monotonic() - begun, 2)
    if res.violations or res.known or res.notes or settings.keep_all:
        res.kept = str(work)
    else:
        shutil.rmtree(work, ignore_errors=True)
    return res


def _clean_leftovers(tag: str) -> None:
    """Links and namespaces with this campaign's names, left by an interrupted run."""
    prefix = f"sfc{tag}"
    names = [f"{prefix}br1", f"{prefix}br2"] + [
        f"{prefix}{i}n{n}" for i in range(1, len(SERVERS) + 1) for n in (1, 2)
    ]
    for name in names:
        subprocess.run(["ip", "link", "del", name], capture_output=True, timeout=10, check=False)
    for s in SERVERS:
        subprocess.run(
            ["ip", "netns", "del", f"{prefix}-{s}"], capture_output=True, timeout=10, check=False
        )


def _wait(what: str, ok: Callable[[], bool], timeout: float, step: float = 0.1) -> float:
    start = time.monotonic()
    while not ok():
        if time.monotonic() - start > timeout:
            raise TimeoutError(f"{what} not within {timeout} s")
        time.sleep(step)
    return time.monotonic() - start


def _form(c: NetCluster) -> None:
    """Start the three daemons together, wait until each sees the others, then create
    each application's hierarchy on its home server and extend it to the others."""
    errors: list[BaseException] = []

    def start(name: str) -> None:
        try:
            c.start(name, timeout=FORM_TIMEOUT)
        except BaseException as exc:  # reported below, in this thread's caller
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(s,)) for s in c.servers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(FORM_TIMEOUT + 5)
    if errors:
        raise errors[0]

    def all_see_all() -> bool:
        for s in c.servers:
            cluster = c.api(s, "GET", "/v1/status", timeout=3)["cluster"]
            if not all(v["alive"] for v in cluster["servers"].values()):
                return False
            if not cluster["quorum"]["has_quorum"]:
                return False  # changes are refused until then (193033)
        return True

    _wait("every server alive and with quorum on every server", all_see_all, FORM_TIMEOUT, 0.2)
    for app, home in APPS.items():
        c.cli(home, "resource", "create", "--kit", "app", "--tag", app, *c.app_props(app))
        for target in c.servers:
            if target != home:
                c.cli(home, "resource", "extend", app, "--target", target)
    lab = Lab(c)

    def placed() -> bool:
        return lab.in_service() == {a: [h] for a, h in APPS.items()} and all(
            set(c.states(s)) >= set(APPS) for s in c.servers
        )

    _wait("every hierarchy in service at home, known everywhere", placed, FORM_TIMEOUT, 0.2)


def _run_faults(lab: Lab, schedule: Schedule, t0: float) -> None:
    """Every fault's start and end at its time (each action takes its turn; a late one
    runs at once and the timeline shows when)."""
    steps: list[tuple[float, int, Callable[[], None]]] = []
    for f in schedule.faults:
        if f.kind == "crash":
            steps += [(f.at, 1, _bind(lab.power_cut, f.server))]
            steps += [(f.end, 0, _bind(lab.restart, f.server))]
        elif f.kind == "stop":
            steps += [(f.at, 1, _bind(lab.stop, f.server))]
            steps += [(f.end, 0, _bind(lab.restart, f.server))]
        elif f.kind == "hang":
            steps += [(f.at, 1, _bind(lab.hang, f.server)), (f.end, 0, _bind(lab.resume, f.server))]
        elif f.kind in LINK_KINDS:
            steps += [(f.at, 1, _bind(lab.cut, f.links())), (f.end, 0, _bind(lab.heal, f.links()))]
        else:
            steps += [(f.at, 2, _bind(lab.operator, f))]
    for at, _, action in sorted(steps, key=lambda s: (s[0], s[1])):
        delay = t0 + at - time.time()
        if delay > 0:
            time.sleep(delay)
        action()


def _bind(fn: Callable[[Any], None], arg: Any) -> Callable[[], None]:
    return lambda: fn(arg)


def _judge(lab: Lab, res: Result, settings: Settings, healed: float, t0: float) -> None:
    res.violations += [("DEATH", d) for d in lab.deaths]
    live = _liveness(lab, healed + settings.bound)
    if live is None:
        res.timings["liveness"] = round(time.time() - healed, 2)
    else:
        res.violations.append(("LIVENESS", f"{settings.bound:.0f} s after the heal: {live}"))
    res.violations += [("DIVERGENCE", d) for d in _convergence(lab, healed + settings.bound)]
    res.violations += [("DEATH", d) for d in _deaths(lab)]
    found = verdict.judge_safety(
        lab.ledger_text(), lab.hangs, tolerance=settings.tolerance, grace=settings.grace
    )
    res.violations += [("SAFETY", o.describe(t0)) for o in found.violations]
    res.known += [f"{verdict.KNOWN_HUNG} ({who}): {o.describe(t0)}" for o, who in found.known]
    res.notes += [f"overlap within tolerance: {o.describe(t0)}" for o in found.within_tolerance]
    res.ops = [
        {
            "action": op.fault.compact(),
            "at": round(op.started - t0, 2),
            "seconds": round(op.ended - op.started, 2) if op.ended else None,
            "exit": op.exit,
            "output": op.first_line()[:200],
        }
        for op in lab.ops
    ]


def _liveness(lab: Lab, deadline: float) -> str | None:
    """None once every application runs on exactly one server (ledger) and is in
    service there only (status); else the last problem seen at the deadline."""
    while True:
        ran = verdict.running_now(verdict.runs(verdict.parse_ledger(lab.ledger_text())))
        problems = verdict.placement_problems(APPS, ran, lab.in_service())
        if not problems:
            lab.note("liveness: every hierarchy in service on exactly one server")
            return None
        if time.time() > deadline:
            return "; ".join(problems)
        time.sleep(0.25)


def _config_of(lab: Lab, server: str, path: Path) -> Config | None:
    r = lab.c.cli(server, "--timeout", "10", "config", "backup", str(path), check=False, timeout=20)
    if r.returncode != 0:
        return None
    # The archive's configuration with its events, as config restore would post it.
    data: dict[str, Any] = parse_archive(path.read_bytes(), str(path)).config()
    # Each server's own event history travels in its backup (docs/events.md): it is
    # per server by design, not part of the replicated configuration.
    body = {k: v for k, v in data.items() if k not in ("version", "events")}
    raw = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    return int(data["version"]), hashlib.sha256(raw).hexdigest()[:16], data


def _configs(lab: Lab) -> dict[str, Config | None]:
    """Every server's configuration at once (one ``config backup`` each, in parallel)."""
    got: dict[str, Config | None] = {}

    def one(server: str) -> None:
        got[server] = _config_of(lab, server, lab.c.workdir / f"{server}.config")

    threads = [threading.Thread(target=one, args=(s,)) for s in lab.c.servers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(25)
    return {s: got.get(s) for s in lab.c.servers}


def _convergence(lab: Lab, deadline: float) -> list[str]:
    """Same version and digest everywhere (through ``config backup``), and every
    operator change that was accepted still in the configuration."""
    while True:
        got = _configs(lab)
        short = {s: (None if v is None else (v[0], v[1])) for s, v in got.items()}
        diverged = verdict.divergence(short)
        if diverged is None or time.time() > deadline:
            break
        time.sleep(0.5)
    if diverged is not None:
        return [f"after the heal: {diverged}"]
    final = next(v for v in got.values() if v is not None)
    lab.note(f"convergence: configuration v{final[0]} {final[1]} everywhere")
    return _lost_changes(lab, final[2])


def _lost_changes(lab: Lab, config: dict[str, Any]) -> list[str]:
    expected: dict[tuple[str, str], int] = {}
    for op in sorted(lab.ops, key=lambda o: o.started):
        if op.fault.kind == "set" and op.exit == 0:
            expected[(op.fault.server, op.fault.tag)] = op.fault.value
    have = {(r["server"], r["tag"]): r["props"].get("check_timeout") for r in config["resources"]}
    return [
        f"lost: check_timeout={v} of {tag} on {server} was accepted, the configuration "
        f"has {have.get((server, tag))}"
        for (server, tag), v in expected.items()
        if have.get((server, tag)) is None or not math.isclose(float(have[(server, tag)]), v)
    ]


def _deaths(lab: Lab) -> list[str]:
    out = [f"{s}: daemon not running at the end" for s in SERVERS if s not in lab.c.running()]
    for server, text in lab.log_texts().items():
        if "Traceback" in text:
            tail = text[text.index("Traceback") :].splitlines()
            last = next((ln for ln in tail[1:] if ln and not ln.startswith(" ")), tail[0])
            out.append(f"{server}: Traceback in its log: {last[:200]}")
    return out


def _clock(ts: float) -> str:
    """Local wall-clock time, as the daemons' logs print it (plus milliseconds)."""
    return time.strftime("%H:%M:%S", time.localtime(ts)) + f".{int(ts * 1000) % 1000:03d}"


def _write_timeline(lab: Lab, work: Path, t0: float) -> None:
    """Faults, operator actions and ledger records on one clock (seconds from t0)."""
    rows = [(ts, "campaign", text) for ts, text in lab.timeline]
    for ts, server, app, action in verdict.parse_ledger(lab.ledger_text()):
        rows.append((ts, "ledger", f"{app} {action} on {server}"))
    lines = [f"{ts - t0:8.3f}  {_clock(ts)}  {src:8s}  {text}" for ts, src, text in sorted(rows)]
    (work / "timeline.txt").write_text("\n".join(lines) + "\n")
