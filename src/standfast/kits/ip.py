"""The ``ip`` kit: a floating IP address on a named interface.

An application, its address and its NAS mount move together: restore adds the
address (after checking that no other host answers for it) and announces it with
a gratuitous ARP (IPv4, ``arping -U`` from iputils) or an unsolicited neighbour
advertisement (IPv6, sent here on a raw ICMPv6 socket); remove deletes it. The
quick check reads ``ip -j addr show dev IF``.

Conflict check: IPv4 uses ``arping -D`` (duplicate address detection, the exit
status tells); IPv6, or IPv4 without iputils arping, a bounded ``ping``. With
neither tool the restore is refused (190811) unless ``conflict_check`` is false.
"""

from __future__ import annotations

import functools
import ipaddress
import os
import shutil
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar

from standfast.host import system
from standfast.host.commands import CommandResult, run
from standfast.kits.base import (
    CheckResult,
    CreatePlan,
    CreateRequest,
    Kit,
    KitContext,
    require_tag_free,
)
from standfast.kits.ip_address import (
    ND_HOP_LIMIT,
    FloatingAddress,
    LinkInfo,
    check_interface_name,
    parse_address,
    parse_link_json,
    unsolicited_na,
)
from standfast.kits.schema import PropertySpec
from standfast.messages import StandfastError
from standfast.model.config import ClusterConfig
from standfast.model.resources import PropValue, Resource
from standfast.model.tags import validate_tag

#: Bound on one ``ip`` command (they answer in milliseconds unless netlink is stuck).
IP_COMMAND_TIMEOUT = 10.0
#: ``arping -D -c 2 -w 2`` ends by itself after 2 s; this bounds the process.
ARPING_DAD_TIMEOUT = 5.0
#: ``arping -U -c 2`` sends two packets one second apart.
ARPING_ANNOUNCE_TIMEOUT = 5.0
#: ``ping -c 1 -W 1`` ends by itself after 1 s.
PING_TIMEOUT = 4.0
#: Where ``ip``, ``arping`` and ``ping`` live when the daemon's PATH lacks sbin.
_TOOL_PATH = os.pathsep.join(("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin"))
_SYS_CLASS_NET = Path("/sys/class/net")
_OUTPUT_SHOWN = 400


