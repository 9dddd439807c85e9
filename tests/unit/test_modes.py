"""Maintenance and standby in the configuration: stored, replicated, digested, and
older configurations (without them) still load with the digest they had."""

from __future__ import annotations

from pathlib import Path

import pytest

from standfast.cli import status_exit
from standfast.engine import views
from standfast.engine.modes import last_server_of
from standfast.engine.snapshot import ClusterSnapshot
from standfast.model.config import (
    AddResource,
    ClusterConfig,
    DeleteResource,
    Modes,
    SetMaintenance,
    SetStandby,
    op_from_dict,
    op_to_dict,
)
from standfast.model.resources import Resource
from standfast.model.states import State
from standfast.store.database import Store


def res(tag: str) -> Resource:
    return Resource(server="s1", tag=tag, kit="app", id=tag, equiv=f"{tag}@s1")


BASE = ClusterConfig().apply([AddResource(res("a")), AddResource(res("b"))])


@pytest.mark.parametrize(
    ("ops", "modes"),
    [
        ([SetMaintenance(True)], Modes(maintenance=True)),
        ([SetMaintenance(True), SetMaintenance(False)], Modes()),
        ([SetMaintenance(True, "a@s1")], Modes(maintenance_hierarchies=frozenset({"a@s1"}))),
        (
            [SetMaintenance(True, "a@s1"), SetMaintenance(True, "a@s1")],
            Modes(maintenance_hierarchies=frozenset({"a@s1"})),
        ),
        ([SetMaintenance(True, "a@s1"), SetMaintenance(False, "a@s1")], Modes()),
        ([SetStandby("s2", True)], Modes(standby=frozenset({"s2"}))),
        ([SetStandby("s2", True), SetStandby("s2", False)], Modes()),
        # A deleted hierarchy leaves maintenance with it.
        ([SetMaintenance(True, "a@s1"), DeleteResource("s1", "a")], Modes()),
    ],
)
def test_operations(ops: list[SetMaintenance | SetStandby | DeleteResource], modes: Modes) -> None:
    cfg = BASE.apply(ops)
    assert cfg.modes == modes
    assert ClusterConfig.from_dict(cfg.to_dict()) == cfg
    assert [op_from_dict(op_to_dict(o)) for o in ops] == ops


def test_digest_unchanged_without_modes_and_changed_with_them() -> None:
    old_form = BASE.to_dict()
    assert "modes" not in old_form  # what an earlier release stored and digested
    assert ClusterConfig.from_dict(old_form) == BASE
    on = BASE.apply([SetMaintenance(True)])
    assert on.digest() != BASE.digest()
    assert on.apply([SetMaintenance(False)]).digest() == BASE.digest()


def test_bad_modes_refused() -> None:
    with pytest.raises(ValueError):
        ClusterConfig.from_dict({**BASE.to_dict(), "modes": {"standby": "s1"}})
    with pytest.raises(ValueError):
        ClusterConfig.from_dict({**BASE.to_dict(), "modes": []})


def test_stored_and_reopened(tmp_path: Path) -> None:
    store = Store(tmp_path / "db")
    store.apply([AddResource(res("a"))], origin="s1")
    assert store.config().modes == Modes()  # a database without the row
    store.apply([SetMaintenance(True, "a@s1"), SetStandby("s2", True)], origin="s1")
    again = Store(tmp_path / "db").config()
    assert again.in_maintenance("a@s1") and not again.in_maintenance("b@s1")
    assert again.standby("s2") and not again.standby("s1")
    assert again.maintained_tags("s1") == {"a"}
    replaced = Store(tmp_path / "db2")
    replaced.replace_config(again, origin="s2")
    assert replaced.config().modes == again.modes


def test_ops_to_a_backups_modes() -> None:
    now = BASE.apply([SetMaintenance(True, "a@s1"), SetStandby("s2", True)])
    backup = BASE.apply(
        [SetMaintenance(True), SetMaintenance(True, "b@s1"), SetStandby("s3", True)]
    )
    assert now.apply(now.modes.ops_to(backup.modes)).modes == backup.modes
    assert backup.apply(backup.modes.ops_to(Modes())).modes == Modes()


# -- what status shows, and the standby refusal's rule ----------------------------------


def two_servers(*ops: SetMaintenance | SetStandby) -> ClusterConfig:
    return ClusterConfig().apply(
        [
            AddResource(Resource(server=s, tag=tag, kit="app", id="app", priority=p, equiv="E-app"))
            for s, tag, p in (("s1", "app", 1), ("s2", "app-b", 10))
        ]
        + list(ops)
    )


def snap(cfg: ClusterConfig, alive: set[str], s1: State = State.ISP) -> ClusterSnapshot:
    return ClusterSnapshot(
        local="s1",
        config=cfg,
        alive=frozenset(alive),
        states={"s1": {"app": s1}, "s2": {"app-b": State.OSU}},
        servers=("s1", "s2"),
        clustered=True,
    )


def test_status_shows_maintenance_and_standby_without_changing_the_exit() -> None:
    plain = views.status(snap(two_servers(), {"s1", "s2"}))
    assert plain["maintenance"] == {"cluster": False, "hierarchies": []}
    assert status_exit.notes(plain) == []
    cfg = two_servers(SetMaintenance(True, "E-app"), SetStandby("s2", True))
    st = views.status(snap(cfg, {"s1", "s2"}))
    assert st["maintenance"] == {"cluster": False, "hierarchies": ["app"]}  # this server's tag
    assert st["hierarchies"][0]["maintenance"] is True  # type: ignore[index]
    cluster = st["cluster"]
    assert cluster["servers"]["s2"]["standby"] and not cluster["servers"]["s1"]["standby"]  # type: ignore[index]
    assert cluster["hierarchies"][0]["maintenance"] is True  # type: ignore[index]
    assert status_exit.problems(st)[0] == status_exit.OK
    assert status_exit.notes(st) == [
        "MAINTENANCE mode on for hierarchy app: no checks, no failover",
        "server s2 in STANDBY: it takes no hierarchy",
    ]
    whole = views.status(snap(two_servers(SetMaintenance(True)), {"s1", "s2"}))
    assert status_exit.notes(whole)[0].startswith("MAINTENANCE mode on for the whole cluster")
    gui = views.gui_view(snap(two_servers(SetMaintenance(True)), {"s1", "s2"}))
    assert gui["maintenance"] is True
    assert all(r["maintenance"] for r in gui["resources"])  # type: ignore[union-attr,index]


@pytest.mark.parametrize(
    ("ops", "alive", "s1_state", "stuck"),
    [
        ([], {"s1", "s2"}, State.ISP, ""),  # s2 can take it
        ([], {"s1"}, State.ISP, "app"),  # s2 is down
        ([SetStandby("s2", True)], {"s1", "s2"}, State.ISP, "app"),  # s2 in standby too
        ([], {"s1"}, State.OSU, ""),  # s1 serves nothing: nothing would be left
    ],
)
def test_last_server_of(
    ops: list[SetStandby], alive: set[str], s1_state: State, stuck: str
) -> None:
    assert last_server_of(snap(two_servers(*ops), alive, s1_state), "s1") == stuck


def test_status_shows_a_server_whose_daemon_is_stopping() -> None:
    base = snap(two_servers(), {"s1", "s2"})
    st = views.status(ClusterSnapshot(**{**base.__dict__, "leaving": frozenset({"s2"})}))
    servers = st["cluster"]["servers"]  # type: ignore[index]
    assert servers["s2"]["stopping"] is True and servers["s1"]["stopping"] is False
