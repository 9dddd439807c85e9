"""Agreed membership: which servers a server may count as its partition.

A server's own view of whom it hears is not a quorum: after a non-transitive cut
(server1 and server3 no longer hear each other, both still hear server2) each would
count 2 of 3 votes and both could run the same hierarchy. As corosync agrees one
membership in which every member reaches every other, each server here:

1. publishes whom it hears (``sees``: peers heard within the fresh window, itself
   included) in its heartbeat report;
2. chooses its partition: starting from itself, it adds the servers it hears, first
   those of its previous partition, then the others, each group in name order, each
   only if it and every member already chosen hear each other (as each reports); every
   member hears every other, and a server coming back joins the established members
   instead of displacing one of them (which would cost them their quorum for a moment);
3. publishes that partition (``pt``);
4. counts, for quorum, only the members of its partition that count it in theirs.

A server heard by two sides that no longer hear each other (server2 above) is in one
partition only, so at most one side keeps a majority. Pure functions; tests are
table-driven (``tests/unit/test_partition.py``).

Timing (``takeover_margin``): a server learns that a peer stopped counting it from that
peer's next heartbeat. When that heartbeat is lost (the link went down just then), the
server keeps the peer's older report, and with it its quorum, until the peer is no
longer fresh: up to one fresh window after the peer changed its partition. A server
that takes over the hierarchies of a server nobody counts any more (without fencing)
waits that long, and one cycle more, from when it saw the last peer stop counting it
(found by bench/chaos.py, seed 181: a margin of one cycle ran appB twice for 0.17 s).
"""

from __future__ import annotations

from collections.abc import Mapping


def fresh_window(interval: float, miss_count: int) -> float:
    """How recently a peer must have been heard to count (``Membership.fresh_peers``):
    two intervals shorter than the failure detection (``interval * miss_count``), so a
    cut-off server gives up its quorum before the others declare it failed."""
    return interval * max(miss_count - 2, 1)


def takeover_margin(interval: float, miss_count: int, tick: float) -> float:
    """Seconds a server waits, once no live server counts a failed holder in its
    partition, before it restores that holder's hierarchies without fencing: the
    holder's own view of its quorum may be one fresh window old, and it needs one cycle
    (``tick``) to see that and begin taking them down, plus 0.1 s for the heartbeat in
    flight. The holder's own remove time is not covered: with fencing or a watchdog it
    need not be."""
    return fresh_window(interval, miss_count) + tick + 0.1


def choose_partition(
    local: str,
    sees: frozenset[str],
    reported: Mapping[str, frozenset[str]],
    previous: frozenset[str] = frozenset(),
) -> frozenset[str]:
    """The partition ``local`` counts itself in: a set of servers that all hear each
    other, ``local`` included. ``sees``: whom ``local`` hears; ``reported``: whom each
    peer says it hears (a peer without a report is left out); ``previous``: the
    partition it chose last (its members are tried first)."""

    def mutual(a: str, b: str) -> bool:
        heard_by_a = sees if a == local else reported.get(a, frozenset())
        heard_by_b = sees if b == local else reported.get(b, frozenset())
        return b in heard_by_a and a in heard_by_b

    chosen = {local}
    candidates = sees - {local}
    for peer in sorted(candidates & previous) + sorted(candidates - previous):
        if peer in reported and all(mutual(peer, m) for m in chosen):
            chosen.add(peer)
    return frozenset(chosen)


def agreed_voters(
    local: str, partition: frozenset[str], partitions: Mapping[str, frozenset[str]]
) -> frozenset[str]:
    """The peers of ``local``'s partition that count ``local`` in their own."""
    return frozenset(p for p in partition - {local} if local in partitions.get(p, frozenset()))


def still_counted(
    server: str, alive: frozenset[str], partitions: Mapping[str, frozenset[str]]
) -> frozenset[str]:
    """The live servers whose published partition still includes ``server``."""
    return frozenset(p for p in alive if p != server and server in partitions.get(p, frozenset()))
