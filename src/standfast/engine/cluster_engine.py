"""The engine of a cluster member: placement across servers, switchover, extend and
unextend, replication of the configuration, quorum.

Each cycle publishes this server's states in its heartbeat, adopts a newer
configuration from a peer, and places hierarchies from one view (``place``). A
server only ever acts on itself; peers are asked over the authenticated peer
channel (release a hierarchy, check an extension, clean up a deleted copy).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import replace
from typing import Any

from standfast.cluster.definition import ClusterDef, fence_config
from standfast.cluster.fencing import fence_async
from standfast.cluster.peer import PeerError, PeerUnreachable
from standfast.config.paths import Paths
from standfast.config.tunables import Tunables
from standfast.engine.engine import (
    ActionOutcome,
    Engine,
    _action_log,
    operator_action,
)
from standfast.engine.membership import Membership
from standfast.engine.placement import ClusterView, Placement, PlacementKind, holders, place
from standfast.host import system
from standfast.kits.base import ActionLog
from standfast.kits.registry import get_kit
from standfast.messages import Notice, StandfastError
from standfast.model.config import (
    AddDependency,
    AddResource,
    ClusterConfig,
    DeleteResource,
    Operation,
    SetTarget,
    Target,
    UpdateResource,
    resource_from_dict,
)
from standfast.model.resources import Dependency, Resource
from standfast.model.states import State, Switchback
from standfast.model.tags import validate_priority, validate_tag
from standfast.store.database import Store

log = logging.getLogger("standfast.engine")

PUSH_TIMEOUT = 5.0
REJOIN_WINDOW = 15.0  # seconds a returning server may trigger automatic switchback


class ClusterEngine(Engine):
    def __init__(
        self,
        server: str,
        store: Store,
        tunables: Tunables,
        paths: Paths,
        definition: ClusterDef,
        key: bytes,
    ) -> None:
        super().__init__(server, store, tunables, paths)
        self.definition = definition
        self.definition.server(server)  # refuse to run as a stranger
        self.members = Membership(definition, key, server, self.handle_peer)
        self._fetching = False
        self._had_quorum = True
        self._rejoined: dict[str, float] = {}
        self._placing: set[str] = set()
        self._last_holder: dict[str, str] = {}
        self._quiet_until = 0.0
        self._hold_off: dict[str, tuple[str, float]] = {}
        self._confirmations: dict[str, dict[str, object]] = {}
        self._fenced: set[str] = set()
        self._fence_retry_at: dict[str, float] = {}
        # Local copies whose kit delete ran at a peer's request, before the change that
        # removes them arrives.
        self._cleaned: set[str] = set()
        #: The PEM certificate this server's remote API serves (set when it starts); peers
        #: pin it for the requests they relay here.
        self.remote_certificate: str | None = None

    # -- life cycle -----------------------------------------------------------------

    async def on_start(self) -> None:
        # Whatever this server ran before it stopped may run elsewhere by now: start
        # with everything out of service and let placement decide, once settled.
        for tag, state in list(self.states.items()):
            if state.in_service:
                self._set_state(tag, State.OSU, "restart")
        await self.members.start()

    async def aclose(self) -> None:
        await self.members.stop()

    # -- the per-cycle cluster work ----------------------------------------------------

    def _view(self, has_quorum: bool) -> ClusterView:
        alive = self.members.alive()
        states: dict[str, dict[str, State]] = {self.server: dict(self.states)}
        since: dict[str, dict[str, float]] = {self.server: self._since()}
        for peer in alive - {self.server}:
            states[peer] = self.peer_states(peer)
            since[peer] = self.members.peer_since(peer)
        busy_equivs = frozenset(
            self.resource(t).equiv for t in self._busy if (self.server, t) in self.config.resources
        )
        blocked = frozenset(n for n, s in self.definition.servers.items() if s.failover_blocked)
        return ClusterView(
            local=self.server,
            config=self.config,
            alive=alive,
            states=states,
            blocked=blocked,
            quorum=has_quorum,
            rejoined=frozenset(self._rejoined),
            busy_equivs=busy_equivs | frozenset(self._placing),
            since=since,
        )

    async def cycle(self) -> None:
        has_q, present, needed = self.members.quorum()
        self.members.publish(
            self.config.version, self.config.digest(), self.states, has_q, self._since()
        )
        news = self.members.take_news()
        now = time.monotonic()
        for peer in news.failed:
            self._event("server_failed", peer, "every comm path is dead")
        for peer in news.joined:
            self._fenced.discard(peer)  # it is back: a later failure needs a new fence
            self._rejoined[peer] = now
            self._event("server_joined", peer, "")
        if news.joined:
            # A server that just came back (or whose peers did) may not have heard every
            # live peer yet: it must not take a hierarchy another one still runs.
            self._quiet_until = now + self.members.settle_time
        self._rejoined = {p: t for p, t in self._rejoined.items() if now - t < REJOIN_WINDOW}
        self._adopt_newer_config()
        self._quorum_transition(has_q, present, needed)
        if not self.members.settled():
            return
        quiet = now < self._quiet_until
        view = self._view(has_q)
        for equiv in {r.equiv for r in self.config.resources.values()}:
            serving = holders(view, equiv)
            if serving:
                holder = serving[0].server
                released = self._hold_off.get(equiv)
                if holder == self.server and released is not None and now < released[1]:
                    # Still going down after a release: the requester holds it from now
                    # on, even before its heartbeats say so (if it fails in between, its
                    # failure is a failover, with fencing and confirmation).
                    continue
                self._last_holder[equiv] = holder
        for placement in place(view):
            if placement.kind is PlacementKind.RESTORE and (
                quiet or self._held_off(placement.equiv, view.alive)
            ):
                continue
            self._placing.add(placement.equiv)
            self._spawn(self._execute(placement))

    def _hold_off_seconds(self) -> float:
        hb = self.definition.heartbeat
        return 3 * hb.interval + 1.0

    def _held_off(self, equiv: str, alive: frozenset[str]) -> bool:
        entry = self._hold_off.get(equiv)
        if entry is None:
            return False
        requester, until = entry
        if time.monotonic() >= until or requester not in alive:
            del self._hold_off[equiv]
            return False
        return True

    def _since(self) -> dict[str, float]:
        """When each in-service root came into service here (wall clock)."""
        out = {}
        for root in self.graph().roots():
            st = self.stored_since.get(root)
            if self.states.get(root, State.OSU).in_service and st is not None:
                out[root] = st
        return out

    def _quorum_transition(self, has_q: bool, present: int, needed: int) -> None:
        if not self.members.settled():
            # Peers are still being heard for the first time: not a loss of anything.
            self._had_quorum = has_q
            return
        if has_q == self._had_quorum:
            return
        self._had_quorum = has_q
        if has_q:
            # Quorum can come back before any peer was declared failed (so no "joined"
            # news): the peers' published states may still be from before the cut.
            self._quiet_until = time.monotonic() + self.members.settle_time
            log.info(Notice.of("193013", server=self.server).text("en"))
            self._event("quorum", self.server, "regained")
            return
        log.error(Notice.of("193012", server=self.server, votes=present, needed=needed).text("en"))
        self._event("quorum", self.server, f"lost ({present} of {needed} votes)")
        if self.definition.quorum_loss_action == "halt":
            self._spawn(self._halt_for_quorum())
        else:
            for h in self.graph().hierarchies():
                if any(self.states.get(t, State.OSU).in_service for t in h):
                    self._spawn(self._release_quietly(h, "quorum lost"))

    async def _halt_for_quorum(self) -> None:
        await self.runner.call(
            lambda: system.halt(self.tunables.SF_HALT_COMMAND, timeout=30.0),
            deadline=35.0,
            action="halt",
            tag=self.server,
        )

    def _adopt_newer_config(self) -> None:
        """Newest configuration wins: higher version, then higher digest (deterministic
        for two servers that changed the same version while cut off)."""
        if self._fetching:
            return
        mine = (self.config.version, self.config.digest())
        best: tuple[tuple[int, str], str] | None = None
        for peer in self.members.alive() - {self.server}:
            info = self.members.peer_info(peer) or {}
            theirs = (int(info.get("v", 0) or 0), str(info.get("dg", "")))
            if theirs > mine and (best is None or theirs > best[0]):
                best = (theirs, peer)
        if best is not None:
            self._fetching = True
            self._spawn(self._fetch_config(best[1]))

    async def _fetch_config(self, peer: str) -> None:
        try:
            reply = await self.members.peers.call(peer, "get_config", {}, timeout=PUSH_TIMEOUT)
            self._adopt(ClusterConfig.from_dict(reply["config"]), peer)
        except (PeerError, PeerUnreachable, KeyError, ValueError) as exc:
            log.warning("configuration fetch from %s failed: %s", peer, exc)
        finally:
            self._fetching = False

    def _adopt(self, theirs: ClusterConfig, peer: str) -> bool:
        if (theirs.version, theirs.digest()) <= (self.config.version, self.config.digest()):
            return False
        # A newer version is ordinary replication; the same version with other contents
        # means both sides changed it apart, and the local change is dropped: warn.
        code = "193021" if theirs.version > self.config.version else "193016"
        notice = Notice.of(code, version=theirs.version, peer=peer, local=self.config.version)
        log.log(logging.INFO if code == "193021" else logging.WARNING, notice.text("en"))
        gone = [
            r
            for (srv, tag), r in self.config.resources.items()
            if srv == self.server and (srv, tag) not in theirs.resources
        ]
        self.config = self.store.replace_config(theirs, origin=peer)
        for srv, tag in self.config.resources:
            if srv == self.server:
                self.states.setdefault(tag, State.OSU)
        # Copies deleted or unextended while this server was away (or in a change it
        # lost): the host clean-up their kits' delete does (an /etc/fstab entry put back)
        # is done now, unless it was already done at the deleting server's request.
        stale = [r for r in gone if r.tag not in self._cleaned]
        running = [r.tag for r in stale if self.states.get(r.tag, State.OSU).in_service]
        if running:
            log.warning(
                "%s no longer in the configuration but in service here: left as is",
                ", ".join(sorted(running)),
            )
        cleanup = [r for r in stale if r.tag not in running]
        if cleanup:
            self._spawn(self._clean_up_removed(cleanup))
        self._cleaned -= {r.tag for r in gone}
        for tag in [t for t in self.states if (self.server, t) not in self.config.resources]:
            del self.states[tag]
        self._event("config", peer, f"adopted version {theirs.version}")
        return True

    async def _clean_up_removed(self, resources: list[Resource]) -> None:
        """Each kit's delete for copies that left the configuration while this server
        could not be asked (they are out of service, so their order does not matter)."""
        alog = ActionLog()
        for res in resources:
            try:
                await self._kit_call("delete", res, alog)
            except StandfastError as exc:
                log.error("clean-up of removed %s failed: %s", res.tag, exc.text("en"))
                continue
            self._event("cleaned_up", res.tag, "removed while this server was away")

    async def config_changed(self) -> None:
        """Push the new configuration to every live peer; one that misses it catches up
        from the heartbeat's version."""
        peers = sorted(self.members.alive() - {self.server})
        if not peers:
            return
        await self.members.peers.broadcast(
            peers, "offer_config", {"config": self.config.to_dict()}, timeout=PUSH_TIMEOUT
        )

    # -- placement actions ----------------------------------------------------------

    async def _execute(self, p: Placement) -> None:
        try:
            root = self.resource(p.tag)
            hierarchy = self.graph().hierarchy(p.tag)
            if p.kind is PlacementKind.RESTORE:
                await self._failover_restore(p, root, hierarchy)
            else:
                if p.kind is PlacementKind.SWITCHBACK:
                    log.info(Notice.of("193015", tag=p.tag, target=p.target).text("en"))
                    self._rejoined.pop(p.target, None)
                await self._release_quietly(hierarchy, p.reason or str(p.kind))
        except StandfastError as exc:
            if exc.code != "190204":
                log.error(exc.text("en"))
        except Exception:
            log.exception("placement %s of %s failed", p.kind, p.tag)
        finally:
            self._placing.discard(p.equiv)

    def _may_take_over(self, equiv: str, tag: str, previous: str) -> bool:
        """Failover confirmation, when configured: wait for the operator's answer until
        the timeout, then apply the default."""
        conf = self.definition.confirm_failover
        if not conf:
            return True
        now = time.monotonic()
        pending = self._confirmations.get(equiv)
        if pending is None:
            deadline = now + float(conf.get("timeout", 30))
            self._confirmations[equiv] = {
                "deadline": deadline,
                "answer": "",
                "tag": tag,
                "from": previous,
            }
            self._event(
                "confirm_pending",
                tag,
                f"failover from {previous} awaits an answer",
                {"timeout": float(conf.get("timeout", 30))},
            )
            return False
        answer = str(pending["answer"]) or (
            str(conf.get("default", "proceed")) if now >= float(str(pending["deadline"])) else ""
        )
        if not answer:
            return False
        if answer == "block":
            return False
        del self._confirmations[equiv]
        return True

    async def _fence(self, previous: str) -> bool:
        """STONITH before taking over a failed server's hierarchies, when configured."""
        config = fence_config(self.definition)
        if config is None or previous in self._fenced:
            return True
        now = time.monotonic()
        if now < self._fence_retry_at.get(previous, 0.0):
            return False
        self._event("fence", previous, "fencing")
        result = await fence_async(previous, config)
        if result.ok:
            self._fenced.add(previous)
            self._event(
                "fenced", previous, result.detail or "fenced", {"seconds": round(result.elapsed, 3)}
            )
            return True
        self._fence_retry_at[previous] = now + 10.0
        log.error("%s: fencing of %s failed: %s", result.code or "192043", previous, result.detail)
        self._event("fence_failed", previous, result.detail or result.code)
        return False

    def _likely_holder(self, equiv: str) -> str:
        """No holder was seen (it failed right after a change): assume the best-priority
        copy on a server declared failed since, so fencing and confirmation still apply."""
        for copy in self.config.equivalents(equiv):
            if (
                copy.server != self.server
                and copy.server in self.members.failed_at
                and (copy.server not in self.members.alive())
            ):
                return copy.server
        return ""

    async def _failover_restore(self, p: Placement, root: Resource, hierarchy: set[str]) -> None:
        previous = self._last_holder.get(p.equiv, "") or self._likely_holder(p.equiv)
        detected = self.members.failed_at.get(previous) if previous else None
        heard = self.members.last_heard_at.get(previous) if previous else None
        failed_peer = (
            bool(previous) and previous != self.server and (previous not in self.members.alive())
        )
        if failed_peer:
            if not self._may_take_over(p.equiv, p.tag, previous):
                return
            if not await self._fence(previous):
                return
        decided = time.monotonic()
        if previous and previous != self.server and detected is not None:
            log.warning(
                Notice.of("193014", peer=previous, tag=p.tag, target=self.server).text("en")
            )
        alog = ActionLog()
        steps: list[dict[str, object]] = []
        async with self._hold(hierarchy, wait=0.05):
            await self._restore_tags(hierarchy, alog, steps=steps)
        done = time.monotonic()
        data: dict[str, object] = {
            "from": previous,
            "to": self.server,
            "steps": steps,
            "decision_at": time.time() - (done - decided),
            "restore_seconds": round(done - decided, 3),
        }
        if detected is not None:
            data["detected_at"] = time.time() - (done - detected)
            data["detect_to_in_service_seconds"] = round(done - detected, 3)
            if heard is not None and heard <= detected:
                data["last_heard_at"] = time.time() - (done - heard)
                data["outage_seconds"] = round(done - heard, 3)
        kind = "failover" if previous and previous != self.server else "restore"
        self._event(kind, p.tag, f"{previous or '-'} -> {self.server}", data)

    async def _release_quietly(self, hierarchy: set[str], reason: str) -> None:
        alog = ActionLog()
        async with self._hold(hierarchy, wait=self.tunables.SF_ACTION_TIMEOUT):
            await self._remove_tags(hierarchy, alog, fail=set())
        self._event("released", min(hierarchy), reason)

    # -- operator actions across servers ------------------------------------------------

    def _root_equivs(self, tag: str) -> list[tuple[str, str]]:
        graph = self.graph()
        return [(self.resource(r).equiv, r) for r in graph.hierarchy_roots(tag)]

    async def before_in_service(self, tag: str, alog: ActionLog) -> None:
        roots = self._root_equivs(tag)
        ops: list[Operation] = [
            SetTarget(equiv, True, self.server)
            for equiv, _ in roots
            if self.config.target(equiv) != Target(True, self.server)
        ]
        if ops:
            await self._store(ops)
        serving = {equiv: await self._serving_elsewhere(equiv) for equiv, _ in roots}
        moving = any(serving.values())
        failed_here = [t for t in self.graph().hierarchy(tag) if self.states.get(t) == State.OSF]
        if moving and failed_here:
            # This copy was failed (OSF): the holder's placement would skip it and take
            # the hierarchy back as soon as it lets go. Clear it first and let every
            # peer hear that before asking for the switchover.
            for t in failed_here:
                self._set_state(t, State.OSU, "operator in service")
            self.members.publish(
                self.config.version,
                self.config.digest(),
                self.states,
                self._had_quorum,
                self._since(),
            )
            await asyncio.sleep(2 * self.definition.heartbeat.interval + 0.2)
        for equiv, root in roots:
            for holder in serving[equiv]:
                alog.add("193018", tag=root, source=holder, target=self.server)
                await self.ask(holder, "release", {"equiv": equiv})
                self._event("switchover", root, f"{holder} -> {self.server}")

    async def before_out_of_service(self, tag: str, alog: ActionLog) -> None:
        roots = self._root_equivs(tag)
        ops: list[Operation] = [
            SetTarget(e, False, self.config.target(e).server)
            for e, _ in roots
            if self.config.wanted(e)
        ]
        if ops:
            await self._store(ops)
        for equiv, _root in roots:
            for holder in await self._serving_elsewhere(equiv):
                await self.ask(holder, "release", {"equiv": equiv})

    async def _serving_elsewhere(self, equiv: str) -> list[str]:
        """Live peers whose copy is in service, asked now: a heartbeat's view can be one
        interval old, too old for a switchover decision."""
        out = []
        alive = self.members.alive()
        for copy in self.config.equivalents(equiv):
            if copy.server == self.server or copy.server not in alive:
                continue
            reply = await self.ask(copy.server, "states", {})
            if State(reply["states"].get(copy.tag, "OSU")).in_service:
                out.append(copy.server)
        return out

    def _copy_state(self, server: str, tag: str) -> State:
        """Another live server's instance as its heartbeats report it (OSU when it is
        not heard: it runs nothing then, as far as this server can act on)."""
        if server == self.server:
            return super()._copy_state(server, tag)
        if server not in self.members.alive():
            return State.OSU
        return self.peer_states(server).get(tag, State.OSU)

    def peer_states(self, peer: str) -> dict[str, State]:
        """``peer``'s instances as its heartbeats report them (OSU for those it leaves
        unsaid); empty before its first heartbeat."""
        copies = [t for (srv, t) in self.config.resources if srv == peer]
        return self.members.peer_states_known(peer, copies)

    async def ask(self, peer: str, method: str, params: dict[str, Any]) -> dict[str, Any]:
        try:
            timeout = self.tunables.SF_ACTION_TIMEOUT
            # The peer's handler gets nearly the whole time; the channel keeps the rest.
            return await self.members.peers.call(
                peer, method, {**params, "_deadline": max(timeout - 2.0, 1.0)}, timeout=timeout
            )
        except PeerUnreachable:
            raise StandfastError("193010", server=peer, operation=method) from None
        except PeerError as exc:
            raise StandfastError(
                "193020", server=peer, tag=params.get("tag", ""), reason=exc
            ) from None

    @operator_action
    async def extend(
        self,
        tag: str,
        *,
        target: str,
        target_tag: str | None = None,
        target_priority: int | None = None,
        template_priority: int | None = None,
        switchback: str | None = None,
        check_only: bool = False,
    ) -> ActionOutcome:
        """Extend the hierarchy of ``tag`` to ``target``. With ``check_only``, run the
        pre-extend checks and report them without extending (the wizard's check step)."""
        alog = _action_log.get()
        if not tag or not target:
            raise StandfastError("000009")
        if (self.server, tag) not in self.config.resources:
            raise StandfastError("000003", tag=tag, server=self.server)
        self.definition.server(target)
        if target not in self.members.alive() or target == self.server:
            raise StandfastError("193010", server=target, operation="extend")
        graph = self.graph()
        hierarchy = graph.hierarchy(tag)
        for t in hierarchy:
            if not self.states.get(t, State.OSU).in_service:
                raise StandfastError("193009", tag=tag, server=self.server)
        root_tag = graph.hierarchy_roots(tag)[0]
        root = self.resource(root_tag)
        copies = self.config.equivalents(root.equiv)
        if any(c.server == target for c in copies):
            raise StandfastError("000004", tag=root_tag, server=target)
        first = len(copies) == 1
        ops: list[Operation] = []
        if first and template_priority is not None and template_priority != root.priority:
            validate_priority(template_priority)
            for t in hierarchy:
                ops.append(UpdateResource(replace(self.resource(t), priority=template_priority)))
        used = {c.priority for c in copies} | (
            {template_priority} if first and template_priority else set()
        )
        if target_priority is None:
            target_priority = next(p for p in range(10, 1000, 10) if p not in used)
        validate_priority(target_priority)
        if target_priority in used:
            raise StandfastError(
                "190006", priority=target_priority, server=self.server, tag=root_tag
            )
        sb = Switchback(switchback) if switchback else root.switchback
        alog.line("Executing the pre-extend script...")
        alog.line("Checking existence of extend and canextend scripts")
        alog.line("Building independent resource list")
        new: list[Resource] = []
        for t in graph.start_order(hierarchy):
            src = self.resource(t)
            new_tag = validate_tag(target_tag) if (t == root_tag and target_tag) else t
            new.append(
                replace(
                    src,
                    server=target,
                    tag=new_tag,
                    priority=target_priority,
                    switchback=sb,
                    props=get_kit(src.kit).props_for_copy(src.props),
                )
            )
        for r in new:
            alog.line(f"Checking extendability for {r.tag}")
        try:
            await self.ask(target, "can_extend", {"resources": [r.to_dict() for r in new]})
        except StandfastError as exc:
            # The target's own reason first, then the guide's 000008.
            alog.add(exc.code, **exc.params)
            raise StandfastError("000008", tag=root_tag, server=target) from None
        alog.line("Pre Extend checks were successful")
        if check_only:
            return ActionOutcome(
                alog.notices,
                {
                    "template": self.server,
                    "target": target,
                    "target_priority": target_priority,
                    "resources": [r.tag for r in new],
                    "extended": False,
                },
            )
        rename = {t: r.tag for t, r in zip(graph.start_order(hierarchy), new, strict=True)}
        ops += [AddResource(r) for r in new]
        ops += [
            AddDependency(Dependency(target, rename[d.parent], rename[d.child]))
            for d in sorted(graph.dependencies)
            if d.parent in hierarchy
        ]
        for r in new:
            alog.line(f'extend: BEGIN extension of "{r.tag}" on server "{target}"')
        await self._store(ops)
        for r in new:
            alog.line(f'extend: END successful extension of "{r.tag}" on server "{target}"')
        self._event("extend", root_tag, f"to {target} priority {target_priority}")
        return ActionOutcome(
            alog.notices,
            {
                "template": self.server,
                "target": target,
                "tag": rename[root_tag],
                "target_priority": target_priority,
                "resources": [r.tag for r in new],
            },
        )

    @operator_action
    async def unextend(self, tag: str, *, server: str) -> ActionOutcome:
        alog = _action_log.get()
        root_equivs = (
            {e for e, _ in self._root_equivs(tag)}
            if ((self.server, tag) in self.config.resources)
            else set()
        )
        # The tag may name the copy on the target server directly.
        target_copy = self.config.find(server, tag)
        if target_copy is None:
            matches = [
                r
                for r in self.config.resources.values()
                if r.server == server and r.equiv in root_equivs
            ]
            if not matches:
                raise StandfastError("193019", tag=tag, server=server)
            target_copy = matches[0]
        if server == self.server:
            states = dict(self.states)
        elif server in self.members.alive():
            # Ask, not the heartbeat's view: that may be one interval old.
            reply = await self.ask(server, "states", {})
            states = {t: State(v) for t, v in reply["states"].items()}
        else:
            states = {}
        graph = self.config.graph(server)
        hierarchy = graph.hierarchy(target_copy.tag)
        if any(states.get(t, State.OSU).in_service for t in hierarchy):
            raise StandfastError("193011", tag=target_copy.tag, server=server)
        copies = self.config.equivalents(target_copy.equiv)
        if len(copies) <= 1:
            raise StandfastError("193019", tag=tag, server="another server")
        alog.line("You have specified the following resource hierarchy for unextend.")
        alog.line(f"Target Server = {server}")
        alog.line(f"Target Tag = {target_copy.tag}")
        if server in self.members.alive() and server != self.server:
            await self.ask(server, "kit_delete", {"tags": sorted(hierarchy)})
        elif server == self.server:
            await self._kit_delete_local(sorted(hierarchy))
        await self._store([DeleteResource(server, t) for t in graph.stop_order(hierarchy)])
        if server == self.server:
            self._cleaned -= hierarchy  # removed here, not by a change from a peer
        self._event("unextend", target_copy.tag, f"from {server}")
        return ActionOutcome(alog.notices, {"server": server, "removed": sorted(hierarchy)})

    async def delete_copies_elsewhere(self, doomed: set[str], alog: ActionLog) -> list[Operation]:
        """Delete removes a hierarchy from every server: refuse while any copy is in
        service, clean up each live server's copy (its kit's delete), then drop all."""
        equivs = {self.resource(t).equiv for t in doomed}
        by_server: dict[str, set[str]] = {}
        for r in self.config.resources.values():
            if r.server != self.server and r.equiv in equivs:
                by_server.setdefault(r.server, set()).add(r.tag)
        alive = self.members.alive()
        for server, tags in sorted(by_server.items()):
            if server not in alive:
                continue
            reply = await self.ask(server, "states", {})
            for t in sorted(tags):
                if State(reply["states"].get(t, "OSU")).in_service:
                    raise StandfastError("190016", tag=t, server=server)
        ops: list[Operation] = []
        for server, tags in sorted(by_server.items()):
            if server in alive:
                await self.ask(server, "kit_delete", {"tags": sorted(tags)})
            else:
                alog.line(
                    f"Server {server} is down: its copy leaves the configuration now; its "
                    "host clean-up (such as an /etc/fstab entry) is done when it rejoins"
                )
            order = self.config.graph(server).stop_order(tags)
            ops += [DeleteResource(server, t) for t in order]
        return ops

    async def _kit_delete_local(self, tags: list[str]) -> None:
        alog = ActionLog()
        self._cleaned |= set(tags)  # the removal that follows needs no second clean-up
        for t in tags:
            await self._kit_call("delete", self.resource(t), alog)

    def answer_failover(self, tag: str, answer: str) -> dict[str, object]:
        """The operator's answer to a pending failover confirmation."""
        if answer not in ("proceed", "block"):
            raise StandfastError("190206", detail="answer must be proceed or block")
        for pending in self._confirmations.values():
            if pending["tag"] == tag:
                pending["answer"] = answer
                self._event("confirm_answer", tag, answer)
                return {"tag": tag, "answer": answer}
        raise StandfastError("000019")

    def pending_confirmations(self) -> list[dict[str, object]]:
        now = time.monotonic()
        return [
            {
                "tag": p["tag"],
                "from": p["from"],
                "answer": p["answer"],
                "seconds_left": max(0.0, round(float(str(p["deadline"])) - now, 1)),
            }
            for p in self._confirmations.values()
        ]

    # -- requests from peers ---------------------------------------------------------

    async def handle_peer(self, sender: str, method: str, params: dict[str, Any]) -> dict[str, Any]:
        if method == "get_config":
            return {"config": self.config.to_dict()}
        if method == "offer_config":
            adopted = self._adopt(ClusterConfig.from_dict(params["config"]), sender)
            return {"adopted": adopted}
        if method == "release":
            equiv = str(params["equiv"])
            mine = [
                r
                for r in self.config.resources.values()
                if r.server == self.server and r.equiv == equiv
            ]
            if not mine:
                return {"released": []}
            hierarchy = self.graph().hierarchy(mine[0].tag)
            self._last_holder[equiv] = sender  # it serves it from now on
            # Do not take it back while the requester is bringing it up (its new state
            # reaches us with its next heartbeats).
            self._hold_off[equiv] = (sender, time.monotonic() + self._hold_off_seconds())
            await self._release_quietly(hierarchy, f"released to {sender}")
            return {"released": sorted(hierarchy)}
        if method == "can_extend":
            return await self._can_extend_here([resource_from_dict(r) for r in params["resources"]])
        if method == "kit_delete":
            await self._kit_delete_local([str(t) for t in params["tags"]])
            return {"deleted": params["tags"]}
        if method == "status":
            return self.status()
        if method == "states":
            return {"states": {t: str(v) for t, v in self.states.items()}}
        if method == "remote_certificate":
            return {"pem": self.remote_certificate or ""}
        raise StandfastError("190206", detail=f"unknown peer request {method}")

    async def _can_extend_here(self, resources: list[Resource]) -> dict[str, Any]:
        for r in resources:
            existing = self.config.find(self.server, r.tag)
            if existing is not None:
                if existing.equiv == r.equiv:
                    raise StandfastError("000004", tag=r.tag, server=self.server)
                raise StandfastError("107010", tag_id=r.tag, server=self.server)
        ctx = self.context()
        for r in resources:
            kit = get_kit(r.kit)
            await self.runner.call(
                lambda kit=kit, r=r: kit.can_extend(ctx, r),  # type: ignore[misc]
                deadline=self.tunables.SF_ACTION_TIMEOUT,
                action="canextend",
                tag=r.tag,
            )
        return {"ok": True}

    # -- views ---------------------------------------------------------------------

    def status(self) -> dict[str, object]:
        out = super().status()
        has_q, present, needed = self.members.quorum()
        alive = self.members.alive()
        paths = self.members.paths()
        servers = {}
        for name in sorted(self.definition.servers):
            servers[name] = {
                "alive": name in alive,
                "local": name == self.server,
                "paths": paths.get(name, {}),
                "failover_blocked": self.definition.servers[name].failover_blocked,
            }
        view = self._view(has_q)
        equivalencies = []
        roots: dict[str, Resource] = {}
        for r in self.config.resources.values():
            g = self.config.graph(r.server)
            if not g.parents(r.tag):
                roots.setdefault(r.equiv, r)
        for equiv, some_root in sorted(roots.items(), key=lambda kv: kv[1].tag):
            copies = []
            for c in self.config.equivalents(equiv):
                st = view.states.get(c.server, {}).get(c.tag, State.UNKNOWN)
                copies.append(
                    {
                        "server": c.server,
                        "tag": c.tag,
                        "priority": c.priority,
                        "state": str(st) if c.server in alive else "UNKNOWN",
                    }
                )
            target = self.config.target(equiv)
            equivalencies.append(
                {
                    "tag": some_root.tag,
                    "equiv": equiv,
                    "copies": copies,
                    "target": {"in_service": target.in_service, "server": target.server},
                }
            )
        out["cluster"] = {
            "name": self.definition.name,
            "servers": servers,
            "quorum": {
                "has_quorum": has_q,
                "votes": present,
                "needed": needed,
                "mode": self.definition.quorum,
            },
            "hierarchies": equivalencies,
            "pending_confirmations": self.pending_confirmations(),
        }
        return out


__all__ = ["ClusterEngine"]
