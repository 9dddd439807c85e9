"""The daemon's Prometheus metrics (docs/monitoring.md lists every one).

Two kinds, kept apart on purpose:

- What *is* (resource states, comm paths, servers, quorum, the configuration version,
  the loop's age, the heartbeat datagram counts) is read from one ``ClusterSnapshot``
  when a scrape asks (``SnapshotCollector``), so it is never stale and costs nothing
  between scrapes.
- What *happened* (failovers and their durations, checks and their durations, local
  recoveries, fences, every event by kind, alert deliveries) is counted as it happens:
  ``EngineMetrics.on_event`` is an ``EventLog`` listener and ``on_check`` a control
  loop observer. Both run on the event loop, return at once and never raise.

Each engine has its own registry (several engines may share a process in tests); alert
deliveries are process-wide (``record_alert_delivery``), registered in every registry.

Contract for the alert dispatcher: call ``record_alert_delivery(recipient, result)``
once per delivery attempt that ended, ``result`` one of ``DELIVERY_RESULTS``; it is
thread-safe, returns at once and never raises.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

from standfast import __version__
from standfast.engine.events import EventRecord
from standfast.engine.snapshot import ClusterSnapshot
from standfast.model.states import State

log = logging.getLogger(__name__)

CONTENT_TYPE = CONTENT_TYPE_LATEST

# Failover durations: detection alone is miss_count x interval (1.5 s by default), a
# restore of a NAS hierarchy can take a mount timeout; buckets cover both ends.
FAILOVER_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 7.5, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0)
CHECK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 120.0)
# The durations a failover event carries (engine/failover.py), by histogram phase.
FAILOVER_PHASES = {
    "restore": "restore_seconds",  # the placement decision to in service
    "detect_to_in_service": "detect_to_in_service_seconds",  # peer declared failed to ISP
    "outage": "outage_seconds",  # last heartbeat heard from it to ISP
}
DELIVERY_RESULTS = ("sent", "failed", "dropped")

ALERT_DELIVERIES = Counter(
    "standfast_alert_deliveries",
    "Alert deliveries that ended, by recipient and result (sent, failed, dropped).",
    ["recipient", "result"],
    registry=None,
)


def record_alert_delivery(recipient: str, result: str) -> None:
    """Count one ended delivery of an alert to ``recipient`` (an address or a hook's
    name: keep it to what the configuration names, never free text). ``result``: one
    of ``DELIVERY_RESULTS``; anything else counts as ``failed``. Never raises."""
    try:
        ALERT_DELIVERIES.labels(
            str(recipient), result if result in DELIVERY_RESULTS else "failed"
        ).inc()
    except Exception:  # a metric must never break a delivery
        log.exception("cannot count an alert delivery")


def _gauge(name: str, doc: str, labels: list[str]) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, labels=labels)


class SnapshotCollector(Collector):
    """The gauges, computed from a fresh snapshot at every scrape."""

    def __init__(
        self, snapshot: Callable[[], ClusterSnapshot], last_cycle_at: Callable[[], float]
    ) -> None:
        self._snapshot = snapshot
        self._last_cycle_at = last_cycle_at

    def collect(self) -> Iterator[Metric]:
        snap = self._snapshot()
        yield from snapshot_metrics(snap, time.monotonic() - self._last_cycle_at())


def snapshot_metrics(snap: ClusterSnapshot, loop_age: float) -> Iterator[Metric]:
    """Every gauge of ``snap`` (pure: unit-tested with a made snapshot)."""
    info = _gauge(
        "standfast_info",
        "This daemon: server, cluster and version.",
        ["server", "cluster", "version"],
    )
    info.add_metric([snap.local, snap.name if snap.clustered else "", __version__], 1)
    yield info
    age = GaugeMetricFamily(
        "standfast_loop_last_cycle_age_seconds", "Seconds since the control loop last turned."
    )
    age.add_metric([], max(0.0, loop_age))
    yield age
    version = GaugeMetricFamily(
        "standfast_config_version", "The configuration version this server holds."
    )
    version.add_metric([], snap.config.version)
    yield version
    yield from _mode_metrics(snap)
    yield _resource_states(snap)
    yield from _cluster_metrics(snap)


def _mode_metrics(snap: ClusterSnapshot) -> Iterator[Metric]:
    """Maintenance and standby (docs/maintenance.md): alert rules can tell a quiet
    cluster from one whose checks are suspended."""
    whole = GaugeMetricFamily(
        "standfast_maintenance", "1 while the whole cluster is in maintenance mode."
    )
    whole.add_metric([], 1 if snap.config.modes.maintenance else 0)
    yield whole
    local = snap.config.graph(snap.local)
    per = _gauge(
        "standfast_hierarchy_maintenance",
        "1 while this server's hierarchy (by root tag) is in maintenance (its own or the"
        " cluster's).",
        ["tag"],
    )
    for root in local.roots():
        per.add_metric([root], 1 if snap.config.in_maintenance(local.resources[root].equiv) else 0)
    yield per
    standby = _gauge("standfast_server_standby", "1 while a server is in standby.", ["server"])
    for server in snap.servers or (snap.local,):
        standby.add_metric([server], 1 if snap.config.standby(server) else 0)
    yield standby


def _resource_states(snap: ClusterSnapshot) -> GaugeMetricFamily:
    states = _gauge(
        "standfast_resource_state",
        "1 for the state each resource instance is in as this server knows it, 0 for the "
        "others (ISP, ISU, OSU, OSF, UNKNOWN).",
        ["server", "tag", "kit", "state"],
    )
    for (server, tag), res in sorted(snap.config.resources.items()):
        current = snap.state(server, tag)
        for st in State:
            states.add_metric([server, tag, res.kit, str(st)], 1 if st is current else 0)
    return states


def _cluster_metrics(snap: ClusterSnapshot) -> Iterator[Metric]:
    alive = _gauge("standfast_server_alive", "1 while a server is heard (this one: 1).", ["server"])
    for server in snap.servers or (snap.local,):
        alive.add_metric([server], 1 if server in snap.alive else 0)
    yield alive
    paths = _gauge(
        "standfast_comm_path_up",
        "1 while a comm path to a peer is ALIVE, 0 when DEAD.",
        ["peer", "network"],
    )
    for peer, nets in sorted(snap.paths.items()):
        for net, state in sorted(nets.items()):
            paths.add_metric([peer, net], 1 if state == "ALIVE" else 0)
    yield paths
    rtt = _gauge(
        "standfast_heartbeat_round_trip_seconds",
        "The last heartbeat round trip measured on a comm path (the peer echoes this"
        " server's send time).",
        ["peer", "network"],
    )
    for peer, trips in sorted(snap.round_trips.items()):
        for net, seconds in sorted(trips.items()):
            rtt.add_metric([peer, net], seconds)
    yield rtt
    q = snap.quorum_status
    quorum = GaugeMetricFamily("standfast_quorum", "1 while this server holds quorum.")
    quorum.add_metric([], 1 if snap.quorum else 0)
    yield quorum
    votes = GaugeMetricFamily("standfast_quorum_votes", "Quorum votes present.", labels=["mode"])
    votes.add_metric([q.mode], q.votes)
    yield votes
    needed = GaugeMetricFamily(
        "standfast_quorum_votes_needed", "Quorum votes needed.", labels=["mode"]
    )
    needed.add_metric([q.mode], q.needed)
    yield needed
    hb = CounterMetricFamily(
        "standfast_heartbeat_datagrams",
        "Heartbeat datagrams since start: sent, received, accepted, and dropped by reason.",
        labels=["what"],
    )
    for what, n in sorted(snap.heartbeats.items()):
        hb.add_metric([what], n)
    yield hb


class EngineMetrics:
    """One engine's registry: the snapshot gauges plus the counters of what happened."""

    def __init__(
        self, snapshot: Callable[[], ClusterSnapshot], last_cycle_at: Callable[[], float]
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(SnapshotCollector(snapshot, last_cycle_at))
        self.registry.register(ALERT_DELIVERIES)
        self.failovers = Counter(
            "standfast_failovers",
            "Failovers this server carried out (it took a hierarchy over from a failed "
            "server), by the hierarchy's root tag.",
            ["tag"],
            registry=self.registry,
        )
        self.failover_seconds = Histogram(
            "standfast_failover_duration_seconds",
            "Failover durations on this server: restore (decision to in service), "
            "detect_to_in_service (the peer declared failed to in service), outage (the "
            "last heartbeat heard to in service).",
            ["phase"],
            buckets=FAILOVER_BUCKETS,
            registry=self.registry,
        )
        self.checks = Counter(
            "standfast_checks",
            "Resource checks run here, by tag, kind (quick, deep) and result (ok, failed).",
            ["tag", "kind", "result"],
            registry=self.registry,
        )
        self.check_seconds = Histogram(
            "standfast_check_duration_seconds",
            "How long resource checks took, by kind (quick, deep).",
            ["kind"],
            buckets=CHECK_BUCKETS,
            registry=self.registry,
        )
        self.events = Counter(
            "standfast_events",
            "Every engine event (standfast events) recorded here, by kind.",
            ["kind"],
            registry=self.registry,
        )
        self.recoveries = Counter(
            "standfast_local_recoveries",
            "Successful local recoveries, by tag.",
            ["tag"],
            registry=self.registry,
        )
        self.fences = Counter(
            "standfast_fences",
            "Fencing of a failed server, by server and result (ok, failed).",
            ["server", "result"],
            registry=self.registry,
        )
        # The histograms and the failover counter exist from the start (with zero
        # values), so a dashboard or a rate() sees them before the first failover.
        for phase in FAILOVER_PHASES:
            self.failover_seconds.labels(phase)
        for kind in ("quick", "deep"):
            self.check_seconds.labels(kind)

    def on_event(self, record: EventRecord) -> None:
        """``EventLog`` listener: counts ``record``; returns at once."""
        kind = record.kind
        self.events.labels(kind).inc()
        if kind == "failover":
            self.failovers.labels(record.tag).inc()
            for phase, key in FAILOVER_PHASES.items():
                value = record.data.get(key)
                if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
                    self.failover_seconds.labels(phase).observe(float(value))
        elif kind == "recovered":
            self.recoveries.labels(record.tag).inc()
        elif kind in ("fenced", "fence_failed"):
            self.fences.labels(record.tag, "ok" if kind == "fenced" else "failed").inc()

    def on_check(self, tag: str, deep: bool, ok: bool, seconds: float) -> None:
        """Control loop observer: one check of ``tag`` ended after ``seconds``."""
        kind = "deep" if deep else "quick"
        self.checks.labels(tag, kind, "ok" if ok else "failed").inc()
        self.check_seconds.labels(kind).observe(max(0.0, seconds))

    def exposition(self) -> bytes:
        """The Prometheus text format of every metric, now."""
        return generate_latest(self.registry)


__all__ = [
    "ALERT_DELIVERIES",
    "CONTENT_TYPE",
    "DELIVERY_RESULTS",
    "EngineMetrics",
    "record_alert_delivery",
    "snapshot_metrics",
]
