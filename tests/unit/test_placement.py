"""Placement across servers: failover, switchback, split-brain resolution, quorum."""

from __future__ import annotations

import pytest

from standfast.engine.placement import ClusterView, Placement, PlacementKind, place
from standfast.model.config import (
    AddDependency,
    AddResource,
    ClusterConfig,
    SetMaintenance,
    SetStandby,
    SetTarget,
)
from standfast.model.resources import Dependency, Resource
from standfast.model.states import State, Switchback


def config(switchback: Switchback = Switchback.INTELLIGENT) -> ClusterConfig:
    ops: list[object] = []
    for server, prio in (("s1", 1), ("s2", 10), ("s3", 20)):
        ops += [
            AddResource(
                Resource(
                    server=server,
                    tag="app",
                    kit="app",
                    id="app",
                    switchback=switchback,
                    priority=prio,
                    equiv="E-app",
                )
            ),
            AddResource(
                Resource(
                    server=server,
                    tag="fs",
                    kit="app",
                    id="fs",
                    switchback=switchback,
                    priority=prio,
                    equiv="E-fs",
                )
            ),
            AddDependency(Dependency(server, "app", "fs")),
        ]
    return ClusterConfig().apply(ops)  # type: ignore[arg-type]


def view(local: str, alive: set[str], held: dict[str, State], **kw: object) -> ClusterView:
    states = {s: {"app": held.get(s, State.OSU), "fs": held.get(s, State.OSU)} for s in alive}
    base: dict[str, object] = dict(
        local=local, config=config(), alive=frozenset(alive), states=states
    )
    base.update(kw)
    return ClusterView(**base)  # type: ignore[arg-type]


def test_primary_crash_backup_with_best_priority_restores() -> None:
    # s1 held it and died: s2 (priority 10) restores, s3 (20) waits.
    assert place(view("s2", {"s2", "s3"}, {})) == [
        Placement(PlacementKind.RESTORE, "E-app", "app", "s2")
    ]
    assert place(view("s3", {"s2", "s3"}, {})) == []


def test_nothing_moves_while_served() -> None:
    for local in ("s1", "s2", "s3"):
        assert place(view(local, {"s1", "s2", "s3"}, {"s2": State.ISP})) == []


def test_failed_copy_is_skipped() -> None:
    v = view("s3", {"s2", "s3"}, {"s2": State.OSF})
    assert [p.kind for p in place(v)] == [PlacementKind.RESTORE]


def test_blocked_server_and_no_quorum_never_restore() -> None:
    assert place(view("s2", {"s2", "s3"}, {}, blocked=frozenset({"s2"}))) == []
    assert [p.target for p in place(view("s3", {"s2", "s3"}, {}, blocked=frozenset({"s2"})))] == [
        "s3"
    ]
    assert place(view("s2", {"s2"}, {}, quorum=False)) == []


def test_out_of_service_target_is_respected() -> None:
    cfg = config().apply([SetTarget("E-app", False)])
    assert place(view("s1", {"s1", "s2"}, {}, config=cfg)) == []


def test_intelligent_stays_automatic_returns_on_rejoin() -> None:
    back = frozenset({"s1"})
    v = view("s2", {"s1", "s2", "s3"}, {"s2": State.ISP}, rejoined=back)
    assert place(v) == []  # intelligent
    v = view(
        "s2",
        {"s1", "s2", "s3"},
        {"s2": State.ISP},
        rejoined=back,
        config=config(Switchback.AUTOMATIC),
    )
    assert place(v) == [
        Placement(PlacementKind.SWITCHBACK, "E-app", "app", "s1", "higher-priority server is back")
    ]
    # Without a rejoin (a manual switchover to s2), automatic does not bounce it back.
    v = view("s2", {"s1", "s2", "s3"}, {"s2": State.ISP}, config=config(Switchback.AUTOMATIC))
    assert place(v) == []


def test_split_brain_stale_copy_goes_down() -> None:
    held = {"s1": State.ISP, "s3": State.ISP}
    # Same start time: the lower-priority copy goes.
    assert place(view("s1", {"s1", "s2", "s3"}, held)) == []
    [p] = place(view("s3", {"s1", "s2", "s3"}, held))
    assert p.kind is PlacementKind.RESOLVE_SPLIT and p.target == "s1"
    # s1 was hung while s3 took over later: s1's copy is the stale one.
    since = {"s1": {"app": 100.0}, "s3": {"app": 200.0}}
    [p] = place(view("s1", {"s1", "s2", "s3"}, held, since=since))
    assert p.kind is PlacementKind.RESOLVE_SPLIT and p.target == "s3"
    assert place(view("s3", {"s1", "s2", "s3"}, held, since=since)) == []


def test_every_server_agrees_on_one_restorer() -> None:
    for alive in ({"s1", "s2", "s3"}, {"s2", "s3"}, {"s1", "s3"}, {"s3"}):
        restorers = [
            s
            for s in alive
            if any(p.kind is PlacementKind.RESTORE for p in place(view(s, alive, {})))
        ]
        assert len(restorers) == 1


def test_operator_target_server_is_preferred_while_eligible() -> None:
    cfg = config().apply([SetTarget("E-app", True, "s3")])
    # A switchover to s3 is in flight: s1 has released, s3 has not restored yet.
    assert place(view("s1", {"s1", "s2", "s3"}, {}, config=cfg)) == []
    assert [p.kind for p in place(view("s3", {"s1", "s2", "s3"}, {}, config=cfg))] == [
        PlacementKind.RESTORE
    ]
    # s3 gone: back to priority order.
    assert [p.target for p in place(view("s1", {"s1", "s2"}, {}, config=cfg))] == ["s1"]


