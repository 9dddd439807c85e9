"""Errors raised by the NFS protocol-level checks.

Every error carries the server (``host``), what was being done (``what``, e.g.
``"MOUNT EXPORT"``) and how long the attempt took (``elapsed``, seconds), so a kit
can log a precise line and map the failure to a catalogue message.
"""

from __future__ import annotations

__all__ = ["NfsCheckError", "NfsProtocolError", "NfsTimeout", "NfsUnreachable"]


class NfsCheckError(Exception):
    """Base class: an NFS-level check could not complete."""

    def __init__(self, host: str, what: str, elapsed: float, detail: str = "") -> None:
        self.host = host
        self.what = what
        self.elapsed = elapsed
        self.detail = detail
        text = f"{what} on {host} failed after {elapsed:.3f}s"
        if detail:
            text += f": {detail}"
        super().__init__(text)

    def __reduce__(self) -> tuple[type[NfsCheckError], tuple[str, str, float, str]]:
        return (type(self), (self.host, self.what, self.elapsed, self.detail))


class NfsTimeout(NfsCheckError):
    """No answer before the deadline: the server is hung, overloaded or unreachable
    without a clean error (packets dropped)."""


class NfsUnreachable(NfsCheckError):
    """The server actively refused or could not be routed to (connection refused,
    no route to host, network unreachable, name does not resolve)."""


class NfsProtocolError(NfsCheckError):
    """The server answered, but not with a usable reply: malformed data, program
    or procedure unavailable, version mismatch, or an authentication error."""
