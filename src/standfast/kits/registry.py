"""The kits this Standfast knows; an unknown kit is a numbered refusal, never a skip."""

from __future__ import annotations

from standfast.kits.app import AppKit
from standfast.kits.base import Kit
from standfast.kits.ip import IpKit
from standfast.kits.nas import FilesysKit, NasDeviceKit
from standfast.kits.ocf import OcfKit
from standfast.kits.systemd import SystemdKit
from standfast.messages import StandfastError

KITS: dict[str, Kit] = {
    k.name: k for k in (AppKit(), NasDeviceKit(), FilesysKit(), IpKit(), OcfKit(), SystemdKit())
}


def get_kit(name: str) -> Kit:
    try:
        return KITS[name]
    except KeyError:
        raise StandfastError("190010", kit=name, known=", ".join(sorted(KITS))) from None