# -- maintenance and standby (docs/maintenance.md) ---------------------------------------

ALL3 = {"s1", "s2", "s3"}
APP_ON_S1 = {"s1": State.ISP}


def _mode(*ops: SetMaintenance | SetStandby) -> ClusterConfig:
    return config(Switchback.AUTOMATIC).apply(list(ops))


@pytest.mark.parametrize(
    ("local", "alive", "held", "ops", "expected"),
    [
        # A failed holder: s2 restores, unless the hierarchy or the cluster is in maintenance.
        ("s2", {"s2", "s3"}, {}, [], [("restore", "s2")]),
        ("s2", {"s2", "s3"}, {}, [SetMaintenance(True)], []),
        ("s2", {"s2", "s3"}, {}, [SetMaintenance(True, "E-app")], []),
        ("s2", {"s2", "s3"}, {}, [SetMaintenance(True, "E-other")], [("restore", "s2")]),
        (
            "s2",
            {"s2", "s3"},
            {},
            [SetMaintenance(True), SetMaintenance(False)],
            [("restore", "s2")],
        ),
        # A standby server is no target: the next by priority restores.
        ("s2", {"s2", "s3"}, {}, [SetStandby("s2", True)], []),
        ("s3", {"s2", "s3"}, {}, [SetStandby("s2", True)], [("restore", "s3")]),
        (
            "s2",
            {"s2", "s3"},
            {},
            [SetStandby("s2", True), SetStandby("s2", False)],
            [("restore", "s2")],
        ),
        # The standby holder gives it up to the next server by priority...
        ("s1", ALL3, APP_ON_S1, [SetStandby("s1", True)], [("standby", "s2")]),
        (
            "s1",
            ALL3,
            APP_ON_S1,
            [SetStandby("s1", True), SetStandby("s2", True)],
            [("standby", "s3")],
        ),
        # ... but not while the hierarchy is in maintenance,
        ("s1", ALL3, APP_ON_S1, [SetStandby("s1", True), SetMaintenance(True, "E-app")], []),
        # ... and never to nobody (the last eligible server keeps it).
        ("s1", {"s1"}, APP_ON_S1, [SetStandby("s1", True)], []),
        # The others do nothing while the standby holder serves it.
        ("s2", ALL3, APP_ON_S1, [SetStandby("s1", True)], []),
    ],
)
def test_maintenance_and_standby(
    local: str,
    alive: set[str],
    held: dict[str, State],
    ops: list[SetMaintenance | SetStandby],
    expected: list[tuple[str, str]],
) -> None:
    v = view(local, alive, held, config=_mode(*ops))
    assert [(str(p.kind), p.target) for p in place(v)] == expected


def test_standby_server_takes_no_switchback() -> None:
    # s1 (best priority) is back but in standby: automatic switchback does not give it back.
    back = frozenset({"s1"})
    v = view("s2", ALL3, {"s2": State.ISP}, rejoined=back, config=_mode(SetStandby("s1", True)))
    assert place(v) == []
    v = view("s2", ALL3, {"s2": State.ISP}, rejoined=back, config=_mode())
    assert [p.kind for p in place(v)] == [PlacementKind.SWITCHBACK]


def test_maintenance_leaves_a_split_alone() -> None:
    both = {"s1": State.ISP, "s2": State.ISP}
    assert place(view("s1", ALL3, both, config=_mode(SetMaintenance(True)))) == []


# -- a server whose daemon is stopping (engine/leave.py) ---------------------------------


def test_a_stopping_server_takes_nothing() -> None:
    # s1 (best priority) is stopping: s2 restores, s1 does not.
    leaving = frozenset({"s1"})
    alive = {"s1", "s2", "s3"}
    assert place(view("s1", alive, {}, leaving=leaving)) == []
    assert place(view("s2", alive, {}, leaving=leaving)) == [
        Placement(PlacementKind.RESTORE, "E-app", "app", "s2")
    ]
    assert place(view("s3", alive, {}, leaving=leaving)) == []


@pytest.mark.parametrize("child", [State.ISP, State.ISU, State.OSF])
def test_nobody_restores_while_a_stopping_server_still_has_part_of_it(child: State) -> None:
    # The root is down on s1 already, its child not yet (or its remove failed: it may
    # still run): s2 waits.
    alive = {"s1", "s2", "s3"}
    v = view("s2", alive, {}, leaving=frozenset({"s1"}))
    states = {**v.states, "s1": {"app": State.OSU, "fs": child}}
    v = ClusterView(**{**v.__dict__, "states": states})
    assert place(v) == []
    # s1 not stopping: the root decides, as before (s1, first in line, restores it).
    v = ClusterView(**{**v.__dict__, "leaving": frozenset(), "local": "s1"})
    assert place(v) == [Placement(PlacementKind.RESTORE, "E-app", "app", "s1")]


def test_a_stopping_server_that_is_gone_no_longer_holds_anything_up() -> None:
    v = view("s2", {"s2", "s3"}, {}, leaving=frozenset({"s1"}))
    assert place(v) == [Placement(PlacementKind.RESTORE, "E-app", "app", "s2")]
