"""What the health endpoints answer (docs/monitoring.md), as pure functions of one
snapshot and the control loop's age, so load balancers, monitors and ``standfast
status`` cannot disagree.

- healthy: the daemon answers and its control loop turned within ``LOOP_STALE`` s;
- ready: healthy, quorum held, and the configuration current (no live peer reports a
  newer one: replication would fetch it, and until then this server acts on an old
  view);
- in service here: this server's copy of the hierarchy named by a tag is ISP or ISU.

The answers carry nothing sensitive: no addresses, no resource properties, no other
hierarchy's tag.
"""

from __future__ import annotations

from dataclasses import dataclass

from standfast.engine.snapshot import ClusterSnapshot
from standfast.model.resources import Resource
from standfast.model.states import State

# The loop turns every 0.2 s; a watchdog-grade stall (a blocked event loop, a hang)
# shows long before this, and a busy 2-core host never comes near it.
LOOP_STALE = 5.0


@dataclass(frozen=True)
class Answer:
    """One endpoint's verdict and its (small, public) JSON body."""

    ok: bool
    body: dict[str, object]


def health(loop_age: float) -> Answer:
    turning = loop_age <= LOOP_STALE
    return Answer(
        turning,
        {"healthy": turning, "loop_turning": turning, "loop_age_seconds": round(loop_age, 3)},
    )


def config_current(snap: ClusterSnapshot) -> bool:
    """No live peer reports a newer configuration than this server's (newest wins:
    higher version, then higher digest, as replication decides)."""
    mine = (snap.config.version, snap.config.digest())
    return all(theirs <= mine for theirs in snap.peer_configs.values())


def readiness(snap: ClusterSnapshot, loop_age: float) -> Answer:
    turning = loop_age <= LOOP_STALE
    current = config_current(snap)
    ready = turning and snap.quorum and current
    return Answer(
        ready,
        {
            "ready": ready,
            "loop_turning": turning,
            "quorum": snap.quorum,
            "config_current": current,
            "config_version": snap.config.version,
        },
    )


def local_copy(snap: ClusterSnapshot, tag: str) -> Resource | bool | None:
    """This server's copy of the resource ``tag`` names (on this server, or on any
    server when this one gives that hierarchy another tag); False when no server has a
    resource ``tag``; None when the hierarchy exists but has no copy here."""
    config = snap.config
    mine = config.resources.get((snap.local, tag))
    if mine is not None:
        return mine
    elsewhere = [r for r in config.resources.values() if r.tag == tag]
    if not elsewhere:
        return False
    for r in elsewhere:
        if r.equiv:
            for copy in config.equivalents(r.equiv):
                if copy.server == snap.local:
                    return copy
    return None


def in_service_here(snap: ClusterSnapshot, tag: str) -> Answer | None:
    """Whether ``tag``'s hierarchy is in service on this server; None when no server
    has a resource ``tag`` (the caller answers 404)."""
    copy = local_copy(snap, tag)
    if copy is False:
        return None
    state = snap.state(snap.local, copy.tag) if isinstance(copy, Resource) else State.UNKNOWN
    here = state.in_service
    return Answer(here, {"tag": tag, "in_service": here, "state": str(state)})


__all__ = ["LOOP_STALE", "Answer", "config_current", "health", "in_service_here", "readiness"]
