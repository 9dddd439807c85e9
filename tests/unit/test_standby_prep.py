"""Standby copies made ready for a takeover: the NFS client's decisions (pure), the
steps on this host (modprobe, a pid file), and the preparer's schedule (a fake core
and kit: the scheduling logic alone)."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, ClassVar

import pytest

from standfast.engine import standby
from standfast.engine.standby import StandbyPreparer
from standfast.host import nfs_client
from standfast.kits import registry
from standfast.kits.app import AppKit
from standfast.kits.base import ActionLog, KitContext
from standfast.messages import StandfastError
from standfast.model.config import AddResource, ClusterConfig, UpdateResource
from standfast.model.resources import Resource

# ------------------------------------------------------------------ the NFS client


@pytest.mark.parametrize(
    ("fstype", "options", "version", "modules", "statd"),
    [
        ("nfs", ["rw", "vers=3", "hard", "intr"], "3", ["nfs", "nfsv3"], True),
        ("nfs", ["nfsvers=3", "nolock"], "3", ["nfs", "nfsv3"], False),
        ("nfs", ["vers=3", "local_lock=all"], "3", ["nfs", "nfsv3"], False),
        ("nfs", ["vers=3", "local_lock=posix"], "3", ["nfs", "nfsv3"], False),
        ("nfs", ["vers=3", "local_lock=flock"], "3", ["nfs", "nfsv3"], True),
        ("nfs", ["vers=3", "local_lock=none"], "3", ["nfs", "nfsv3"], True),
        ("nfs", ["vers=4.2", "hard"], "4", ["nfs", "nfsv4"], False),
        ("nfs4", ["hard"], "4", ["nfs", "nfsv4"], False),
        ("nfs", ["vers=2"], "2", ["nfs", "nfsv2"], True),
        ("nfs", ["hard"], "", ["nfs"], False),
    ],
)
def test_what_a_mount_needs(
    fstype: str, options: list[str], version: str, modules: list[str], statd: bool
) -> None:
    assert nfs_client.nfs_version(fstype, options) == version
    assert nfs_client.client_modules(fstype, options) == modules
    assert nfs_client.needs_statd(fstype, options) is statd


def test_a_loaded_module_forks_nothing_and_a_missing_one_is_a_reason(tmp_path: Path) -> None:
    (tmp_path / "nfs").mkdir()
    assert nfs_client.load_module("nfs", sys_module=tmp_path) == nfs_client.PrepStep("module nfs")
    # The real modprobe of this host, for a module no kernel has.
    step = nfs_client.load_module("standfast_no_such_module", sys_module=tmp_path)
    assert step.done == "" and "standfast_no_such_module" in step.error, step


def test_statd_is_seen_running_through_its_pid_file(tmp_path: Path) -> None:
    pidfile = tmp_path / "rpc.statd.pid"
    assert not nfs_client.statd_running(pidfile)  # absent
    pidfile.write_text(f"{os.getpid()}\n")
    assert nfs_client.statd_running(pidfile)
    assert nfs_client.start_statd(pidfile=pidfile) == nfs_client.PrepStep("rpc.statd")
    pidfile.write_text("1\n")
    assert not nfs_client.statd_running(pidfile)  # init is never statd
    pidfile.write_text("garbage")
    assert not nfs_client.statd_running(pidfile)


def test_the_mount_point_is_made_once(tmp_path: Path) -> None:
    mp = tmp_path / "mnt" / "data"
    assert nfs_client.make_mount_point(str(mp)).done == f"made mount point {mp}"
    assert mp.is_dir()
    assert nfs_client.make_mount_point(str(mp)) == nfs_client.PrepStep(f"mount point {mp}")
    blocked = tmp_path / "file"
    blocked.write_text("x")
    assert "Not a directory" in nfs_client.make_mount_point(str(blocked / "mp")).error


def test_preparation_stops_at_the_first_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the client modules no statd is started (this host has no NFS client)."""
    started: list[str] = []
    monkeypatch.setattr(
        nfs_client, "load_module", lambda name: nfs_client.PrepStep(name, error="no module")
    )
    monkeypatch.setattr(nfs_client, "start_statd", lambda: started.append("statd"))
    steps = nfs_client.prepare_client("/mnt/x", "nfs", ["vers=3"])
    assert [s.error for s in steps] == ["no module"] and started == []


# ------------------------------------------------------------------ the preparer


class CountingKit(AppKit):
    """Records every prepare; fails while ``fail`` is set."""

    name: ClassVar[str] = "prep-test"
    calls: ClassVar[list[str]] = []
    fail: ClassVar[str] = ""

    def prepare(self, ctx: KitContext, resource: Resource) -> list[str]:
        CountingKit.calls.append(resource.tag)
        if CountingKit.fail:
            raise StandfastError("190422", tag=resource.tag, server=ctx.server, reason=self.fail)
        return [f"readied {resource.id}"]


