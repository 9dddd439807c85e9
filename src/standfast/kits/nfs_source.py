"""Pure helpers for NFS mount sources and options (unit-tested without mounts)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from standfast.messages import StandfastError

# Options the kernel reports that describe this mount instance rather than what
# was asked for; passing them back to mount(8) would pin the old address.
_INSTANCE_OPTIONS = ("addr=", "clientaddr=", "mountaddr=", "namlen=")
# Per-mount flags that mount(8) applies anyway or that do not round-trip.
_VFS_NOISE = ("relatime", "noatime", "nodiratime", "strictatime", "lazytime")


@dataclass(frozen=True)
class NfsSource:
    host: str
    export: str

    @property
    def is_ip(self) -> bool:
        try:
            ipaddress.ip_address(self.host)
        except ValueError:
            return False
        return True

    def with_host(self, host: str) -> NfsSource:
        return NfsSource(host, self.export)

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.export}"


def parse_source(text: str) -> NfsSource:
    """``host:/export`` or ``[v6addr]:/export``; 107004 on anything else."""
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]:")
    else:
        host, sep, rest = text.partition(":")
    if not sep or not host or not rest.startswith("/"):
        raise StandfastError("107004", device=text)
    return NfsSource(host, rest)


def device_id(source: NfsSource) -> str:
    """The NAS device resource's id: ``IP:/export``."""
    return str(source)


def remount_options(vfs_options: Sequence[str], super_options: Sequence[str]) -> list[str]:
    """Options to mount the same export again, as the kernel reported them."""
    out: list[str] = []
    for opt in (*vfs_options, *super_options):
        if opt.startswith(_INSTANCE_OPTIONS) or opt in _VFS_NOISE or opt in out:
            continue
        out.append(opt)
    return out


def semantics_explicit(options: Iterable[str]) -> bool:
    """True when hard/intr or soft behaviour was asked for explicitly."""
    names = {o.split("=", 1)[0] for o in options}
    return bool(names & {"hard", "intr", "soft"})


def default_filesys_tag(mount_point: str, server: str) -> str:
    """The guide's default: ``/test`` on server1 gives ``test-on-server1``."""
    return f"{mount_point.strip('/')}-on-{server}"
