"""The local server's view of its comm paths and peers, as heartbeats build it.

Pure bookkeeping on the event loop's monotonic clock (callers pass ``now``; nothing here
reads a clock, sleeps or does I/O). A path is DEAD until :class:`PathTable` is told of a
valid heartbeat on it and DEAD again once ``timeout`` seconds pass without one; a peer
is alive while ANY of its paths is ALIVE. Every state change is logged (191005 path
DEAD, 191006 path ALIVE, 191007 when a peer's last path dies) and reported to
``on_change`` as a :class:`~standfast.cluster.comm_paths.PathEvent`; exceptions from
``on_change`` are logged, not raised.
"""

from __future__ import annotations

import ipaddress
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from standfast.cluster.auth import JSONObject, JSONValue
from standfast.cluster.comm_paths import CommPath, PathEvent, PathState, PathStatus
from standfast.cluster.report import says_leaving
from standfast.messages import Notice
from standfast.messages.codes import PATH_ALIVE, PATH_DEAD, SERVER_FAILED, SERVER_LEFT

log = logging.getLogger("standfast.cluster")


@dataclass(slots=True)
class Link:
    """One comm path's state and counters."""

    path: CommPath
    state: PathState
    since: float
    last_heard: float | None = None
    peer_incarnation: int | None = None
    peer_view: PathState | None = None
    received: int = 0
    sent: int = 0


@dataclass(slots=True)
class PeerRecord:
    """What the newest heartbeat from one peer said (``boot_id`` None: never heard)."""

    boot_id: int | None = None
    last_seq: int = 0
    last_timestamp: float = 0.0
    incarnation: int | None = None
    payload: JSONObject = field(default_factory=dict)
    view: dict[str, dict[str, PathState]] = field(default_factory=dict)


class PathTable:
    """Links by (peer, network) and by local endpoint, and one record per peer.

    ``paths`` must already be validated (:func:`~standfast.cluster.comm_paths.validate_paths`).
    """

    def __init__(
        self,
        paths: Sequence[CommPath],
        timeout: float,
        on_change: Callable[[PathEvent], None] | None,
    ) -> None:
        self.timeout = timeout
        self._on_change = on_change
        self.links: dict[tuple[str, str], Link] = {
            p.key: Link(p, PathState.DEAD, 0.0) for p in paths
        }
        self.peers: dict[str, PeerRecord] = {p.peer_server: PeerRecord() for p in paths}
        self.by_endpoint: dict[tuple[str, int], list[Link]] = {}
        for link in self.links.values():
            self.by_endpoint.setdefault(link.path.local_endpoint, []).append(link)

    # ------------------------------------------------------------------ queries

    def path_states(self) -> dict[str, dict[str, PathState]]:
        result: dict[str, dict[str, PathState]] = {}
        for (peer, network), link in self.links.items():
            result.setdefault(peer, {})[network] = link.state
        return result

    def path_details(self) -> dict[str, dict[str, PathStatus]]:
        result: dict[str, dict[str, PathStatus]] = {}
        for (peer, network), link in self.links.items():
            result.setdefault(peer, {})[network] = PathStatus(
                path=link.path,
                state=link.state,
                since=link.since,
                last_heard=link.last_heard,
                peer_incarnation=link.peer_incarnation,
                peer_view=link.peer_view,
                received=link.received,
                sent=link.sent,
            )
        return result

    def peer_alive(self, peer: str) -> bool:
        """True while ANY path to ``peer`` is ALIVE."""
        return any(
            link.state is PathState.ALIVE for (name, _), link in self.links.items() if name == peer
        )

    def peer_incarnation(self, peer: str) -> int | None:
        info = self.peers.get(peer)
        return None if info is None else info.incarnation

    def peer_view(self, peer: str) -> dict[str, dict[str, PathState]]:
        """A copy of the peer's own path states, from its latest heartbeat."""
        info = self.peers.get(peer)
        return {} if info is None else {k: dict(v) for k, v in info.view.items()}

    def peer_payload(self, peer: str) -> JSONObject | None:
        """A copy of the newest payload from ``peer``, or None if never heard."""
        info = self.peers.get(peer)
        if info is None or info.boot_id is None:
            return None
        copied: JSONObject = json.loads(json.dumps(info.payload))
        return copied

    def wire_view(self) -> dict[str, JSONValue]:
        """The local path states as a heartbeat carries them."""
        view: dict[str, JSONValue] = {}
        for (peer, network), link in self.links.items():
            entry = view.setdefault(peer, {})
            assert isinstance(entry, dict)
            entry[network] = link.state.value
        return view

    def find_link(self, endpoint: tuple[str, int], sender: str, source: str) -> Link | None:
        """The path from ``sender`` at address ``source`` to the local ``endpoint``."""
        try:
            source_ip = str(ipaddress.ip_address(source.split("%", 1)[0]))
        except ValueError:
            return None
        for link in self.by_endpoint.get(endpoint, ()):
            if link.path.peer_server == sender and link.path.peer_address == source_ip:
                return link
        return None

    # ------------------------------------------------------------------ transitions

    def expire(self, now: float, wake: float) -> float:
        """Mark DEAD every ALIVE path silent for ``timeout`` at ``now``; the earlier of
        ``wake`` and the next moment another ALIVE path would expire."""
        for link in self.links.values():
            if link.state is not PathState.ALIVE or link.last_heard is None:
                continue
            deadline = link.last_heard + self.timeout
            if deadline <= now:
                self.transition(link, PathState.DEAD, now)
            else:
                wake = min(wake, deadline)
        return wake

    def transition(
        self, link: Link, new: PathState, now: float, *, restarted: bool = False
    ) -> None:
        """Set ``link`` to ``new``: log a change and report it (a restart is reported
        even without a change)."""
        peer, network = link.path.key
        was_alive = self.peer_alive(peer)
        old = link.state
        link.state = new
        if old is not new:
            link.since = now
        alive = self.peer_alive(peer)
        if old is not new:
            self._log_change(link, new, was_alive and not alive)
        event = PathEvent(
            peer=peer,
            network=network,
            old_state=old,
            new_state=new,
            peer_alive=alive,
            peer_was_alive=was_alive,
            at=now,
            peer_incarnation=self.peers[peer].incarnation,
            restarted=restarted,
        )
        if self._on_change is not None:
            try:
                self._on_change(event)
            except Exception:
                log.exception("heartbeat on_change callback failed for %s", event)

    def _log_change(self, link: Link, new: PathState, peer_failed: bool) -> None:
        peer, network = link.path.key
        if new is PathState.DEAD:
            log.warning(
                "%s: comm path to %s on network %s (%s) is DEAD: no heartbeat for %.2f s",
                PATH_DEAD,
                peer,
                network,
                link.path.peer_address,
                self.timeout,
            )
        else:
            log.info(
                "%s: comm path to %s on network %s (%s) is ALIVE",
                PATH_ALIVE,
                peer,
                network,
                link.path.peer_address,
            )
        if peer_failed and says_leaving(self.peers[peer].payload):
            # It said it was stopping (engine/leave.py): a departure, not a failure.
            log.info(Notice.of(SERVER_LEFT, peer=peer).text("en"))
        elif peer_failed:
            log.error("%s: server %s failed: every comm path to it is DEAD", SERVER_FAILED, peer)


__all__ = ["Link", "PathTable", "PeerRecord"]
