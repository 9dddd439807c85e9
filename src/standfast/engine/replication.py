"""Replication of the configuration between cluster members.

A change stored here is offered to every live peer at once (``push``); a server that
missed it sees a newer version in a heartbeat report and fetches the whole
configuration (``adopt_newer``). A pushed offer is taken only if newer than what the
peer holds: a peer that holds another configuration of the same version refuses it
(``offered``), so of two changes made at once with the same version only one can be
held by a majority, and an operator's change is kept only once a majority holds it
(engine/core.py, ``change_ack``; 193034 otherwise). Through heartbeats newest wins:
higher version, then higher digest, deterministic for two servers that changed the
same version while cut off, and logged (193021 ordinary, 193016 a conflict that drops
the local change).

Contracts: ``push`` returns how many servers hold the change once a majority of the
configured servers does, or once none can, at most PUSH_TIMEOUT later; offers not yet
answered go on in the background (each bounded by PUSH_TIMEOUT); it never raises for
an unreachable or refusing peer. ``adopt`` and ``offered`` are idempotent (an older or
equal configuration is ignored); copies that left the configuration while this server
was away get their kit's host clean-up once (never twice: ``cleaned`` records what a
peer's request already cleaned).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from standfast.cluster.peer import PeerError, PeerUnreachable
from standfast.engine.core import EngineCore
from standfast.engine.membership import Membership
from standfast.kits.base import ActionLog
from standfast.messages import Notice, StandfastError
from standfast.model.config import ClusterConfig
from standfast.model.resources import Resource

log = logging.getLogger("standfast.engine")

PUSH_TIMEOUT = 5.0


def majority(servers: int) -> int:
    """How many of ``servers`` configured servers are a majority."""
    return servers // 2 + 1


def holds(reply: dict[str, Any], config: tuple[int, str]) -> bool:
    """Whether a peer's reply to an offer says it holds ``config`` (version, digest)."""
    if reply.get("adopted") is True:
        return True
    return (reply.get("version"), reply.get("digest")) == config


