"""Admission of a listener's connections, and the process's descriptor limit.

:class:`ConnectionGuard` admits at most ``max_total`` connections at once and at most
``max_per_source`` from one source (an address, a uid). Pure counting, O(1), never
waits; a refusal is counted and logged as 194096 at most once per :data:`LOG_EVERY`
seconds per listener. Used by the remote API, the local socket and the peer channel.
"""

from __future__ import annotations

import logging
import resource
import time
from collections import Counter
from collections.abc import Callable
from typing import Final

from standfast.messages import Notice

log = logging.getLogger("standfast.api")

LOG_EVERY: Final = 10.0

Clock = Callable[[], float]


def nofile_limit() -> int:
    """This process's open-file limit (the soft one: what ``open`` and ``accept`` meet)."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return soft if soft != resource.RLIM_INFINITY else 1 << 20


PEER_MAX_CONNECTIONS: Final = 128
PEER_MAX_PER_SOURCE: Final = 32


def peer_connection_limit(nofile: int) -> int:
    """The peer channel's connections in all: an eighth of the descriptors, at most
    :data:`PEER_MAX_CONNECTIONS` (authentic peers keep one per path and request)."""
    return max(4, min(PEER_MAX_CONNECTIONS, nofile // 8))


class ConnectionGuard:
    """Admits a listener's connections: at most ``max_total`` at once, at most
    ``max_per_source`` from one source. ``admit`` answers at once (True: the caller
    must ``release`` exactly once when the connection ends; False: close it now).
    Refusals are counted (``refused``) and logged as 194096, at most once per
    :data:`LOG_EVERY` seconds, with the count since the last line."""

    def __init__(
        self,
        listener: str,
        max_total: int,
        max_per_source: int,
        *,
        clock: Clock = time.monotonic,
        logger: logging.Logger = log,
    ) -> None:
        self.listener = listener
        self.max_total = max_total
        self.max_per_source = max_per_source
        self.refused = 0
        self._clock = clock
        self._log = logger
        self._open: Counter[str] = Counter()
        self._total = 0
        self._unlogged = 0
        self._last_log: float | None = None

    @property
    def total(self) -> int:
        return self._total

    def count(self, source: str) -> int:
        return self._open.get(source, 0)

    def admit(self, source: str) -> bool:
        if self._total >= self.max_total:
            self._refuse(source, f"{self._total} connections open, the limit in all")
            return False
        if self._open[source] >= self.max_per_source:
            self._refuse(source, f"{self._open[source]} open from it, the limit per source")
            return False
        self._open[source] += 1
        self._total += 1
        return True

    def release(self, source: str) -> None:
        n = self._open.get(source, 0)
        if n <= 0:
            return  # never admitted (or released twice): nothing to give back
        if n == 1:
            del self._open[source]
        else:
            self._open[source] = n - 1
        self._total -= 1

    def _refuse(self, source: str, reason: str) -> None:
        self.refused += 1
        self._unlogged += 1
        now = self._clock()
        if self._last_log is not None and now - self._last_log < LOG_EVERY:
            return
        self._last_log = now
        notice = Notice.of(
            "194096", count=self._unlogged, listener=self.listener, source=source, reason=reason
        )
        self._unlogged = 0
        self._log.warning(notice.text("en"))
