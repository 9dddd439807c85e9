"""A cluster member's role in the engine: heartbeats and membership, replication,
placement through the failover gate, and the cluster side of operator actions.

Each cycle publishes this server's heartbeat report, adopts a newer configuration
from a peer, takes one snapshot, and for each placement (``place``) asks the gate
(``gate``) whether to act now. A server only ever acts on itself; peers are asked over
the authenticated peer channel (release a hierarchy, check an extension, clean up a
deleted copy).

Contracts: ``cycle`` never waits on an action or a peer (both are spawned); ``ask`` is
bounded by SF_ACTION_TIMEOUT and raises 193010 (unreachable) or 193020 (refused).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from standfast.cluster.definition import ClusterDef, fence_config
from standfast.cluster.keyring import ClusterKey
from standfast.cluster.peer import PeerError, PeerUnreachable
from standfast.cluster.report import HeartbeatReport
from standfast.engine.actions import ActionOutcome
from standfast.engine.arbitration import Arbitration
from standfast.engine.core import EngineCore
from standfast.engine.extend import Extender
from standfast.engine.failover import FailoverExecutor, TakeoverBook
from standfast.engine.gate import GateDecision, GateFacts, Verdict, gate
from standfast.engine.hierarchy import HierarchyOps
from standfast.engine.leave import Departure
from standfast.engine.loop import halt_host
from standfast.engine.membership import Membership
from standfast.engine.operator_gate import OperatorGate
from standfast.engine.partition import still_counted, takeover_margin
from standfast.engine.peer_handlers import PeerHandlers
from standfast.engine.placement import holders, place
from standfast.engine.reconcile import StartupReconciler
from standfast.engine.replication import Replication, majority
from standfast.engine.role import TICK
from standfast.engine.snapshot import ClusterSnapshot, QuorumStatus
from standfast.engine.switchover import Switchover
from standfast.kits.base import ActionLog
from standfast.messages import Notice, StandfastError
from standfast.model.config import Modes, Operation
from standfast.model.states import State

log = logging.getLogger("standfast.engine")

REJOIN_WINDOW = 15.0  # seconds a returning server may trigger automatic switchback


class ClusterMember:
    def __init__(
        self, core: EngineCore, hierarchy: HierarchyOps, definition: ClusterDef, key: ClusterKey
    ) -> None:
        self.core = core
        self.hierarchy = hierarchy
        self.definition = definition
        definition.server(core.server)  # refuse to run as a stranger
        self.handlers = PeerHandlers(self)
        self.members = Membership(definition, key, core.server, self.handlers.handle)
        self._key = key
        self.replication = Replication(core, self.members)
        self.book = TakeoverBook()
        self.executor = FailoverExecutor(core, hierarchy, self.members, definition, self.book)
        self.switchover = Switchover(core, self.members, self.ask, self.publish)
        self.extender = Extender(core, self.members, self.replication, self.ask)
        self.had_quorum = True
        self.startup = StartupReconciler(core, hierarchy)
        #: The gate's last word on each hierarchy this server would restore (for status).
        self.last_gate: dict[str, GateDecision] = {}
        self.operator = OperatorGate(self)
        self._modes: Modes | None = None  # the modes of the last cycle (_note_modes)
        self._last_cycle: float | None = None  # set by the first cycle (start-up is no stall)
        #: The PEM certificate this server's remote API serves (set when it starts); peers
        #: pin it for the requests they relay here.
        self.remote_certificate: str | None = None
        core.on_change(self.replication.push)
        core.change_guard = self._change_guard
        if self._agreed_quorum():  # a majority can acknowledge a change
            core.change_ack = self._change_held
        self.arbitration = Arbitration(core, hierarchy, self.members)
        self.departure = Departure(core, hierarchy, self.members, self.book, self.publish)

    # -- life cycle -----------------------------------------------------------------

    async def on_start(self) -> None:
        # Whatever this server ran before it stopped may run elsewhere by now: start
        # with everything out of service and let placement decide, once settled.
        for tag, state in list(self.core.states.items()):
            if state.in_service:
                self.core.set_state(tag, State.OSU, "restart")
        # What really runs here (a daemon that died leaves its applications running) is
        # found out before this server places anything (``_reconcile``).
        self.core.spawn(self.startup.probe())
        await self.members.start()

    async def aclose(self) -> None:
        await self.members.stop()

    # -- the per-cycle work ---------------------------------------------------------

    def publish(self) -> None:
        self.members.publish(self._report(self.had_quorum))

    def _report(self, quorum: bool) -> HeartbeatReport:
        core = self.core
        shown = core.published_config()  # not an operator's change awaiting a majority
        return HeartbeatReport(
            version=shown.version,
            digest=shown.digest(),
            quorum=quorum,
            states=dict(core.states),
            since=core.since_roots(),
            watchdog=self._own_watchdog(),
            leaving=self.departure.leaving,
        )

    async def leave(self, timeout: float) -> None:
        """Hand this server's hierarchies over before the daemon stops (engine/leave.py)."""
        await self.departure.leave(timeout)

    def _change_guard(self) -> None:
        """An operator's configuration change needs quorum (as the status shows it):
        one stored apart from the majority is replaced when the cluster is whole again
        (193016), after the operator was told it was done (found by bench/chaos.py)."""
        has_q, present, needed = self.members.quorum()
        if not has_q:
            raise StandfastError("193033", server=self.core.server, votes=present, needed=needed)

    def _change_held(self, holders: int) -> None:
        """Under majority quorum an operator's change is kept only once a majority of the
        configured servers hold it: the guard passed, but quorum can be lost while the
        change is pushed, and a change no majority holds may lose to another of the same
        version (193016) after the operator was told it was done (chaos seed 252)."""
        needed = majority(len(self.definition.servers))
        if holders < needed:
            raise StandfastError("193034", server=self.core.server, holders=holders, needed=needed)

    def _own_watchdog(self) -> float:
        t = self.core.tunables
        return float(t.SF_WATCHDOG_TIMEOUT) if t.SF_WATCHDOG_DEVICE else 0.0

    async def cycle(self) -> None:
        core, book = self.core, self.book
        self._notice_stall()
        self.members.update_partition()
        has_q, present, needed = self.members.quorum()
        self.members.publish(self._report(has_q))
        self._take_news()
        self.departure.note()
        self.replication.adopt_newer()
        self._note_modes()
        self._quorum_transition(has_q, present, needed)
        if not self.members.settled() or not self.startup.probed:
            return
        now = time.monotonic()
        snap = self.snapshot(QuorumStatus(has_q, present, needed, self.definition.quorum))
        if not self.startup.reconciled:
            self.startup.reconcile(snap)
            return
        self._note_holders(snap, now)
        self._note_partitions(snap, now)
        book.hold_off = {e: h for e, h in book.hold_off.items() if now < h[1]}
        facts = self.gate_facts(snap, now)
        for placement in place(snap):
            decision = gate(placement, core.config, facts)
            self.last_gate[placement.equiv] = decision
            if decision.verdict is Verdict.WAIT:
                continue
            if decision.verdict is Verdict.CONFIRM:
                self.executor.ask_confirmation(placement, decision)
                continue
            book.placing.add(placement.equiv)
            core.spawn(self.executor.execute(placement, decision))

    def _note_modes(self) -> None:
        """Standby or maintenance changed: which server places a hierarchy may change
        with them, while a peer that acted on the old modes (a restore just done) is not
        heard of yet. Restores wait a quiet period long enough for its next heartbeats
        (seen: server3 restored under standby, server1 adopted its unstandby 0.3 s later
        and restored too, from server3's state before the restore)."""
        modes = self.core.config.modes
        if self._modes is not None and modes != self._modes:
            quiet = 3 * self.definition.heartbeat.interval + TICK
            self.book.quiet_until = max(self.book.quiet_until, time.monotonic() + quiet)
        self._modes = modes

    def _notice_stall(self) -> None:
        """A loop that did not turn for as long as peers take to declare a server failed
        (SIGSTOP, a frozen VM, starvation) wakes with a stale view: its peers may have
        taken its hierarchies over, and its own heartbeat monitor may declare them all
        failed at once. Like a start, it restores nothing until it has heard them again
        (the quiet period, one settle time); giving copies up stays allowed."""
        now = time.monotonic()
        last, self._last_cycle = self._last_cycle, now
        hb = self.definition.heartbeat
        if last is None or now - last < hb.interval * hb.miss_count:
            return
        gap = now - last
        wait = self.members.settle_time
        self.book.quiet_until = max(self.book.quiet_until, now + wait)
        notice = Notice.of(
            "193027", server=self.core.server, seconds=f"{gap:.1f}", wait=f"{wait:.1f}"
        )
        log.warning(notice.text("en"))
        self.core.event("stall", self.core.server, notice.text("en"), {"seconds": round(gap, 3)})

    def _take_news(self) -> None:
        core, book = self.core, self.book
        news = self.members.take_news()
        now = time.monotonic()
        for peer, network, state in news.paths:
            core.event(
                "comm_path",
                peer,
                f"{network} {state}",
                {"peer": peer, "network": network, "state": state},
            )
        for peer in news.failed:
            report = self.members.peer_report(peer)
            if report is not None and report.leaving:
                core.event("server_left", peer, "its daemon stopped")
            else:
                core.event("server_failed", peer, "every comm path is dead")
        for peer in news.joined:
            was_fenced = peer in book.fenced
            book.fenced.discard(peer)  # it is back: a later failure needs a new fence
            if not was_fenced or peer in news.restarted:
                # A fenced server whose links merely healed is no switchback target: it
                # must come back for real (a restart) first.
                book.rejoined[peer] = now
            core.event("server_joined", peer, "")
        if news.joined:
            # A server that just came back (or whose peers did) may not have heard every
            # live peer yet: it must not take a hierarchy another one still runs.
            book.quiet_until = now + self.members.settle_time
        book.rejoined = {p: t for p, t in book.rejoined.items() if now - t < REJOIN_WINDOW}

    def _note_holders(self, snap: ClusterSnapshot, now: float) -> None:
        """Remember who holds each hierarchy: after a failure, the gate fences it."""
        for equiv in {r.equiv for r in snap.config.resources.values()}:
            serving = holders(snap, equiv)
            if not serving:
                continue
            holder = serving[0].server
            released = self.book.hold_off.get(equiv)
            if holder == self.core.server and released is not None and now < released[1]:
                # Still going down after a release: the requester holds it from now
                # on, even before its heartbeats say so (if it fails in between, its
                # failure is a failover, with fencing and confirmation).
                continue
            self.book.last_holder[equiv] = holder

    def _note_partitions(self, snap: ClusterSnapshot, now: float) -> None:
        """Who is still counted in a live peer's partition, and each peer's watchdog."""
        book, members = self.book, self.members
        book.ever_alive |= snap.alive
        for server in snap.servers:
            if server == self.core.server:
                continue
            # Under majority quorum this server's own partition counts too: the holder
            # may hold its quorum from this server's last report as from another's.
            if (self._agreed_quorum() and server in members.partition) or still_counted(
                server, snap.alive - {self.core.server}, members.partitions
            ):
                book.counted.add(server)
                book.uncounted_since.pop(server, None)
            elif server in book.counted:
                book.counted.discard(server)
                book.uncounted_since[server] = now
        for peer in snap.alive - {self.core.server}:
            report = members.peer_report(peer)
            if report is not None:
                book.peer_watchdog[peer] = report.watchdog

    def _agreed_quorum(self) -> bool:
        """Quorum is a majority of an agreed partition (``engine/partition.py``): a cut-off
        holder keeps it only as long as its peers' reports do. With a witness, etcd or no
        quorum it comes from elsewhere, and only the one-cycle margin applies."""
        d = self.definition
        return d.quorum == "majority" and len(d.servers) >= 3

    def _suspects(self, snap: ClusterSnapshot) -> frozenset[str]:
        """Servers that may still run what they held: declared failed, or never heard
        since this daemon started (after a restart it knows of no holder: assume one)."""
        unheard = frozenset(snap.servers) - self.book.ever_alive - {self.core.server}
        return (frozenset(self.members.failed_at) | unheard) - snap.alive

    def _watchdog_waits(self, suspects: frozenset[str]) -> dict[str, tuple[float, float]]:
        """server -> (since when it is silent, its watchdog timeout + our margin)."""
        t = self.core.tunables
        own = float(t.SF_WATCHDOG_TIMEOUT) if t.SF_WATCHDOG_DEVICE else 0.0
        out = {}
        for server in suspects:
            # A server never heard is assumed to run the watchdog this one does.
            timeout = self.book.peer_watchdog.get(server, own)
            if timeout > 0:
                since = self.members.failed_at.get(server, self.members.started_at)
                out[server] = (since, timeout + t.SF_WATCHDOG_MARGIN)
        return out

    def gate_facts(self, snap: ClusterSnapshot, now: float) -> GateFacts:
        book = self.book
        conf = self.definition.confirm_failover
        hb = self.definition.heartbeat
        suspects = self._suspects(snap)
        return GateFacts(
            now=now,
            local=self.core.server,
            settled=self.members.settled(),
            quorum=snap.quorum,
            alive=snap.alive,
            quiet_until=book.quiet_until,
            hold_off=dict(book.hold_off),
            last_holder=dict(book.last_holder),
            failed=suspects,
            fencing=fence_config(self.definition) is not None,
            fenced=frozenset(book.fenced),
            fence_retry_at=dict(book.fence_retry_at),
            confirm_timeout=float(conf.get("timeout", 30)) if conf else None,
            confirm_default=str(conf.get("default", "proceed")) if conf else "proceed",
            confirmations=dict(book.confirmations),
            counted=frozenset(book.counted),
            uncounted_since=dict(book.uncounted_since),
            counted_margin=takeover_margin(hb.interval, hb.miss_count, TICK)
            if self._agreed_quorum()
            else TICK + 0.1,
            watchdog_wait=self._watchdog_waits(suspects),
            arbiter_holders=None
            if self.members.arbiter is None
            else self.members.arbiter.holders(),
            left_clean=dict(book.left_clean),
        )

    def hold_off_seconds(self) -> float:
        return 3 * self.definition.heartbeat.interval + 1.0

    def _quorum_transition(self, has_q: bool, present: int, needed: int) -> None:
        core = self.core
        if not self.members.settled():
            # Peers are still being heard for the first time: not a loss of anything.
            self.had_quorum = has_q
            return
        if has_q == self.had_quorum:
            return
        self.had_quorum = has_q
        if has_q:
            # Quorum can come back before any peer was declared failed (so no "joined"
            # news): the peers' published states may still be from before the cut.
            self.book.quiet_until = time.monotonic() + self.members.settle_time
            log.info(Notice.of("193013", server=core.server).text("en"))
            core.event("quorum", core.server, "regained")
            return
        log.error(Notice.of("193012", server=core.server, votes=present, needed=needed).text("en"))
        core.event("quorum", core.server, f"lost ({present} of {needed} votes)")
        self.operator.preempt()
        if self.definition.quorum_loss_action == "halt":
            core.spawn(halt_host(core, core.server))
        else:
            for h in core.graph().hierarchies():
                if any(core.state(t).in_service for t in h):
                    core.spawn(self.hierarchy.release(h, "quorum lost"))

    # -- the view ---------------------------------------------------------------------

    def peer_states(self, peer: str) -> dict[str, State]:
        """``peer``'s instances as its heartbeats report them (OSU for those it leaves
        unsaid); empty before its first heartbeat."""
        report = self.members.peer_report(peer)
        if report is None:
            return {}
        return report.states_of(t for (srv, t) in self.core.config.resources if srv == peer)

    def snapshot(self, quorum: QuorumStatus | None = None) -> ClusterSnapshot:
        core = self.core
        if quorum is None:
            has_q, present, needed = self.members.quorum()
            quorum = QuorumStatus(has_q, present, needed, self.definition.quorum)
        alive = self.members.alive()
        leaving = {core.server} if self.departure.leaving else set()
        states: dict[str, dict[str, State]] = {core.server: dict(core.states)}
        since: dict[str, dict[str, float]] = {core.server: core.since_roots()}
        peer_configs: dict[str, tuple[int, str]] = {}
        for peer in alive - {core.server}:
            report = self.members.peer_report(peer)
            states[peer] = self.peer_states(peer)
            since[peer] = dict(report.since) if report is not None else {}
            if report is not None:
                peer_configs[peer] = (report.version, report.digest)
                if report.leaving:
                    leaving.add(peer)
        busy_equivs = frozenset(
            core.resource(t).equiv for t in core.busy if (core.server, t) in core.config.resources
        )
        d = self.definition
        return ClusterSnapshot(
            local=core.server,
            config=core.config,
            alive=alive,
            states=states,
            blocked=frozenset(n for n, s in d.servers.items() if s.failover_blocked),
            quorum=quorum.has_quorum,
            rejoined=frozenset(self.book.rejoined),
            busy_equivs=busy_equivs | frozenset(self.book.placing),
            since=since,
            name=d.name,
            servers=tuple(sorted(d.servers)),
            reasons=dict(core.reasons),
            paths=self.members.paths(),
            quorum_status=quorum,
            busy=frozenset(core.busy),
            started=core.started,
            pending_confirmations=tuple(self.pending_confirmations()),
            clustered=True,
            peer_configs=peer_configs,
            heartbeats=self.members.heartbeat.counters(),
            round_trips=self.members.heartbeat.round_trips(),
            arbiter=self.arbitration.status(),
            without_quorum=self.arbitration.peers_without_quorum(alive),
            leaving=frozenset(leaving),
        )

    def copy_state(self, server: str, tag: str) -> State:
        """Another live server's instance as its heartbeats report it (OSU when it is
        not heard: it runs nothing then, as far as this server can act on)."""
        if server == self.core.server:
            return self.core.state(tag)
        if server not in self.members.alive():
            return State.OSU
        return self.peer_states(server).get(tag, State.OSU)

    # -- operator actions across servers (engine/operator_gate.py) --------------------

    async def before_in_service(self, tag: str, alog: ActionLog) -> None:
        await self.operator.before_in_service(tag, alog)

    async def before_out_of_service(self, tag: str, alog: ActionLog) -> None:
        await self.operator.before_out_of_service(tag, alog)

    async def delete_copies_elsewhere(self, doomed: set[str], alog: ActionLog) -> list[Operation]:
        return await self.extender.delete_copies_elsewhere(doomed, alog)

    async def extend(self, tag: str, **options: Any) -> ActionOutcome:
        return await self.extender.extend(tag, **options)

    async def unextend(self, tag: str, *, server: str) -> ActionOutcome:
        return await self.extender.unextend(tag, server=server)

    def answer_failover(self, tag: str, answer: str) -> dict[str, object]:
        return self.operator.answer_failover(tag, answer)

    def pending_confirmations(self) -> list[dict[str, object]]:
        return self.operator.pending_confirmations()

    async def ask(self, peer: str, method: str, params: dict[str, Any]) -> dict[str, Any]:
        try:
            timeout = self.core.tunables.SF_ACTION_TIMEOUT
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

    # -- what the API and simulate read -----------------------------------------------

    def servers(self) -> frozenset[str]:
        return frozenset(self.definition.servers)

    def addresses(self, server: str) -> list[str]:
        sdef = self.definition.servers.get(server)
        # In comm-path network order: the relay tries them in turn.
        return [sdef.addresses[n] for n in sorted(sdef.addresses)] if sdef is not None else []

    def cluster_key(self) -> ClusterKey | None:
        return self._key

    def publish_certificate(self, pem: str) -> None:
        self.remote_certificate = pem

    def gate_context(self) -> GateFacts:
        return self.gate_facts(self.snapshot(), time.monotonic())
