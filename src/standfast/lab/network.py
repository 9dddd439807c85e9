"""Host-side lab networks: Linux bridges and TAP devices, driven by ``ip`` argv lists.

Every call has a deadline.  Names must carry the ``sf`` prefix so that the lab never
touches an interface it did not make.
"""

from __future__ import annotations

import ctypes
import json
import os
import subprocess
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

IP = "/usr/sbin/ip"
PREFIX = "sf"
IP_TIMEOUT = 10.0
#: Linux interface names are at most 15 characters.
MAX_NAME = 15


class NetworkError(RuntimeError):
    """An ``ip`` command failed."""


def _check_name(name: str) -> None:
    if not name.startswith(PREFIX) or not 2 < len(name) <= MAX_NAME:
        raise ValueError(f"lab interface names start with {PREFIX!r}, at most 15 chars: {name!r}")
    if not all(c.isalnum() or c in "-_." for c in name):
        raise ValueError(f"bad interface name {name!r}")


def ip(args: Sequence[str], timeout: float = IP_TIMEOUT) -> str:
    """Run ``ip ARGS`` and return its output; raise :class:`NetworkError` on failure."""
    try:
        proc = subprocess.run(
            [IP, *args], capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise NetworkError(f"ip {' '.join(args)} timed out") from exc
    if proc.returncode != 0:
        raise NetworkError(f"ip {' '.join(args)}: {proc.stderr.strip()}")
    return proc.stdout


def link_exists(name: str) -> bool:
    try:
        ip(["link", "show", "dev", name])
    except NetworkError:
        return False
    return True


def links(prefix: str = PREFIX) -> list[str]:
    """Names of the host's interfaces that start with *prefix*."""
    data = json.loads(ip(["-json", "link", "show"]) or "[]")
    return sorted(str(d["ifname"]) for d in data if str(d.get("ifname", "")).startswith(prefix))


def create_bridge(name: str, address: str | None = None) -> None:
    """Create bridge *name* (idempotent), give it *address* (``A.B.C.D/NN``), bring it up."""
    _check_name(name)
    if not link_exists(name):
        ip(["link", "add", "name", name, "type", "bridge", "stp_state", "0", "forward_delay", "0"])
    if address is not None:
        have = ip(["-o", "addr", "show", "dev", name])
        if f" {address} " not in have:
            ip(["addr", "add", address, "dev", name])
    ip(["link", "set", "dev", name, "up"])


def create_tap(name: str, bridge: str) -> None:
    """Create TAP *name* (idempotent), enslave it to *bridge*, bring it up."""
    _check_name(name)
    _check_name(bridge)
    if not link_exists(name):
        ip(["tuntap", "add", "dev", name, "mode", "tap"])
    ip(["link", "set", "dev", name, "master", bridge])
    ip(["link", "set", "dev", name, "up"])


def delete_link(name: str) -> bool:
    """Delete interface *name*; False when it did not exist."""
    _check_name(name)
    if not link_exists(name):
        return False
    try:
        ip(["link", "del", "dev", name])
    except NetworkError:
        if link_exists(name):
            raise
        return False
    return True


def cut(tap: str) -> None:
    """Cut a guest off one network: its TAP goes down on the host."""
    _check_name(tap)
    ip(["link", "set", "dev", tap, "down"])


def heal(tap: str) -> None:
    """Undo :func:`cut`."""
    _check_name(tap)
    ip(["link", "set", "dev", tap, "up"])


def is_up(name: str) -> bool:
    data = json.loads(ip(["-json", "link", "show", "dev", name]) or "[]")
    return bool(data) and "UP" in data[0].get("flags", [])


# ---------------------------------------------------------------- network namespaces

NETNS_DIR = Path("/run/netns")
_CLONE_NEWNET = 0x40000000


def netns_exists(name: str) -> bool:
    return (NETNS_DIR / name).exists()


def create_netns(name: str) -> None:
    """Create network namespace *name* (idempotent) with its loopback up."""
    _check_name(name)
    if not netns_exists(name):
        ip(["netns", "add", name])
    ip(["-n", name, "link", "set", "dev", "lo", "up"])


def delete_netns(name: str) -> bool:
    _check_name(name)
    if not netns_exists(name):
        return False
    ip(["netns", "del", name])
    return True


def create_veth_into(host_end: str, ns_end: str, netns: str, bridge: str, address: str) -> None:
    """A veth pair: *host_end* on *bridge*, *ns_end* in *netns* with *address*, both up."""
    _check_name(host_end)
    _check_name(ns_end)
    if not link_exists(host_end):
        ip(["link", "add", host_end, "type", "veth", "peer", "name", ns_end, "netns", netns])
    ip(["link", "set", "dev", host_end, "master", bridge])
    ip(["link", "set", "dev", host_end, "up"])
    have = ip(["-n", netns, "-o", "addr", "show", "dev", ns_end])
    if f" {address} " not in have:
        ip(["-n", netns, "addr", "add", address, "dev", ns_end])
    ip(["-n", netns, "link", "set", "dev", ns_end, "up"])


def run_in_netns(name: str, fn: Callable[[], T], timeout: float) -> T:
    """Call *fn* in a fresh thread that has entered network namespace *name*.

    Processes that *fn* starts are born in that namespace (a thread's namespace is
    inherited by the children it forks); the caller's own thread is untouched.
    """
    result: list[T] = []
    error: list[BaseException] = []

    def body() -> None:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            fd = os.open(NETNS_DIR / name, os.O_RDONLY)
            try:
                if libc.setns(fd, _CLONE_NEWNET) != 0:
                    err = ctypes.get_errno()
                    raise OSError(err, f"setns({name}): {os.strerror(err)}")
            finally:
                os.close(fd)
            result.append(fn())
        except BaseException as exc:
            error.append(exc)

    thread = threading.Thread(target=body, name=f"netns-{name}", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise NetworkError(f"call in netns {name} did not finish within {timeout:.0f} s")
    if error:
        raise error[0]
    return result[0]