class Replication:
    def __init__(self, core: EngineCore, members: Membership) -> None:
        self.core = core
        self.members = members
        self._fetching = False
        # Local copies whose kit delete ran at a peer's request, before the change that
        # removes them arrives.
        self.cleaned: set[str] = set()

    async def push(self) -> int:
        """Offer the configuration just stored to every live peer at once; how many
        servers hold it: this one (while it still does) and each peer that took it or
        already held exactly it. Returns as soon as a majority of the configured servers
        holds it or no longer can; an offer still unanswered then is left running in the
        background, so a slow or unreachable peer delays nothing a majority holds."""
        core = self.core
        config = core.config
        held = (config.version, config.digest())
        peers = sorted(self.members.alive() - {core.server})
        needed = majority(len(self.members.definition.servers))
        count, left = 1, len(peers)
        decided = asyncio.Event()
        params = {"config": config.to_dict()}

        async def offer(peer: str) -> None:
            nonlocal count, left
            reply: dict[str, Any] = {}
            try:
                reply = await self.members.peers.call(
                    peer, "offer_config", params, timeout=PUSH_TIMEOUT
                )
            except (PeerError, PeerUnreachable) as exc:
                log.info("configuration offer to %s failed: %s", peer, exc)
            except ValueError as exc:  # not sendable (too large): heartbeats cannot help
                log.warning("configuration offer to %s not sent: %s", peer, exc)
            finally:
                left -= 1
                if holds(reply, held):
                    count += 1
                if count >= needed or count + left < needed:
                    decided.set()

        for peer in peers:
            core.spawn(offer(peer))
        if count < needed <= count + left:
            await decided.wait()
        mine = (core.config.version, core.config.digest()) == held
        return count if mine else count - 1

    def adopt_newer(self) -> None:
        """Fetch the newest configuration a live peer reports, if newer than ours."""
        if self._fetching:
            return
        core = self.core
        mine = (core.config.version, core.config.digest())
        best: tuple[tuple[int, str], str] | None = None
        for peer in self.members.alive() - {core.server}:
            report = self.members.peer_report(peer)
            if report is None:
                continue
            theirs = (report.version, report.digest)
            if theirs > mine and (best is None or theirs > best[0]):
                best = (theirs, peer)
        if best is not None:
            self._fetching = True
            core.spawn(self._fetch(best[1]))

    async def _fetch(self, peer: str) -> None:
        try:
            reply = await self.members.peers.call(peer, "get_config", {}, timeout=PUSH_TIMEOUT)
            self.adopt(ClusterConfig.from_dict(reply["config"]), peer)
        except (PeerError, PeerUnreachable, KeyError, ValueError) as exc:
            log.warning("configuration fetch from %s failed: %s", peer, exc)
        finally:
            self._fetching = False

    def offered(self, theirs: ClusterConfig, peer: str) -> dict[str, Any]:
        """A peer's pushed change: adopted only if newer than this server's version; one
        of the same version with other contents is refused (``conflict``), as either
        server's change may be one a majority holds. The reply names what this server
        holds now, so the pusher counts it as a holder when it holds exactly the offer."""
        core = self.core
        mine = core.config
        conflict = theirs.version == mine.version and theirs.digest() != mine.digest()
        if conflict:
            log.info(
                "configuration version %d from %s not taken: this server holds another "
                "configuration of that version",
                theirs.version,
                peer,
            )
        adopted = theirs.version > mine.version and self.adopt(theirs, peer)
        return {
            "adopted": adopted,
            "conflict": conflict,
            "version": core.config.version,
            "digest": core.config.digest(),
        }

    def adopt(self, theirs: ClusterConfig, peer: str) -> bool:
        """Take ``theirs`` if newer (higher version, then higher digest); whether it did."""
        core = self.core
        if (theirs.version, theirs.digest()) <= (core.config.version, core.config.digest()):
            return False
        # A newer version is ordinary replication; the same version with other contents
        # means both sides changed it apart, and the local change is dropped: warn.
        code = "193021" if theirs.version > core.config.version else "193016"
        notice = Notice.of(code, version=theirs.version, peer=peer, local=core.config.version)
        log.log(logging.INFO if code == "193021" else logging.WARNING, notice.text("en"))
        gone = [
            r
            for (srv, tag), r in core.config.resources.items()
            if srv == core.server and (srv, tag) not in theirs.resources
        ]
        core.replace_config(theirs, origin=peer)
        # Copies deleted or unextended while this server was away (or in a change it
        # lost): the host clean-up their kits' delete does (an /etc/fstab entry put back)
        # is done now, unless it was already done at the deleting server's request.
        stale = [r for r in gone if r.tag not in self.cleaned]
        running = [r.tag for r in stale if core.state(r.tag).in_service]
        if running:
            log.warning(
                "%s no longer in the configuration but in service here: left as is",
                ", ".join(sorted(running)),
            )
        cleanup = [r for r in stale if r.tag not in running]
        if cleanup:
            core.spawn(self._clean_up_removed(cleanup))
        self.cleaned -= {r.tag for r in gone}
        core.sync_states()
        core.event(
            "config",
            peer,
            f"adopted version {theirs.version}",
            {"version": theirs.version, "conflict": code == "193016"},
        )
        return True

    async def _clean_up_removed(self, resources: list[Resource]) -> None:
        """Each kit's delete for copies that left the configuration while this server
        could not be asked (they are out of service, so their order does not matter)."""
        alog = ActionLog()
        for res in resources:
            try:
                await self.core.kit_call("delete", res, alog)
            except StandfastError as exc:
                log.error("clean-up of removed %s failed: %s", res.tag, exc.text("en"))
                continue
            self.core.event("cleaned_up", res.tag, "removed while this server was away")

    async def delete_here(self, tags: list[str]) -> None:
        """Each kit's delete for local copies about to leave the configuration (a peer's
        delete or unextend): the removal that follows needs no second clean-up."""
        alog = ActionLog()
        self.cleaned |= set(tags)
        for t in tags:
            await self.core.kit_call("delete", self.core.resource(t), alog)