class FakeCore:
    """What the preparer uses of EngineCore: config, server, kit_call, spawn."""

    def __init__(self, config: ClusterConfig) -> None:
        self.server = "s1"
        self.config = config
        self.tasks: list[Coroutine[object, object, None]] = []

    async def kit_call(
        self, action: str, res: Resource, alog: ActionLog, deadline: float | None = None
    ) -> Any:
        assert action == "prepare" and deadline == standby.PREPARE_DEADLINE
        ctx = KitContext(self.server, None, None, alog)  # type: ignore[arg-type]
        return registry.get_kit(res.kit).prepare(ctx, res)

    def spawn(self, coro: Coroutine[object, object, None]) -> None:
        self.tasks.append(coro)

    def run_spawned(self) -> None:
        tasks, self.tasks = self.tasks, []
        for coro in tasks:
            asyncio.run(coro)


def res(tag: str, kit: str = "prep-test", **props: str) -> Resource:
    return Resource(server="s1", tag=tag, kit=kit, id=f"/{tag}", props=props)


@pytest.fixture
def kit(monkeypatch: pytest.MonkeyPatch) -> type[CountingKit]:
    monkeypatch.setitem(registry.KITS, CountingKit.name, CountingKit())
    monkeypatch.setattr(CountingKit, "calls", [])
    monkeypatch.setattr(CountingKit, "fail", "")
    return CountingKit


def test_each_copy_is_prepared_once_per_version(
    kit: type[CountingKit], caplog: pytest.LogCaptureFixture
) -> None:
    config = ClusterConfig().apply(
        [
            AddResource(res("a")),
            AddResource(res("plain", kit="app")),  # a kit with nothing to prepare
            AddResource(Resource(server="s2", tag="b", kit="prep-test", id="/b")),  # not ours
        ]
    )
    core = FakeCore(config)
    prep = StandbyPreparer(core)  # type: ignore[arg-type]
    caplog.set_level(logging.INFO, logger="standfast.engine")
    prep.cycle()
    prep.cycle()  # already running: not twice
    core.run_spawned()
    assert kit.calls == ["a"]
    assert "190423" in caplog.text and "readied /a" in caplog.text
    for _ in range(3):
        prep.cycle()
        core.run_spawned()
    assert kit.calls == ["a"], "a prepared copy is not prepared again"

    core.config = config.apply([AddResource(res("c"))])  # a new copy
    prep.cycle()
    core.run_spawned()
    assert kit.calls == ["a", "c"]

    changed = res("c", opt="x")  # a changed copy is prepared again
    core.config = core.config.apply([UpdateResource(changed)])
    prep.cycle()
    core.run_spawned()
    assert kit.calls == ["a", "c", "c"]


def test_a_failure_is_said_once_and_tried_again_later(
    kit: type[CountingKit], caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [1000.0]
    monkeypatch.setattr(standby.time, "monotonic", lambda: now[0])
    kit.fail = "modprobe nfs: exit 1"
    core = FakeCore(ClusterConfig().apply([AddResource(res("a"))]))
    prep = StandbyPreparer(core)  # type: ignore[arg-type]
    caplog.set_level(logging.INFO, logger="standfast.engine")
    prep.cycle()
    core.run_spawned()
    assert kit.calls == ["a"]
    assert caplog.text.count("190422") == 1 and "modprobe nfs: exit 1" in caplog.text
    now[0] += standby.RETRY_AFTER - 1
    prep.cycle()
    core.run_spawned()
    assert kit.calls == ["a"], "not before the retry is due"
    now[0] += 2
    prep.cycle()
    core.run_spawned()
    assert kit.calls == ["a", "a"]
    assert caplog.text.count("190422") == 1, "the same reason is not logged again"
    kit.fail = ""
    now[0] += standby.RETRY_AFTER + 1
    prep.cycle()
    core.run_spawned()
    assert kit.calls == ["a", "a", "a"] and "190423" in caplog.text
    now[0] += standby.RETRY_AFTER + 1
    prep.cycle()
    core.run_spawned()
    assert kit.calls == ["a", "a", "a"], "prepared: no more retries"


def test_copies_are_prepared_one_at_a_time_by_one_task(kit: type[CountingKit]) -> None:
    core = FakeCore(ClusterConfig().apply([AddResource(res("a")), AddResource(res("b"))]))
    prep = StandbyPreparer(core)  # type: ignore[arg-type]
    prep.cycle()
    assert len(core.tasks) == 1, "one draining task, not one per copy"
    core.run_spawned()
    assert sorted(kit.calls) == ["a", "b"]
