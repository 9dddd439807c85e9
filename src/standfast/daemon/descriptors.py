"""The daemon's open-file limit: raised at start, and shared out so its own checks and
actions always have descriptors left.

The soft limit is raised to the hard one (at most :data:`WANTED`); the systemd unit
sets ``LimitNOFILE=65536``. The listeners' connection limits are then computed from
the result (:meth:`standfast.api.limits.ApiLimits.within_descriptors`): together they
take at most half of it.
"""

from __future__ import annotations

import resource
from typing import Final

from standfast.messages import Notice

WANTED: Final = 65536  # more buys nothing, and some libraries scan every descriptor


def raise_nofile(wanted: int = WANTED) -> tuple[int, list[Notice]]:
    """Raise this process's soft RLIMIT_NOFILE to ``min(hard, wanted)`` (never lowers
    it). Returns the soft limit in force and a 194099 notice when raising failed.
    Idempotent; never raises."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(hard, wanted)
    if soft != resource.RLIM_INFINITY and soft >= target:
        return soft, []
    if soft == resource.RLIM_INFINITY:
        return 1 << 20, []
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (OSError, ValueError) as exc:
        return soft, [Notice.of("194099", soft=soft, wanted=target, reason=exc)]
    return target, []
