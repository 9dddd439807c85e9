"""When the daemon itself runs short of descriptors, memory or processes.

A check that cannot start its command or open its socket because *this process* is out
of file descriptors (EMFILE, ENFILE), memory (ENOMEM) or processes (EAGAIN from fork)
says nothing about the resource: failing the resource for it would move a healthy
hierarchy (an attacker holding the API's connections could force a failover). So such
errors are raised as :class:`HostStarved`, never turned into a failed check or an
unreachable NAS; the control loop logs 190420 (rate-limited) and tries the check again.
An action (restore, remove) that meets one fails with 190421 like any failed action.
"""

from __future__ import annotations

import errno

from standfast.messages import StandfastError

_WHAT = {
    errno.EMFILE: "file descriptors",
    errno.ENFILE: "file descriptors (system-wide)",
    errno.ENOMEM: "memory",
    errno.EAGAIN: "processes or memory",
}
#: errno values meaning the daemon lacks a resource, not that the target is broken.
STARVED_ERRNOS = frozenset(_WHAT)


class HostStarved(StandfastError):
    """This process lacks a resource to run ``command`` (190421)."""

    def __init__(self, command: str, exc: OSError) -> None:
        self.reason = _WHAT.get(exc.errno or 0, "a resource")
        super().__init__("190421", command=command, reason=self.reason, error=exc.strerror or exc)


def starved(exc: BaseException) -> bool:
    """Whether ``exc`` means this process is short of a resource."""
    return isinstance(exc, HostStarved) or (
        isinstance(exc, OSError)
        and not isinstance(exc, TimeoutError)
        and exc.errno in STARVED_ERRNOS
    )
