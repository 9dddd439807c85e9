"""Fault schedules for the campaign: pure data drawn from one seed.

Contract: ``generate(seed, count, ...)`` depends on nothing but its arguments (one
``random.Random(seed)``, no clock, no environment), so the same arguments give the same
schedule on every machine and every run: a seed replays a schedule exactly. Times are
seconds from the schedule's start, rounded to 0.1 s.

Fault kinds (``hold`` is how long the fault lasts; operator actions have none):

- ``crash``: power cut of a server (its daemon and everything it started die at once,
  its applications with them); restarted after ``hold``.
- ``hang``: the server's daemon is SIGSTOPped; SIGCONT after ``hold``.
- ``stop``: a clean stop of the server's daemon (SIGTERM, as ``systemctl stop``): it
  hands its hierarchies over and exits; started again after ``hold``. Drawn only when
  asked for (``--kinds``): the default kinds stay those the CI seeds were drawn from,
  so a seed replays the same schedule as before it existed.
- ``cut``: one comm path (``net1`` or ``net2``) of a server goes down; healed after ``hold``.
- ``isolate``: both comm paths of a server go down; healed after ``hold``.
- ``split``: a non-transitive partition: ``server`` loses net1, ``other`` loses net2
  (they no longer reach each other; both still reach the third); healed after ``hold``.
- ``in-service``: an operator runs ``resource in-service TAG`` on ``server`` (a
  switchover), placed inside another fault's window.
- ``set``: an operator runs ``resource set TAG --prop check_timeout=VALUE`` on
  ``server``, placed inside a partition's window (cut, isolate, split) when the schedule
  has one, else inside another fault's window.

Rules that keep a schedule executable: a server has at most one process fault (crash or
hang) at a time, with ``PROCESS_GAP`` seconds between two (a restarted daemon needs time
to come up); operator actions go to a server whose daemon is neither crashed nor hung at
that moment (a hung daemon cannot answer).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

SERVERS = ("server1", "server2", "server3")
NETS = ("net1", "net2")
# Each application's hierarchy is created on its home server and extended to the others.
APPS = {"appA": "server1", "appB": "server2", "appC": "server3"}

PROCESS_KINDS = ("crash", "hang", "stop")
LINK_KINDS = ("cut", "isolate", "split")
FAULT_KINDS = PROCESS_KINDS + LINK_KINDS
OP_KINDS = ("in-service", "set")
#: The default kinds, in the order the CI seeds were drawn with (the pool's order is
#: part of what a seed means).
KINDS = ("crash", "hang", "cut", "isolate", "split", *OP_KINDS)
ALL_KINDS = (*KINDS, "stop")
WEIGHTS = {
    "crash": 2.0,
    "hang": 1.5,
    "stop": 2.0,
    "cut": 2.0,
    "isolate": 1.5,
    "split": 1.5,
    "in-service": 1.5,
    "set": 1.0,
}
PROCESS_GAP = 3.0
# How long an operator action's server must stay answerable after it starts (a
# restarted daemon answers within PROCESS_GAP of its restart).
OP_ANSWER = 3.0


@dataclass(frozen=True)
class Fault:
    kind: str
    at: float
    hold: float
    server: str
    other: str = ""  # split: the server that loses net2
    net: str = ""  # cut: the path
    tag: str = ""  # operator actions: the hierarchy
    value: int = 0  # set: check_timeout

    @property
    def end(self) -> float:
        return round(self.at + self.hold, 1)

    def compact(self) -> str:
        """One short token, e.g. ``crash(s2)1.2+3.4`` or ``in-service(appB@s3)5.1``."""
        s = short(self.server)
        if self.kind == "cut":
            what = f"{s}:{self.net}"
        elif self.kind == "split":
            what = f"{s}:net1|{short(self.other)}:net2"
        elif self.kind == "in-service":
            what = f"{self.tag}@{s}"
        elif self.kind == "set":
            what = f"{self.tag}.check_timeout={self.value}@{s}"
        else:
            what = s
        when = f"{self.at:.1f}" + (f"+{self.hold:.1f}" if self.hold else "")
        return f"{self.kind}({what}){when}"

    def links(self) -> list[tuple[str, str]]:
        """The (server, net) links this fault takes down."""
        if self.kind == "cut":
            return [(self.server, self.net)]
        if self.kind == "isolate":
            return [(self.server, n) for n in NETS]
        if self.kind == "split":
            return [(self.server, "net1"), (self.other, "net2")]
        return []


@dataclass(frozen=True)
class Schedule:
    seed: int
    faults: tuple[Fault, ...] = field(default_factory=tuple)

    def compact(self) -> str:
        return " ".join(f.compact() for f in self.faults)

    @property
    def length(self) -> float:
        """Seconds from the start until the last fault ends (the heal)."""
        return max((f.end for f in self.faults), default=0.0)

    def to_dict(self) -> dict[str, object]:
        return {"seed": self.seed, "faults": [asdict(f) for f in self.faults]}


def short(server: str) -> str:
    return "s" + server.removeprefix("server") if server else ""


def generate(
    seed: int,
    count: int = 4,
    *,
    span: float = 8.0,
    hold: tuple[float, float] = (1.0, 6.0),
    kinds: Sequence[str] = KINDS,
) -> Schedule:
    """``count`` faults and operator actions drawn from ``seed``; faults begin within
    ``span`` seconds and each lasts ``hold`` seconds (uniform). Raises ValueError for an
    unknown kind or a count below 1."""
    unknown = sorted(set(kinds) - set(ALL_KINDS))
    if unknown or not kinds:
        raise ValueError(f"unknown fault kinds: {', '.join(unknown) or '(none given)'}")
    if count < 1:
        raise ValueError("a schedule needs at least one fault")
    rng = random.Random(seed)
    pool = list(kinds)
    drawn = rng.choices(pool, weights=[WEIGHTS[k] for k in pool], k=count)
    fault_pool = [k for k in pool if k in FAULT_KINDS]
    if fault_pool and not any(k in FAULT_KINDS for k in drawn):
        # Operator actions go in the middle of faults: there must be one.
        drawn[0] = rng.choice(fault_pool)
    faults: list[Fault] = []
    for kind in (k for k in drawn if k in FAULT_KINDS):
        at = _tenth(rng.uniform(0.0, span))
        length = _tenth(rng.uniform(*hold))
        faults.append(_fault(rng, kind, at, length, faults))
    for kind in (k for k in drawn if k in OP_KINDS):
        faults.append(_operator_action(rng, kind, faults, span))
    return Schedule(seed, tuple(sorted(faults, key=lambda f: (f.at, f.kind, f.server))))


def _tenth(x: float) -> float:
    return round(x, 1)


def _fault(rng: random.Random, kind: str, at: float, hold: float, before: list[Fault]) -> Fault:
    if kind in PROCESS_KINDS:
        free = [s for s in SERVERS if not _process_busy(before, s, at, at + hold)]
        if not free:  # every server already has a process fault then: cut a path instead
            kind = "cut"
        else:
            return Fault(kind, at, hold, rng.choice(free))
    if kind == "cut":
        return Fault(kind, at, hold, rng.choice(SERVERS), net=rng.choice(NETS))
    if kind == "isolate":
        return Fault(kind, at, hold, rng.choice(SERVERS))
    a, b = rng.sample(SERVERS, 2)
    return Fault("split", at, hold, a, other=b)


def _process_busy(faults: list[Fault], server: str, start: float, end: float) -> bool:
    return any(
        f.kind in PROCESS_KINDS
        and f.server == server
        and start < f.end + PROCESS_GAP
        and f.at < end + PROCESS_GAP
        for f in faults
    )


def _answerable(faults: list[Fault], server: str, at: float) -> bool:
    return not any(
        f.kind in PROCESS_KINDS
        and f.server == server
        and f.at <= at + OP_ANSWER
        and at <= f.end + PROCESS_GAP
        for f in faults
    )


def _operator_action(rng: random.Random, kind: str, faults: list[Fault], span: float) -> Fault:
    real = [f for f in faults if f.kind in FAULT_KINDS]
    windows = [f for f in real if f.kind in LINK_KINDS] if kind == "set" else []
    host = rng.choice(windows or real) if real else None
    if host is not None:
        at = _tenth(rng.uniform(host.at + 0.2, max(host.at + 0.2, host.end - 0.2)))
    else:
        at = _tenth(rng.uniform(0.0, span))
    tag = rng.choice(sorted(APPS))
    value = rng.randint(5, 30) if kind == "set" else 0
    candidates = [s for s in SERVERS if _answerable(faults, s, at)]
    if not candidates:  # every daemon is down or hung then: act once they are back
        at = _tenth(max(f.end for f in real) + PROCESS_GAP + 0.1)
        candidates = list(SERVERS)
    return Fault(kind, at, 0.0, rng.choice(candidates), tag=tag, value=value)
