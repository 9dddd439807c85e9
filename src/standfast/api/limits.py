"""The API's limits: how many connections, how long a request may take to arrive, how
large it may be, and how often the same complaint reaches the log.

- :class:`ApiLimits`: every limit, each from a ``STANDFAST_*`` variable of the daemon
  (bad values: 194062, the default stays), scaled down to the descriptor budget
  (:meth:`ApiLimits.within_descriptors`) so the listeners together never hold more than
  half of the open-file limit: the rest is the daemon's own reserve for its checks,
  actions, heartbeats, database and logs.
- :class:`~standfast.host.connections.ConnectionGuard` (here for the API's use):
  admission of one listener's connections.
- :class:`RepeatFilter`: a logging filter that lets one record of a kind through per
  :data:`LOG_EVERY` seconds and reports how many it left out (194097).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from typing import Any, Final

from standfast.host.connections import ConnectionGuard, nofile_limit, peer_connection_limit
from standfast.messages import Notice

log = logging.getLogger("standfast.api")

LOG_EVERY: Final = 10.0  # seconds between two log lines about the same thing

Clock = Callable[[], float]


@dataclass(frozen=True)
class ApiLimits:
    """The limits of the remote API, the local socket and the peer channel.

    Times are seconds, sizes bytes. ``max_connections`` and ``local_max_connections``
    are upper bounds: :meth:`within_descriptors` lowers them to fit the descriptor
    limit. The peer channel's limit is its own (an eighth of the descriptors, see
    :func:`~standfast.host.connections.peer_connection_limit`).
    """

    max_connections: int = 256  # remote API, in all
    max_per_source: int = 32  # remote API, per client address
    local_max_connections: int = 128  # local Unix socket, in all
    local_max_per_user: int = 32  # local Unix socket, per uid
    header_timeout: float = 10.0  # TLS handshake, and each request's line and headers
    body_timeout: float = 30.0  # a request's body, from its headers on
    max_body: int = 1048576
    max_json_depth: int = 32
    max_json_digits: int = 64
    login_failures: int = 5  # failures (per source, and per account) before a lockout
    login_lockout: float = 30.0  # first lockout; doubles with each further failure
    login_lockout_max: float = 900.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> tuple[ApiLimits, list[Notice]]:
        """Each field from ``STANDFAST_`` + its upper-case name, with the aliases of
        :data:`ENV_NAMES` (for example ``STANDFAST_API_MAX_BODY``). A value that is not
        a number in its range gives 194062 and keeps the default; never raises."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        notices: list[Notice] = []
        for f in fields(cls):
            name = ENV_NAMES[f.name]
            raw = env.get(name, "").strip()
            if not raw:
                continue
            low, high = _RANGES[f.name]
            try:
                value: float = int(raw) if f.type in ("int", int) else float(raw)
                if not low <= value <= high:
                    raise ValueError(f"must be {low:g} to {high:g}")
            except ValueError as exc:
                reason = str(exc) if "must be" in str(exc) else "not a number"
                notices.append(Notice.of("194062", name=name, value=raw, reason=reason))
                continue
            values[f.name] = value
        return replace(cls(), **values), notices

    def within_descriptors(self, nofile: int) -> ApiLimits:
        """These limits with the connection counts lowered so that the remote API takes
        at most a quarter of ``nofile`` descriptors, the local socket and the peer
        channel (its own limit) an eighth each: half stays for the daemon itself. Idempotent."""
        remote = max(4, min(self.max_connections, nofile // 4))
        local = max(4, min(self.local_max_connections, nofile // 8))
        return replace(
            self,
            max_connections=remote,
            max_per_source=min(self.max_per_source, remote),
            local_max_connections=local,
            local_max_per_user=min(self.local_max_per_user, local),
        )


ENV_NAMES: Final[Mapping[str, str]] = {
    "max_connections": "STANDFAST_API_MAX_CONNECTIONS",
    "max_per_source": "STANDFAST_API_MAX_PER_SOURCE",
    "local_max_connections": "STANDFAST_LOCAL_MAX_CONNECTIONS",
    "local_max_per_user": "STANDFAST_LOCAL_MAX_PER_USER",
    "header_timeout": "STANDFAST_API_HEADER_TIMEOUT",
    "body_timeout": "STANDFAST_API_BODY_TIMEOUT",
    "max_body": "STANDFAST_API_MAX_BODY",
    "max_json_depth": "STANDFAST_API_MAX_JSON_DEPTH",
    "max_json_digits": "STANDFAST_API_MAX_JSON_DIGITS",
    "login_failures": "STANDFAST_LOGIN_FAILURES",
    "login_lockout": "STANDFAST_LOGIN_LOCKOUT",
    "login_lockout_max": "STANDFAST_LOGIN_LOCKOUT_MAX",
}

_RANGES: Final[Mapping[str, tuple[float, float]]] = {
    "max_connections": (4, 65536),
    "max_per_source": (1, 65536),
    "local_max_connections": (4, 65536),
    "local_max_per_user": (1, 65536),
    "header_timeout": (0.5, 300),
    "body_timeout": (0.5, 3600),
    "max_body": (1024, 1 << 30),
    "max_json_depth": (2, 1000),
    "max_json_digits": (16, 4000),
    "login_failures": (1, 1000),
    "login_lockout": (0.1, 86400),
    "login_lockout_max": (0.1, 86400),
}


__all__ = [
    "ENV_NAMES",
    "LOG_EVERY",
    "ApiLimits",
    "ConnectionGuard",
    "RepeatFilter",
    "install_repeat_filter",
    "nofile_limit",
    "peer_connection_limit",
]


class RepeatFilter(logging.Filter):
    """Lets the first record of a kind (logger, level, message text, exception type)
    through, then at most one per ``every`` seconds; the next one through says
    how many were left out (194097). Memory is bounded: at most ``max_kinds`` kinds are
    remembered (the table is cleared when full)."""

    def __init__(
        self, every: float = LOG_EVERY, clock: Clock = time.monotonic, max_kinds: int = 1024
    ) -> None:
        super().__init__()
        self.every = every
        self._clock = clock
        self._max_kinds = max_kinds
        self._seen: dict[tuple[str, int, str, str], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        # One record goes through several handlers: decide once, for all of them.
        decided = getattr(record, "_standfast_repeat", None)
        if isinstance(decided, bool):
            return decided
        decision = self._decide(record)
        record._standfast_repeat = decision
        return decision

    def _decide(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[0].__name__ if record.exc_info and record.exc_info[0] else ""
        # The whole text, not the template: lines that differ (two resources' BEGIN
        # lines) are never taken for repeats.
        text = record.getMessage()
        kind = (record.name, record.levelno, text, exc)
        now = self._clock()
        seen = self._seen.get(kind)
        if seen is not None and now - seen[0] < self.every:
            self._seen[kind] = (seen[0], seen[1] + 1)
            return False
        if len(self._seen) >= self._max_kinds:
            self._seen.clear()
        self._seen[kind] = (now, 0)
        if seen is not None and seen[1]:
            summary = Notice.of(
                "194097",
                count=seen[1],
                seconds=round(now - seen[0]),
                message=text[:200],
            ).text("en")
            record.msg, record.args = f"{text} [{summary}]", None
        return True


def install_repeat_filter(handlers_of: logging.Logger, *others: str) -> RepeatFilter:
    """One :class:`RepeatFilter` on every handler of ``handlers_of`` and on the loggers
    named in ``others`` (asyncio's accept loop, uvicorn), so that no flood of identical
    lines (EMFILE tracebacks) can fill the disk. Idempotent per handler."""
    flt = RepeatFilter()
    for h in handlers_of.handlers:
        for old in [f for f in h.filters if isinstance(f, RepeatFilter)]:
            h.removeFilter(old)
        h.addFilter(flt)
    for name in others:
        lg = logging.getLogger(name)
        for old in [f for f in lg.filters if isinstance(f, RepeatFilter)]:
            lg.removeFilter(old)
        lg.addFilter(flt)
    return flt
