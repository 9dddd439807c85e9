"""``standfast simulate``: what would happen if a server failed now, if its NAS path
broke, or if a server joined, answered from the live snapshot without acting
(Pacemaker's ``crm_simulate`` for this domain).

Pure: the same ``place`` and ``gate`` the engine runs, applied from every surviving
server's point of view to a changed copy of the snapshot. Assumptions, stated in each
answer: a witness keeps granting the servers that still reach each other; a NAS path
failure takes the server's NAS hierarchies OSF there (LKNASERROR=switch; with halt it
is a server failure); every server uses this server's tunables.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from standfast.engine.gate import GateFacts, Verdict, gate
from standfast.engine.placement import PlacementKind, hierarchy_roots, holders, place
from standfast.engine.snapshot import ClusterSnapshot
from standfast.messages import StandfastError
from standfast.model.states import State

NAS_KITS = frozenset({"nas", "filesys"})


class Fault(StrEnum):
    FAIL = "fail"  # the server crashes (power cut)
    NAS = "nas"  # the server loses its path to the NAS
    JOIN = "join"  # the server comes (back) into the cluster


@dataclass(frozen=True)
class Outcome:
    tag: str  # a root tag of the hierarchy
    equiv: str
    before: tuple[str, ...]  # servers holding it now
    after: tuple[str, ...]  # servers expected to hold it once the cluster settles
    action: str  # stays | fails over | switches back | goes down | stays down
    fence: str = ""  # server fenced first
    wait: str = ""  # what the takeover waits for (confirmation, quorum ...)
    reason: str = ""

    def to_dict(self) -> dict[str, object]:
        return {
            "tag": self.tag,
            "equiv": self.equiv,
            "before": list(self.before),
            "after": list(self.after),
            "action": self.action,
            "fence": self.fence,
            "wait": self.wait,
            "reason": self.reason,
        }


def _quorum_after(snap: ClusterSnapshot, alive: frozenset[str]) -> bool:
    mode = snap.quorum_status.mode
    if mode == "majority" and len(snap.servers) >= 3:
        return len(alive) >= len(snap.servers) // 2 + 1
    return snap.quorum if mode not in ("none", "majority") else True


def changed(snap: ClusterSnapshot, fault: Fault, server: str) -> ClusterSnapshot:
    """The snapshot as it would be right after ``fault`` on ``server``."""
    if server not in snap.servers:
        raise StandfastError("193002", server=server, cluster=snap.name or "-")
    states = {s: dict(v) for s, v in snap.states.items()}
    alive, rejoined = set(snap.alive), set(snap.rejoined)
    if fault is Fault.FAIL:
        alive.discard(server)
        states.pop(server, None)
    elif fault is Fault.JOIN:
        alive.add(server)
        rejoined.add(server)
        states[server] = {t: State.OSU for (s, t) in snap.config.resources if s == server}
    else:
        graph = snap.config.graph(server)
        for root in graph.roots():
            h = graph.hierarchy(root)
            if any(graph.resources[t].kit in NAS_KITS for t in h):
                for t in h:
                    if states.get(server, {}).get(t, State.OSU).in_service:
                        states[server][t] = State.OSF
    frozen = frozenset(alive)
    return replace(
        snap,
        alive=frozen,
        states=states,
        rejoined=frozenset(rejoined),
        quorum=_quorum_after(snap, frozen),
        busy_equivs=frozenset(),
    )


def simulate(
    snap: ClusterSnapshot, facts: GateFacts | None, fault: Fault, server: str
) -> list[Outcome]:
    """Per hierarchy, where it would be and why, after ``fault`` on ``server``."""
    after = changed(snap, fault, server)
    base = facts or GateFacts(now=0.0, local=snap.local)
    failed = frozenset({server}) if fault is Fault.FAIL else frozenset()
    outcomes = []
    roots: dict[str, str] = {}
    for s in sorted(snap.servers):
        for equiv, r in hierarchy_roots(snap.config, s).items():
            roots.setdefault(equiv, r.tag)
    for equiv, tag in sorted(roots.items(), key=lambda kv: kv[1]):
        before = tuple(r.server for r in holders(snap, equiv))
        outcomes.append(_one(after, base, failed, equiv, tag, before))
    return outcomes


def _one(
    after: ClusterSnapshot,
    base: GateFacts,
    failed: frozenset[str],
    equiv: str,
    tag: str,
    before: tuple[str, ...],
) -> Outcome:
    still = tuple(r.server for r in holders(after, equiv))
    for s in sorted(after.alive):
        view = replace(after, local=s)
        for p in place(view):
            if p.equiv != equiv:
                continue
            facts = replace(
                base,
                local=s,
                alive=after.alive,
                quorum=after.quorum,
                failed=failed,
                fenced=frozenset(),
                settled=True,
                quiet_until=0.0,
                hold_off={},
                confirmations={},
            )
            d = gate(p, after.config, facts)
            if p.kind is PlacementKind.RESTORE:
                return Outcome(
                    tag,
                    equiv,
                    before,
                    (s,),
                    "fails over" if before else "comes into service",
                    fence=d.previous if d.verdict is Verdict.FENCE else "",
                    wait=d.reason if d.verdict in (Verdict.WAIT, Verdict.CONFIRM) else "",
                    reason=f"{s} is the first eligible server",
                )
            rest = tuple(x for x in still if x != s)
            if p.kind is PlacementKind.SWITCHBACK:
                return Outcome(tag, equiv, before, (p.target,), "switches back", reason=p.reason)
            if p.kind is PlacementKind.STANDBY:
                return Outcome(tag, equiv, before, (p.target,), "moves off " + s, reason=p.reason)
            return Outcome(tag, equiv, before, rest, "goes down on " + s, reason=p.reason)
    if after.config.in_maintenance(equiv):
        verb = "stays" if still else "stays down"
        return Outcome(tag, equiv, before, still, verb, reason="in maintenance (no failover)")
    if not after.config.wanted(equiv):
        return Outcome(tag, equiv, before, still, "stays down", reason="out of service by choice")
    if not still and not after.quorum:
        return Outcome(tag, equiv, before, (), "stays down", wait="quorum", reason="no quorum")
    if not still:
        return Outcome(tag, equiv, before, (), "stays down", reason="no eligible server")
    return Outcome(tag, equiv, before, still, "stays", reason="its holder is unaffected")
