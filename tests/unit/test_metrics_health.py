"""The metrics, health rules, their settings and ``standfast status``'s exit status:
pure parts, with a made snapshot; every exposition is read back with prometheus-client's
own text parser."""

from __future__ import annotations

from dataclasses import replace

import pytest
from prometheus_client.parser import text_string_to_metric_families

from standfast.api.remote.settings import RemoteSettings
from standfast.cli import status_exit
from standfast.engine import health
from standfast.engine.events import EventLog
from standfast.engine.metrics import EngineMetrics, record_alert_delivery
from standfast.engine.snapshot import ClusterSnapshot, QuorumStatus
from standfast.model.config import AddResource, ClusterConfig, SetMaintenance, SetStandby
from standfast.model.resources import Resource
from standfast.model.states import State


def config() -> ClusterConfig:
    ops = [
        AddResource(Resource(server=s, tag=tag, kit="app", id="app", priority=p, equiv="E-app"))
        for s, tag, p in (("s1", "app", 1), ("s2", "app-b", 10))
    ]
    return ClusterConfig().apply(ops)


def snapshot(**kw: object) -> ClusterSnapshot:
    base: dict[str, object] = dict(
        local="s1",
        config=config(),
        alive=frozenset({"s1", "s2"}),
        states={"s1": {"app": State.ISP}, "s2": {"app-b": State.OSU}},
        name="prod",
        servers=("s1", "s2", "s3"),
        paths={"s2": {"net1": "ALIVE", "net2": "DEAD"}, "s3": {"net1": "DEAD"}},
        quorum_status=QuorumStatus(True, 2, 2, "majority"),
        clustered=True,
        heartbeats={"sent": 10, "accepted": 8, "forged": 1},
    )
    base.update(kw)
    return ClusterSnapshot(**base)  # type: ignore[arg-type]