class IpKit(Kit):
    name = "ip"
    description = "A floating IP address on a network interface"
    schema: ClassVar[tuple[PropertySpec, ...]] = (
        PropertySpec(
            "address",
            "str",
            "The floating address with its prefix length, e.g. 10.0.0.100/24 or fd00::100/64",
            required=True,
            mutable=False,
        ),
        PropertySpec(
            "interface", "str", "The network interface on this server, e.g. eth1", required=True
        ),
        PropertySpec(
            "arp_announce",
            "bool",
            "Send a gratuitous ARP (IPv4) or unsolicited neighbour advertisement (IPv6) "
            "after adding the address",
            True,
        ),
        PropertySpec(
            "conflict_check",
            "bool",
            "Refuse to add the address while another host answers for it",
            True,
        ),
        PropertySpec("check_timeout", "float", "Seconds allowed for a check", 5.0, minimum=0.1),
    )

    # -- create and extend -----------------------------------------------------------------

    def validate(
        self, props: Mapping[str, PropValue], ctx: KitContext | None = None
    ) -> dict[str, PropValue]:
        return _normalized(super().validate(props))

    def validate_edit(
        self,
        resource: Resource,
        changes: Mapping[str, PropValue],
        ctx: KitContext | None = None,
    ) -> dict[str, PropValue]:
        return _normalized(super().validate_edit(resource, changes))

    def plan_create(self, ctx: KitContext, req: CreateRequest, config: ClusterConfig) -> CreatePlan:
        props = self.validate(req.props)
        address = _address(props)
        interface = _interface(props)
        if req.id and req.id != address.id:
            try:
                same = ipaddress.ip_address(req.id) == address.ip
            except ValueError:
                same = False
            if not same:
                raise StandfastError("190816", id=req.id, address=address)
        if not interface_exists(interface):
            raise StandfastError("190802", interface=interface, server=ctx.server)
        _refuse_elsewhere(ctx, address, interface)
        tag = validate_tag(req.tag or address.default_tag())
        require_tag_free(config, ctx.server, tag, self.name, address.id)
        res = self.local_resource(ctx, req, tag, address.id, props)
        return CreatePlan((res,), (), tag)

    def default_tag(self, ctx: KitContext, req: CreateRequest) -> str:
        raw = req.props.get("address") or req.id or ""
        try:
            return parse_address(str(raw)).default_tag()
        except ValueError:
            return super().default_tag(ctx, req)

    def can_extend(self, ctx: KitContext, resource: Resource) -> None:
        """On the target: the interface exists and no interface holds the address."""
        address = _address(resource.props)
        interface = _interface(resource.props)
        if not interface_exists(interface):
            raise StandfastError("190802", interface=interface, server=ctx.server)
        for local in system.local_addresses():
            if local.address == address.ip:
                raise StandfastError(
                    "190804", address=address.id, other=local.interface, server=ctx.server
                )

    # -- actions ---------------------------------------------------------------------------

    def restore(self, ctx: KitContext, resource: Resource) -> None:
        address = _address(resource.props)
        interface = _interface(resource.props)
        link = self._link(ctx, resource, interface, IP_COMMAND_TIMEOUT)
        if link is None:
            raise StandfastError("190802", interface=interface, server=ctx.server)
        if not link.up:
            raise StandfastError(
                "190809", interface=interface, server=ctx.server, state=link.operstate
            )
        if link.prefix_of(address.ip) is not None:
            return
        _refuse_elsewhere(ctx, address, interface)
        if resource.props.get("conflict_check", True):
            self._conflict_check(ctx, resource, address, interface)
        argv = ["ip", "addr", "add", str(address), "dev", interface]
        if address.version == 6:
            argv.append("nodad")  # the conflict check above stands in for DAD
        self._command(resource, argv, IP_COMMAND_TIMEOUT)
        ctx.log.add("190813", address=address.id, interface=interface, server=ctx.server)
        if resource.props.get("arp_announce", True):
            self._announce(ctx, resource, address, link)

    def remove(self, ctx: KitContext, resource: Resource) -> None:
        address = _address(resource.props)
        interface = _interface(resource.props)
        link = self._link(ctx, resource, interface, IP_COMMAND_TIMEOUT)
        prefixlen = None if link is None else link.prefix_of(address.ip)
        if prefixlen is None:
            return
        target = f"{address.id}/{prefixlen}"
        self._command(resource, ["ip", "addr", "del", target, "dev", interface], IP_COMMAND_TIMEOUT)
        ctx.log.add("190814", address=address.id, interface=interface, server=ctx.server)

    def quick_check(self, ctx: KitContext, resource: Resource) -> CheckResult:
        address = _address(resource.props)
        interface = _interface(resource.props)
        timeout = float(resource.props.get("check_timeout", 5.0))
        try:
            link = self._link(ctx, resource, interface, timeout)
        except StandfastError as exc:
            return CheckResult(False, exc.code, dict(exc.params))
        if link is None:
            return CheckResult.bad("190802", interface=interface, server=ctx.server)
        if not link.up:  # first: a down interface also loses its IPv6 addresses
            return CheckResult.bad(
                "190809", interface=interface, server=ctx.server, state=link.operstate
            )
        if link.prefix_of(address.ip) is None:
            return CheckResult.bad(
                "190808", address=address.id, interface=interface, server=ctx.server
            )
        return CheckResult.good()

    # -- host work -------------------------------------------------------------------------

    def _link(
        self, ctx: KitContext, resource: Resource, interface: str, timeout: float
    ) -> LinkInfo | None:
        """The interface and its addresses; None when it does not exist."""
        argv = ["ip", "-j", "addr", "show", "dev", interface]
        result = _run(argv, timeout)
        if result.timed_out:
            raise StandfastError(
                "190807", command=" ".join(argv), tag=resource.tag, seconds=f"{timeout:g}"
            )
        if result.returncode != 0:
            if "does not exist" in result.stderr or not interface_exists(interface):
                return None
            raise _failed(resource, result)
        try:
            return parse_link_json(result.stdout, interface)
        except ValueError as exc:
            raise StandfastError("190815", interface=interface, reason=exc) from None

    def _command(self, resource: Resource, argv: list[str], timeout: float) -> CommandResult:
        result = _run(argv, timeout)
        if result.timed_out:
            raise StandfastError(
                "190807", command=" ".join(argv), tag=resource.tag, seconds=f"{timeout:g}"
            )
        if result.returncode != 0:
            raise _failed(resource, result)
        return result

    def _conflict_check(
        self, ctx: KitContext, resource: Resource, address: FloatingAddress, interface: str
    ) -> None:
        """Raise 190805 when another host answers for the address on the interface."""
        arping = iputils_arping() if address.version == 4 else None
        if arping is not None:
            argv = [arping, "-D", "-c", "2", "-w", "2", "-I", interface, address.id]
            result = _run(argv, ARPING_DAD_TIMEOUT)
            if result.timed_out:
                raise StandfastError(
                    "190807",
                    command=" ".join(argv),
                    tag=resource.tag,
                    seconds=f"{ARPING_DAD_TIMEOUT:g}",
                )
            if result.returncode == 0:  # DAD succeeded: no reply
                return
            if result.returncode == 1:  # a reply: someone holds it
                raise StandfastError(
                    "190805",
                    address=address.id,
                    interface=interface,
                    method="arping -D",
                    server=ctx.server,
                )
            raise _failed(resource, result)
        ping = _which("ping")
        if ping is None:
            raise StandfastError("190811", address=address.id)
        # Probes every 0.2 s until one is answered or 2 s passed: the kernel retries an
        # unanswered ARP request only after 1 s, so a shorter wait could miss a conflict.
        # (This fallback only runs without iputils arping.)
        argv = [ping, "-c", "1", "-i", "0.2", "-w", "2", "-I", interface, address.id]
        result = _run(argv, PING_TIMEOUT)
        # Only a reply is a conflict: no reply (1) or no route (2) means nobody answered.
        if result.ok:
            raise StandfastError(
                "190805", address=address.id, interface=interface, method="ping", server=ctx.server
            )

    def _announce(
        self, ctx: KitContext, resource: Resource, address: FloatingAddress, link: LinkInfo
    ) -> None:
        """Tell switches and neighbours; a failure is only a warning (the address is up)."""
        if isinstance(address.ip, ipaddress.IPv6Address):
            try:
                send_unsolicited_na(address.ip, link)
            except (OSError, ValueError) as exc:
                ctx.log.add("190812", address=address.id, interface=link.name, reason=exc)
            return
        arping = iputils_arping()
        if arping is None:
            ctx.log.add("190810", address=address.id, interface=link.name)
            return
        argv = [arping, "-U", "-c", "2", "-I", link.name, address.id]
        result = _run(argv, ARPING_ANNOUNCE_TIMEOUT)
        if not result.ok:
            ctx.log.add("190812", address=address.id, interface=link.name, reason=result.summary())


