"""Facts about this server: its addresses and its host name (the halt action is
:func:`standfast.host.power.halt`)."""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass

import psutil

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class LocalAddress:
    interface: str
    address: IPAddress
    loopback: bool


def local_addresses() -> list[LocalAddress]:
    """Every IPv4/IPv6 address on this server; loopback ones are flagged."""
    out: list[LocalAddress] = []
    for name, addrs in sorted(psutil.net_if_addrs().items()):
        for a in addrs:
            if a.family not in (socket.AF_INET, socket.AF_INET6):
                continue
            try:
                ip = ipaddress.ip_address(str(a.address).split("%", 1)[0])
            except ValueError:
                continue
            out.append(LocalAddress(interface=name, address=ip, loopback=ip.is_loopback))
    return out


def hostname() -> str:
    """This server's host name as the kernel knows it (uname nodename)."""
    return socket.gethostname()
