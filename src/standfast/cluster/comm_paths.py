"""Communication paths between cluster servers and their observable state."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class PathState(StrEnum):
    """State of one communication path as seen from the local server."""

    ALIVE = "ALIVE"
    DEAD = "DEAD"


def _address(what: str, value: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise ValueError(f"comm path {what} {value!r} is not an IP address") from None


def _port(what: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise ValueError(f"comm path {what} must be an integer 1-65535, got {value!r}")
    return value


@dataclass(frozen=True, slots=True)
class CommPath:
    """One path from ``local_server`` to ``peer_server`` over network ``network_name``.

    The local heartbeat socket binds ``(local_address, port)``; datagrams go to
    ``(peer_address, peer_port)``, where ``peer_port`` defaults to ``port`` (the usual
    deployment: every server listens on the same port). Addresses are normalised.
    """

    local_server: str
    peer_server: str
    local_address: str
    peer_address: str
    port: int
    network_name: str
    peer_port: int | None = None

    def __post_init__(self) -> None:
        for what, name in (
            ("local server", self.local_server),
            ("peer server", self.peer_server),
            ("network name", self.network_name),
        ):
            if not isinstance(name, str) or not name.strip() or len(name) > 255:
                raise ValueError(f"comm path {what} must be a non-empty name, got {name!r}")
        if self.local_server == self.peer_server:
            raise ValueError(f"comm path from {self.local_server!r} to itself")
        local = _address("local address", self.local_address)
        peer = _address("peer address", self.peer_address)
        if ipaddress.ip_address(local).version != ipaddress.ip_address(peer).version:
            raise ValueError(f"comm path addresses {local} and {peer} mix IPv4 and IPv6")
        _port("port", self.port)
        if self.peer_port is not None:
            _port("peer port", self.peer_port)
        object.__setattr__(self, "local_address", local)
        object.__setattr__(self, "peer_address", peer)

    @property
    def remote_port(self) -> int:
        return self.port if self.peer_port is None else self.peer_port

    @property
    def local_endpoint(self) -> tuple[str, int]:
        return (self.local_address, self.port)

    @property
    def peer_endpoint(self) -> tuple[str, int]:
        return (self.peer_address, self.remote_port)

    @property
    def key(self) -> tuple[str, str]:
        """(peer server, network name): unique among one server's paths."""
        return (self.peer_server, self.network_name)


def validate_paths(local_server: str, paths: Iterable[CommPath]) -> list[CommPath]:
    """Check that ``paths`` all start at ``local_server`` and are unique per (peer, network)."""
    result: list[CommPath] = []
    seen: set[tuple[str, str]] = set()
    for path in paths:
        if path.local_server != local_server:
            raise ValueError(
                f"comm path to {path.peer_server!r} on {path.network_name!r} starts at "
                f"{path.local_server!r}, not at the local server {local_server!r}"
            )
        if path.key in seen:
            raise ValueError(
                f"two comm paths to {path.peer_server!r} on network {path.network_name!r}"
            )
        seen.add(path.key)
        result.append(path)
    return result


@dataclass(frozen=True, slots=True)
class PathEvent:
    """A change seen on one path, passed to the ``on_change`` callback.

    ``peer_alive`` is the peer's liveness after the change (True while ANY path is alive);
    ``peer_failed`` is True on the event that took the peer's last path down. A path that
    stays ALIVE while the peer's boot id changes gives an event with ``restarted=True``
    (the peer daemon restarted faster than the detection time).
    """

    peer: str
    network: str
    old_state: PathState
    new_state: PathState
    peer_alive: bool
    peer_was_alive: bool
    at: float
    peer_incarnation: int | None = None
    restarted: bool = False

    @property
    def peer_failed(self) -> bool:
        return self.peer_was_alive and not self.peer_alive

    @property
    def peer_joined(self) -> bool:
        return self.peer_alive and not self.peer_was_alive


@dataclass(frozen=True, slots=True)
class PathStatus:
    """Snapshot of one path: times are the event loop's monotonic ``loop.time()``."""

    path: CommPath
    state: PathState
    since: float
    last_heard: float | None
    peer_incarnation: int | None
    peer_view: PathState | None
    received: int
    sent: int


__all__ = ["CommPath", "PathEvent", "PathState", "PathStatus", "validate_paths"]