def scrape(m: EngineMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(m.exposition().decode()):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_gauges_come_from_the_snapshot_at_scrape_time() -> None:
    snaps = [snapshot()]
    m = EngineMetrics(lambda: snaps[0], lambda: 0.0)
    got = scrape(m)
    st = "standfast_resource_state"
    assert got[(st, (("kit", "app"), ("server", "s1"), ("state", "ISP"), ("tag", "app")))] == 1
    assert got[(st, (("kit", "app"), ("server", "s1"), ("state", "OSF"), ("tag", "app")))] == 0
    assert got[(st, (("kit", "app"), ("server", "s2"), ("state", "OSU"), ("tag", "app-b")))] == 1
    assert got[("standfast_comm_path_up", (("network", "net2"), ("peer", "s2")))] == 0
    assert got[("standfast_comm_path_up", (("network", "net1"), ("peer", "s2")))] == 1
    assert got[("standfast_server_alive", (("server", "s3"),))] == 0
    assert got[("standfast_quorum", ())] == 1
    assert got[("standfast_quorum_votes_needed", (("mode", "majority"),))] == 2
    assert got[("standfast_heartbeat_datagrams_total", (("what", "forged"),))] == 1
    assert got[("standfast_info", (("cluster", "prod"), ("server", "s1"), ("version", "0.1.0")))]
    # Never stale: the next scrape reads the next snapshot.
    snaps[0] = snapshot(states={"s1": {"app": State.OSF}}, quorum=False)
    got = scrape(m)
    assert got[(st, (("kit", "app"), ("server", "s1"), ("state", "OSF"), ("tag", "app")))] == 1
    assert got[("standfast_quorum", ())] == 0


def test_maintenance_and_standby_gauges() -> None:
    got = scrape(EngineMetrics(lambda: snapshot(), lambda: 0.0))
    assert got[("standfast_maintenance", ())] == 0
    assert got[("standfast_hierarchy_maintenance", (("tag", "app"),))] == 0
    assert got[("standfast_server_standby", (("server", "s2"),))] == 0
    cfg = config().apply([SetMaintenance(True, "E-app"), SetStandby("s2", True)])
    got = scrape(EngineMetrics(lambda: snapshot(config=cfg), lambda: 0.0))
    assert got[("standfast_maintenance", ())] == 0
    assert got[("standfast_hierarchy_maintenance", (("tag", "app"),))] == 1
    assert got[("standfast_server_standby", (("server", "s2"),))] == 1
    assert got[("standfast_server_standby", (("server", "s1"),))] == 0
    cfg = config().apply([SetMaintenance(True)])
    got = scrape(EngineMetrics(lambda: snapshot(config=cfg), lambda: 0.0))
    assert got[("standfast_maintenance", ())] == 1
    assert got[("standfast_hierarchy_maintenance", (("tag", "app"),))] == 1


def test_failover_events_count_and_fill_the_histogram() -> None:
    m = EngineMetrics(snapshot, lambda: 0.0)
    log = EventLog()
    log.subscribe(m.on_event)
    before = scrape(m)
    assert before[("standfast_failover_duration_seconds_count", (("phase", "restore"),))] == 0
    data = {"restore_seconds": 0.4, "detect_to_in_service_seconds": 0.5, "outage_seconds": 2.0}
    log.add("failover", "app", "s2 -> s1", dict(data))
    log.add("failover", "app", "s2 -> s1", {"restore_seconds": True})  # not a duration
    log.add("recovered", "app", "")
    log.add("fenced", "s2", "fenced", {"seconds": 1.0})
    got = scrape(m)
    assert got[("standfast_failovers_total", (("tag", "app"),))] == 2
    restore = (("phase", "restore"),)
    assert got[("standfast_failover_duration_seconds_count", restore)] == 1
    assert got[("standfast_failover_duration_seconds_sum", restore)] == pytest.approx(0.4)
    assert got[("standfast_failover_duration_seconds_bucket", (("le", "0.5"), *restore))] == 1
    assert got[("standfast_failover_duration_seconds_bucket", (("le", "0.25"), *restore))] == 0
    outage = (("phase", "outage"),)
    assert got[("standfast_failover_duration_seconds_sum", outage)] == pytest.approx(2.0)
    assert got[("standfast_local_recoveries_total", (("tag", "app"),))] == 1
    assert got[("standfast_fences_total", (("result", "ok"), ("server", "s2")))] == 1
    assert got[("standfast_events_total", (("kind", "failover"),))] == 2


def test_checks_and_alert_deliveries() -> None:
    m = EngineMetrics(snapshot, lambda: 0.0)
    m.on_check("app", False, True, 0.02)
    m.on_check("app", True, False, 3.0)
    record_alert_delivery("ops@example.com", "sent")
    record_alert_delivery("ops@example.com", "nonsense")
    got = scrape(m)
    assert got[("standfast_checks_total", (("kind", "quick"), ("result", "ok"), ("tag", "app")))]
    deep = (("kind", "deep"), ("result", "failed"), ("tag", "app"))
    assert got[("standfast_checks_total", deep)] == 1
    assert got[("standfast_check_duration_seconds_sum", (("kind", "deep"),))] == 3.0
    alerts = "standfast_alert_deliveries_total"
    assert got[(alerts, (("recipient", "ops@example.com"), ("result", "sent")))] >= 1
    assert got[(alerts, (("recipient", "ops@example.com"), ("result", "failed")))] >= 1


def test_health_ready_and_in_service() -> None:
    assert health.health(0.1).ok and not health.health(health.LOOP_STALE + 1).ok
    snap = snapshot()
    assert health.readiness(snap, 0.1).ok
    assert not health.readiness(snap, 60).ok
    lost = health.readiness(snapshot(quorum=False), 0.1)
    assert not lost.ok and lost.body["quorum"] is False
    mine = (snap.config.version, snap.config.digest())
    behind = health.readiness(snapshot(peer_configs={"s2": (mine[0] + 1, "")}), 0.1)
    assert not behind.ok and behind.body["config_current"] is False
    assert health.readiness(snapshot(peer_configs={"s2": mine}), 0.1).ok
    # This server's own tag, the other server's tag for the same hierarchy, unknown.
    here = health.in_service_here(snap, "app")
    assert (
        here is not None
        and here.ok
        and here.body
        == {
            "tag": "app",
            "in_service": True,
            "state": "ISP",
        }
    )
    via_other = health.in_service_here(snap, "app-b")
    assert via_other is not None and via_other.ok
    assert health.in_service_here(snap, "nope") is None
    elsewhere = health.in_service_here(replace(snap, local="s2"), "app")
    assert elsewhere is not None and not elsewhere.ok and elsewhere.body["state"] == "OSU"


def test_metrics_settings() -> None:
    s, notices = RemoteSettings.from_env(
        {"STANDFAST_METRICS": "open", "STANDFAST_METRICS_LISTEN": "127.0.0.1:9464"}
    )
    assert (
        notices == []
        and s.metrics_open
        and (s.metrics_host, s.metrics_port)
        == (
            "127.0.0.1",
            9464,
        )
    )
    s, notices = RemoteSettings.from_env({})
    assert not s.metrics_open and s.metrics_port == 0 and notices == []
    for env, name in (
        ({"STANDFAST_METRICS": "public"}, "STANDFAST_METRICS"),
        ({"STANDFAST_METRICS_LISTEN": "9464"}, "STANDFAST_METRICS_LISTEN"),
        ({"STANDFAST_METRICS_LISTEN": "[::1]:99999"}, "STANDFAST_METRICS_LISTEN"),
        ({"STANDFAST_METRICS_LISTEN": "0.0.0.0:7443"}, "STANDFAST_METRICS_LISTEN"),
    ):
        s, notices = RemoteSettings.from_env(env)
        assert [n.code for n in notices] == ["194062"], env
        assert notices[0].params["name"] == name
        assert not s.metrics_open and s.metrics_port == 0  # the default stays
    s, _ = RemoteSettings.from_env(
        {"STANDFAST_REMOTE_LISTEN": "off", "STANDFAST_METRICS_LISTEN": "[::]:7443"}
    )
    assert (s.metrics_host, s.metrics_port) == ("::", 7443)


def _status(states: dict[str, str], **cluster: object) -> dict[str, object]:
    tree = [{"tag": t, "state": st, "children": []} for t, st in states.items()]
    out: dict[str, object] = {"server": "s1", "hierarchies": tree}
    if cluster:
        out["cluster"] = cluster
    return out


@pytest.mark.parametrize(
    ("status", "code", "first"),
    [
        (_status({"web": "ISP", "db": "OSU"}), 0, None),
        (_status({}), 0, None),
        (_status({"web": "ISU"}), 3, "web on s1: ISU"),
        (_status({"web": "OSF"}), 4, "web on s1: OSF"),
        (
            _status({"web": "ISP"}, servers={"s2": {"paths": {"net1": "DEAD", "net2": "ALIVE"}}}),
            3,
            "comm path net1 to s2: DEAD",
        ),
        (
            _status({}, quorum={"has_quorum": False, "votes": 1, "needed": 2}),
            4,
            "quorum lost (1 of 2 votes)",
        ),
        (
            _status(
                {"web": "ISP"},
                hierarchies=[{"copies": [{"server": "s2", "tag": "web", "state": "OSF"}]}],
            ),
            4,
            "web on s2: OSF",
        ),
    ],
)
def test_status_exit(status: dict[str, object], code: int, first: str | None) -> None:
    got, lines = status_exit.problems(status)
    assert got == code
    assert (lines[0] if lines else None) == first
