"""Whether an export's client list admits a server, as ganesha reports the list.

Ganesha (checked against nfs-ganesha 4.3) reports client entries as ``a.b.c.d/32`` for
a single host (host names are resolved to addresses when ganesha reads its
configuration), ``net/len`` for networks, ``*`` for everyone, wildcards verbatim
(``*.example.com``), and netgroups *without* their ``@``. An export with no client
restriction has an empty list (``showmount`` prints ``(everyone)``). Pure: no look-ups.
"""

from __future__ import annotations

import fnmatch
import ipaddress
from collections.abc import Sequence

from standfast.nfs.resolve import IPAddress, ip_literal

_EVERYONE = {"*", "(everyone)"}


def _match_network(entry: str, addresses: Sequence[IPAddress]) -> bool | None:
    """True/False if ``entry`` is an IP address or network, None if it is neither."""
    literal = ip_literal(entry)
    if literal is not None:
        return any(_same_address(literal, address) for address in addresses)
    if "/" not in entry:
        return None
    try:
        network = ipaddress.ip_network(entry, strict=False)
    except ValueError:
        return None
    return any(
        _normalise(address) in network
        for address in addresses
        if _normalise(address).version == network.version
    )


def _normalise(address: IPAddress) -> IPAddress:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _same_address(a: IPAddress, b: IPAddress) -> bool:
    return _normalise(a) == _normalise(b)


def client_allowed(
    clients: Sequence[str], addresses: Sequence[IPAddress], hostnames: Sequence[str]
) -> bool:
    """Whether an export's client list admits a server with these addresses and names.

    - an empty list, ``*`` and ``(everyone)`` admit everyone;
    - an IP address matches exactly (``a.b.c.d/32`` and ``x::y/128`` too, as ganesha
      reports single hosts);
    - a network matches in CIDR (``10.0.0.0/24``) or netmask (``10.0.0.0/255.255.255.0``)
      form;
    - anything else is a host name or wildcard (``*.example.com``, ``server?``,
      ``host[0-9]``), matched case-insensitively with :mod:`fnmatch` against
      ``hostnames`` (a trailing dot is ignored on both sides);
    - ``@netgroup`` entries are not evaluated (NIS netgroups are not looked up here)
      and never match. Ganesha reports netgroups without the ``@``, so there they are
      treated as host names: a host named exactly like the netgroup would match.
    """
    entries = [entry.strip() for entry in clients if entry.strip()]
    if not entries:
        return True
    names = [name.strip().rstrip(".").lower() for name in hostnames if name.strip()]
    for entry in entries:
        if entry in _EVERYONE:
            return True
        if entry.startswith("@"):
            continue
        network_match = _match_network(entry, addresses)
        if network_match is not None:
            if network_match:
                return True
            continue
        pattern = entry.rstrip(".").lower()
        if any(fnmatch.fnmatchcase(name, pattern) for name in names):
            return True
    return False


__all__ = ["client_allowed"]
