"""Facts about this server and the halt action."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Sequence
from dataclasses import dataclass

import psutil

from standfast.host.commands import CommandResult, run

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# --no-sync: see SF_HALT_COMMAND in config/tunables.py.
DEFAULT_HALT_COMMAND: tuple[str, ...] = ("/sbin/poweroff", "--force", "--no-sync")


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


def halt(command: Sequence[str] = DEFAULT_HALT_COMMAND, *, timeout: float) -> CommandResult:
    """Run the configured halt command (the caller passes SF_HALT_COMMAND).

    The older form of :func:`standfast.host.power.halt`, which raises
    :class:`~standfast.host.power.HaltError` instead of returning a failed result and
    documents its bound (:func:`~standfast.host.power.halt_deadline`).
    """
    return run(command, timeout=timeout)
