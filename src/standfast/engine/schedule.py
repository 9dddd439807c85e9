"""When a resource's next check is due: a stable slot per tag, so checks spread out.

Without it, resources that came into service together (a daemon start, one hierarchy
restored, 100 resources created in a row) are checked together for ever: each check
is rescheduled one interval after it ended, so a burst stays a burst, every check of
the burst wants a worker thread at once and their children start in the same cycle.

Each tag has a *phase* in ``[0, interval)``, from a hash of the tag (stable across
restarts and servers; Python's ``hash`` is salted per process, so not that). Its slots
are the instants ``phase + k * interval`` of the monotonic clock; with many tags the
phases spread evenly over the interval. After a check that ended at ``now`` the next
is due ``interval`` later, brought earlier by half of how far the tag's slot lies
before that instant: a check drifts half way to its slot each round (never jumps), so
a burst spreads over half the interval at once and over all of it within a few rounds,
and no two bursts form again (the shift is a one-to-one function of the phase).

Contract (SF_QUICKCHECK_INTERVAL, SF_DEEPCHECK_INTERVAL): the next check is due at
most ``interval`` after the last one ended, never later; the jitter bound is
``interval / 2``: it is due at least that long after, so even a check that ran late
is not run again at once. In the steady state a check starts every ``interval``, at
a stable offset of its own. The control loop's cycle (``role.TICK``) adds its usual
granularity on top, as before.
"""

from __future__ import annotations

import hashlib
import math

#: Largest share of the interval a check is brought earlier by.
JITTER = 0.5


def phase(tag: str, interval: float) -> float:
    """The tag's offset in ``[0, interval)``: the same on every call and every run."""
    digest = hashlib.blake2b(tag.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64 * interval


def next_due(tag: str, interval: float, now: float) -> float:
    """When the next check of ``tag`` is due after one that ended at ``now``: always in
    ``[now + interval * (1 - JITTER), now + interval]``."""
    if interval <= 0 or not math.isfinite(interval) or not math.isfinite(now):
        return now + interval
    latest = now + interval
    behind = (latest - phase(tag, interval)) % interval  # the slot is this long before
    return latest - JITTER * min(behind, interval)
