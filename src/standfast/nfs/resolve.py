"""Host names to addresses for the NFS checks, never waiting past a deadline.

An IP literal needs no look-up. A name is resolved by ``getaddrinfo`` in a daemon
thread shared by every caller asking for that name while it is in flight; a resolver
that does not answer in time gives :class:`~standfast.nfs.errors.NfsTimeout` (the thread
is left to finish on its own), a name that does not resolve
:class:`~standfast.nfs.errors.NfsUnreachable`. Synchronous: run it in a worker thread.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time

from standfast.nfs import rpc
from standfast.nfs.errors import NfsTimeout, NfsUnreachable

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def ip_literal(name: str) -> IPAddress | None:
    """The address ``name`` spells (``10.0.0.1``, ``::1``, ``[::1]``), or None."""
    text = name.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


class _Lookup:
    """One getaddrinfo in flight; every caller asking for the same name shares it."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.done = threading.Event()
        self.outcome: list[IPAddress] | BaseException = []

    def run(self) -> None:
        try:
            infos = socket.getaddrinfo(self.name, None, type=socket.SOCK_STREAM)
            found: list[IPAddress] = []
            for _family, _type, _proto, _canon, sockaddr in infos:
                address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
                if address not in found:
                    found.append(address)
            self.outcome = found
        except BaseException as exc:  # handed to the waiting callers
            self.outcome = exc
        finally:
            with _lookups_lock:
                if _lookups.get(self.name) is self:
                    del _lookups[self.name]
            self.done.set()


_lookups: dict[str, _Lookup] = {}
_lookups_lock = threading.Lock()


def resolve_host(name: str, *, timeout: float) -> list[IPAddress]:
    """Resolve ``name`` to its addresses, never waiting longer than ``timeout``.

    An IP literal (``10.0.0.1``, ``::1``, ``[::1]``) returns itself without any
    look-up. A name is resolved by ``getaddrinfo`` in a daemon thread; if the resolver
    does not answer in time, :class:`NfsTimeout` is raised and the thread is left to
    finish on its own (it holds no locks of ours). Callers asking for a name whose
    look-up is still in flight wait for that same look-up, so a hung resolver costs
    one thread per name, not one per check. A name that does not resolve raises
    :class:`NfsUnreachable`.
    """
    literal = ip_literal(name)
    if literal is not None:
        return [literal]
    started = time.monotonic()
    with _lookups_lock:
        lookup = _lookups.get(name)
        if lookup is None:
            lookup = _lookups[name] = _Lookup(name)
            threading.Thread(target=lookup.run, name=f"resolve-{name[:40]}", daemon=True).start()
    if not lookup.done.wait(max(timeout, 0.0)):
        raise NfsTimeout(
            name, "name resolution", time.monotonic() - started, "resolver did not answer"
        )
    elapsed = time.monotonic() - started
    outcome = lookup.outcome
    if isinstance(outcome, BaseException):
        raise NfsUnreachable(name, "name resolution", elapsed, str(outcome)) from outcome
    if not outcome:
        raise NfsUnreachable(name, "name resolution", elapsed, "no addresses")
    return list(outcome)


def address_of(host: str, deadline: float) -> str:
    """``host``'s first address as text, resolved by the monotonic ``deadline``."""
    literal = ip_literal(host)
    if literal is not None:
        return str(literal)
    return str(resolve_host(host, timeout=rpc.remaining(deadline))[0])


__all__ = ["IPAddress", "address_of", "ip_literal", "resolve_host"]
