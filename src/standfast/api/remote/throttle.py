"""Login throttling: per source address and per account, and one PAM check at a time
per source.

- After ``failures`` failed logins from one source, or for one account, that source
  (or account) is locked out for ``lockout`` seconds; each further failure after a
  lockout doubles it, up to ``lockout_max``. A lockout refuses without asking PAM
  (194094, HTTP 429, ``Retry-After``). A success clears the account's and the source's
  failures. Failures older than ``lockout_max`` are forgotten.
- While a source has a login being checked by PAM, its other logins are refused at
  once (194095): one client cannot take every PAM slot, so other sources' logins wait
  for at most the slots other sources hold.

Pure: the clock is injected; nothing here waits. Memory is bounded by
:data:`MAX_TRACKED` entries per table (the oldest are forgotten first).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

MAX_TRACKED: Final = 10000


@dataclass
class _Failures:
    count: int
    last: float
    until: float  # locked out until then (0: not locked)


class LoginThrottle:
    def __init__(
        self,
        failures: int = 5,
        lockout: float = 30.0,
        lockout_max: float = 900.0,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.failures = failures
        self.lockout = lockout
        self.lockout_max = max(lockout, lockout_max)
        self.clock = clock
        self._by_source: OrderedDict[str, _Failures] = OrderedDict()
        self._by_user: OrderedDict[str, _Failures] = OrderedDict()
        self._checking: set[str] = set()

    def locked_for(self, source: str, user: str) -> float:
        """Seconds until ``source`` may try ``user`` again (0: now)."""
        now = self.clock()
        waits = [
            rec.until - now
            for rec in (self._get(self._by_source, source), self._get(self._by_user, user))
            if rec is not None
        ]
        return max([0.0, *waits])

    def begin(self, source: str) -> bool:
        """Start a PAM check for ``source``; False while another of its checks runs.
        True obliges the caller to :meth:`end` it."""
        if source in self._checking:
            return False
        self._checking.add(source)
        return True

    def end(self, source: str) -> None:
        self._checking.discard(source)

    def failed(self, source: str, user: str) -> None:
        """Count a failed password for ``user`` from ``source``."""
        now = self.clock()
        self._fail(self._by_source, source, now)
        self._fail(self._by_user, user, now)

    def succeeded(self, source: str, user: str) -> None:
        self._by_source.pop(source, None)
        self._by_user.pop(user, None)

    def _get(self, table: OrderedDict[str, _Failures], key: str) -> _Failures | None:
        rec = table.get(key)
        if (
            rec is not None
            and self.clock() - rec.last > self.lockout_max
            and (rec.until <= self.clock())
        ):
            del table[key]  # forgotten: old failures and no lockout left
            return None
        return rec

    def _fail(self, table: OrderedDict[str, _Failures], key: str, now: float) -> None:
        rec = self._get(table, key)
        if rec is None:
            rec = _Failures(0, now, 0.0)
        rec.count += 1
        rec.last = now
        over = rec.count - self.failures
        if over >= 0:
            rec.until = now + min(self.lockout * 2.0 ** min(over, 40), self.lockout_max)
        table[key] = rec
        table.move_to_end(key)
        while len(table) > MAX_TRACKED:
            table.popitem(last=False)
