"""Pure helpers of the ``ip`` kit: address and interface names, ``ip -j`` output,
and the unsolicited IPv6 neighbour advertisement packet.

Nothing here touches the host; every function raises :class:`ValueError` with a
short reason that the kit turns into a numbered message.
"""

from __future__ import annotations

import ipaddress
import json
import re
import struct
from dataclasses import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: Linux IFNAMSIZ is 16 including the terminating NUL.
IFNAME_MAX = 15
#: Operational states in which an interface carries traffic (UNKNOWN: drivers
#: that do not report carrier, such as dummy and some tunnels).
UP_STATES = frozenset({"UP", "UNKNOWN"})

_HEX_MAC = re.compile(r"[0-9a-fA-F]{2}(?::[0-9a-fA-F]{2}){5}")


@dataclass(frozen=True)
class FloatingAddress:
    """A floating address with its prefix length, e.g. ``10.0.0.100/24``."""

    ip: IPAddress
    prefixlen: int

    @property
    def version(self) -> int:
        return self.ip.version

    @property
    def id(self) -> str:
        """The resource id: the address without its prefix."""
        return self.ip.compressed

    def __str__(self) -> str:
        return f"{self.ip.compressed}/{self.prefixlen}"

    def default_tag(self) -> str:
        """``ip-10.0.0.100``; an IPv6 address has its ``:`` replaced (tags allow none)."""
        return "ip-" + self.id.replace(":", "-")


def parse_address(text: str) -> FloatingAddress:
    """``A.B.C.D/prefix`` (a dotted netmask is accepted too) or ``IPv6/prefix``."""
    text = text.strip()
    if "/" not in text:
        raise ValueError("the prefix length is missing (write it as ADDRESS/PREFIX)")
    if "%" in text:
        raise ValueError("a scope (%interface) is not allowed; use the interface property")
    try:
        iface = ipaddress.ip_interface(text)
    except ValueError:
        raise ValueError("not an IPv4 or IPv6 address with a prefix length") from None
    ip, net = iface.ip, iface.network
    if ip.is_unspecified:
        raise ValueError("the unspecified address cannot float")
    if ip.is_loopback:
        raise ValueError("a loopback address cannot float")
    if ip.is_multicast:
        raise ValueError("a multicast address cannot float")
    if isinstance(ip, ipaddress.IPv6Address) and ip.is_link_local:
        raise ValueError("an IPv6 link-local address cannot float")
    if isinstance(ip, ipaddress.IPv4Address):
        if ip == ipaddress.IPv4Address("255.255.255.255"):
            raise ValueError("the broadcast address cannot float")
        if net.prefixlen <= 30 and ip in (net.network_address, net.broadcast_address):
            raise ValueError(f"{ip} is the network or broadcast address of {net}")
    return FloatingAddress(ip, net.prefixlen)


def check_interface_name(name: str) -> str:
    """A Linux interface name: 1-15 characters, no ``/``, ``:``, white space or NUL."""
    if not name or len(name) > IFNAME_MAX:
        raise ValueError(f"must be 1 to {IFNAME_MAX} characters")
    if name in (".", "..") or any(c in "/:" or c.isspace() or c == "\0" for c in name):
        raise ValueError("must not be . or .. nor contain /, :, white space or NUL")
    return name


@dataclass(frozen=True)
class LinkInfo:
    """One interface as ``ip -j addr show dev IF`` describes it."""

    name: str
    index: int
    operstate: str
    mac: str
    addresses: tuple[tuple[IPAddress, int], ...]

    @property
    def up(self) -> bool:
        return self.operstate in UP_STATES

    def prefix_of(self, ip: IPAddress) -> int | None:
        """The prefix length the address has on this interface, None when absent."""
        for have, prefixlen in self.addresses:
            if have == ip:
                return prefixlen
        return None


def parse_link_json(text: str, name: str) -> LinkInfo:
    """Parse ``ip -j addr show dev NAME``; raises ValueError on anything unexpected."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc}") from None
    if not isinstance(data, list):
        raise ValueError("not a JSON list")
    for link in data:
        if not isinstance(link, dict) or link.get("ifname") != name:
            continue
        addrs: list[tuple[IPAddress, int]] = []
        for info in link.get("addr_info") or []:
            if not isinstance(info, dict) or info.get("family") not in ("inet", "inet6"):
                continue
            try:
                ip = ipaddress.ip_address(str(info.get("local", "")).split("%", 1)[0])
                prefixlen = int(info.get("prefixlen", -1))
            except (TypeError, ValueError):
                continue
            addrs.append((ip, prefixlen))
        try:
            index = int(link.get("ifindex", 0))
        except (TypeError, ValueError):
            index = 0
        return LinkInfo(
            name=name,
            index=index,
            operstate=str(link.get("operstate", "UNKNOWN")),
            mac=str(link.get("address", "")),
            addresses=tuple(addrs),
        )
    raise ValueError(f"interface {name} is not in the output")


# -- IPv6 unsolicited neighbour advertisement (RFC 4861 section 7.2.6) ------------------

ND_NEIGHBOR_ADVERT = 136
ND_OPT_TARGET_LINKADDR = 2
NA_FLAG_OVERRIDE = 0x20000000
#: Neighbour discovery packets must arrive with hop limit 255 (RFC 4861 7.1.2).
ND_HOP_LIMIT = 255


def mac_bytes(mac: str) -> bytes:
    if not _HEX_MAC.fullmatch(mac):
        raise ValueError(f"not an Ethernet address: {mac!r}")
    return bytes(int(part, 16) for part in mac.split(":"))


def unsolicited_na(target: ipaddress.IPv6Address, mac: str) -> bytes:
    """The ICMPv6 body of an unsolicited NA (Override set, Solicited clear) carrying
    the target link-layer address option; the kernel fills in the checksum."""
    header = struct.pack("!BBHI", ND_NEIGHBOR_ADVERT, 0, 0, NA_FLAG_OVERRIDE)
    option = struct.pack("!BB", ND_OPT_TARGET_LINKADDR, 1) + mac_bytes(mac)
    return header + target.packed + option
