"""The configuration store: versioned transactions that survive a crash."""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
from pathlib import Path

import pytest

from standfast.messages import StandfastError
from standfast.model.config import AddDependency, AddResource, DeleteResource
from standfast.model.resources import Dependency, Resource
from standfast.model.states import State
from standfast.store.database import Store


def res(tag: str) -> Resource:
    return Resource(server="s1", tag=tag, kit="app", id=tag, props={"restore": "/bin/true"})


def test_changes_are_versioned_and_logged(tmp_path: Path) -> None:
    store = Store(tmp_path / "db")
    assert store.version() == 0
    cfg = store.apply([AddResource(res("a")), AddResource(res("b"))], origin="s1")
    assert cfg.version == 1
    cfg = store.apply([AddDependency(Dependency("s1", "a", "b"))], origin="s1")
    assert cfg.version == 2
    reopened = Store(tmp_path / "db")
    again = reopened.config()
    assert again.version == 2
    assert again.get("s1", "a").props["restore"] == "/bin/true"
    assert again.dependencies == {Dependency("s1", "a", "b")}
    log = reopened.changes_since(0)
    assert [c.version for c in log] == [1, 2]
    assert log[1].ops == (AddDependency(Dependency("s1", "a", "b")),)


def test_bad_change_changes_nothing(tmp_path: Path) -> None:
    store = Store(tmp_path / "db")
    store.apply([AddResource(res("a"))], origin="s1")
    with pytest.raises(StandfastError) as exc:
        # the second op is bad: the first must not land either
        store.apply([AddResource(res("b")), AddResource(res("a"))], origin="s1")
    assert exc.value.code == "000014"
    assert store.version() == 1
    assert set(store.config().resources) == {("s1", "a")}


def test_expected_version_conflict(tmp_path: Path) -> None:
    store = Store(tmp_path / "db")
    store.apply([AddResource(res("a"))], origin="s1")
    with pytest.raises(StandfastError) as exc:
        store.apply([DeleteResource("s1", "a")], origin="s1", expected_version=0)
    assert exc.value.code == "190103"
    assert store.version() == 1


def _crash_mid_change(path: str) -> None:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("BEGIN IMMEDIATE")
    db.execute("DELETE FROM resources")
    db.execute("UPDATE meta SET value='99' WHERE key='version'")
    os._exit(1)  # the process dies with the transaction open


def test_crash_mid_change_keeps_previous_configuration(tmp_path: Path) -> None:
    path = tmp_path / "db"
    store = Store(path)
    store.apply([AddResource(res("a"))], origin="s1")
    store.close()
    proc = multiprocessing.get_context("fork").Process(target=_crash_mid_change, args=(str(path),))
    proc.start()
    proc.join(10)
    assert proc.exitcode == 1
    after = Store(path)
    assert after.version() == 1
    assert set(after.config().resources) == {("s1", "a")}


def test_states_are_local_and_dropped_with_the_resource(tmp_path: Path) -> None:
    store = Store(tmp_path / "db")
    store.apply([AddResource(res("a"))], origin="s1")
    store.set_state("s1", "a", State.ISP)
    assert store.states("s1")["a"].state is State.ISP
    v = store.version()
    store.set_state("s1", "a", State.OSU, "operator")
    assert store.version() == v  # states are not configuration
    store.apply([DeleteResource("s1", "a")], origin="s1")
    assert store.states("s1") == {}


def test_unusable_database_is_reported(tmp_path: Path) -> None:
    bad = tmp_path / "db"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StandfastError) as exc:
        Store(bad)
    assert exc.value.code == "190101"