# -- module helpers ----------------------------------------------------------------------


def _normalized(props: dict[str, PropValue]) -> dict[str, PropValue]:
    """Checked properties with the address in its canonical ``ip/prefix`` form."""
    props["address"] = str(_address(props))
    _interface(props)
    return props


def _address(props: Mapping[str, PropValue]) -> FloatingAddress:
    raw = str(props.get("address", ""))
    try:
        return parse_address(raw)
    except ValueError as exc:
        raise StandfastError("190801", address=raw, reason=exc) from None


def _interface(props: Mapping[str, PropValue]) -> str:
    raw = str(props.get("interface", ""))
    try:
        return check_interface_name(raw)
    except ValueError as exc:
        raise StandfastError("190803", interface=raw, reason=exc) from None


def interface_exists(interface: str) -> bool:
    return (_SYS_CLASS_NET / interface).exists()


def _refuse_elsewhere(ctx: KitContext, address: FloatingAddress, interface: str) -> None:
    for local in system.local_addresses():
        if local.address == address.ip and local.interface != interface:
            raise StandfastError(
                "190804", address=address.id, other=local.interface, server=ctx.server
            )


def _which(tool: str) -> str | None:
    return shutil.which(tool) or shutil.which(tool, path=_TOOL_PATH)


def _run(argv: list[str], timeout: float) -> CommandResult:
    exe = _which(argv[0])
    return run([exe or argv[0], *argv[1:]], timeout=timeout)


def _failed(resource: Resource, result: CommandResult) -> StandfastError:
    output = (result.stderr or result.stdout).strip()[-_OUTPUT_SHOWN:]
    return StandfastError(
        "190806",
        command=" ".join(result.argv),
        tag=resource.tag,
        status=result.returncode,
        output=output,
    )


@functools.cache
def _arping_is_iputils(path: str) -> bool:
    """iputils arping and Thomas Habets' arping share a name, not their options."""
    result = run([path, "-V"], timeout=2.0)
    return "iputils" in (result.stdout + result.stderr)


def iputils_arping() -> str | None:
    """Path of iputils ``arping``, None when it (rather than another arping) is missing."""
    path = _which("arping")
    return path if path is not None and _arping_is_iputils(path) else None


def send_unsolicited_na(target: ipaddress.IPv6Address, link: LinkInfo) -> None:
    """Two unsolicited NAs for ``target`` to all nodes (ff02::1) out of ``link``."""
    packet = unsolicited_na(target, link.mac)
    with socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6) as sock:
        sock.settimeout(1.0)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, link.name.encode())
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, ND_HOP_LIMIT)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, link.index)
        sock.bind((target.compressed, 0, 0, link.index))
        for _ in range(2):
            sock.sendto(packet, ("ff02::1", 0, 0, link.index))
