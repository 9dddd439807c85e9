"""An operator's change is kept only once a majority of the servers hold it (found by
bench/chaos.py, seed 252): a pushed offer of a version the peer already holds with
other contents is refused, ``push`` counts the holders and returns once a majority
holds the change, and a guarded change held by too few is refused (193034) and undone.

Three real cluster members (engine core, store, replication, peer handlers) talk over
an in-process peer channel: each call goes straight to the peer's handlers, and a call
between two servers that are cut apart waits for its timeout and fails, as a real one
does when a partition has not been noticed yet.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from standfast.cluster.definition import ClusterDef, definition_from_dict
from standfast.cluster.keyring import KeyRing, new_key
from standfast.cluster.peer import PeerUnreachable
from standfast.config.paths import Paths
from standfast.config.tunables import Tunables
from standfast.engine import replication
from standfast.engine.core import EngineCore
from standfast.engine.hierarchy import HierarchyOps
from standfast.engine.member import ClusterMember
from standfast.messages import StandfastError
from standfast.model.config import AddResource, ClusterConfig, SetTarget, UpdateResource
from standfast.model.resources import Resource
from standfast.store.database import Store

SERVERS = ("server1", "server2", "server3")
TIMEOUT = 0.3  # PUSH_TIMEOUT in these tests


def copy_on(server: str) -> Resource:
    priority = SERVERS.index(server) + 1
    return Resource(
        server=server, tag="appC", kit="app", id="appC", equiv="appC", priority=priority
    )


BASE = [AddResource(copy_on(s)) for s in SERVERS]


class Net:
    """The peer channel between in-process members."""

    def __init__(self) -> None:
        self.members: dict[str, ClusterMember] = {}
        self.cut: set[frozenset[str]] = set()
        self.gates: dict[str, asyncio.Event] = {}  # peer -> its requests wait for this
        self.calls: list[tuple[str, str, str]] = []  # (from, to, method)

    def apart(self, a: str, b: str) -> bool:
        return frozenset({a, b}) in self.cut


class FakePeers:
    def __init__(self, net: Net, local: str) -> None:
        self.net = net
        self.local = local

    async def call(
        self, peer: str, method: str, params: Mapping[str, Any], *, timeout: float
    ) -> dict[str, Any]:
        net = self.net
        net.calls.append((self.local, peer, method))
        if net.apart(self.local, peer):
            await asyncio.sleep(timeout)
            raise PeerUnreachable(peer, "cut")
        gate = net.gates.get(peer)
        if gate is not None:
            await gate.wait()
        return await net.members[peer].handlers.handle(self.local, method, dict(params))


def cluster_def(quorum: str = "majority") -> ClusterDef:
    servers = {s: {"addresses": {"net1": f"10.0.0.{i}"}} for i, s in enumerate(SERVERS, 1)}
    return definition_from_dict({"name": "lab", "quorum": quorum, "servers": servers})


def make_member(root: Path, net: Net, name: str, definition: ClusterDef) -> ClusterMember:
    d = root / name
    paths = Paths(d, d / "sock", d / "defaults", d / "log", d / "fstab", d / "mountinfo")
    core = EngineCore(name, Store(d / "db"), Tunables(), paths)
    m = ClusterMember(core, HierarchyOps(core), definition, KeyRing(new_key()))
    members: Any = m.members
    members.peers = FakePeers(net, name)
    # Every peer still counted alive and quorum held: the split is not noticed yet.
    members.alive = lambda: frozenset(SERVERS)
    members.quorum = lambda: (True, 3, 2)
    members.peer_report = lambda peer: (
        None if net.apart(name, peer) else net.members[peer]._report(True)
    )
    net.members[name] = m
    return m


@pytest.fixture
def timeout(monkeypatch: pytest.MonkeyPatch) -> float:
    monkeypatch.setattr(replication, "PUSH_TIMEOUT", TIMEOUT)
    return TIMEOUT


async def make_cluster(root: Path, quorum: str = "majority") -> Net:
    net = Net()
    definition = cluster_def(quorum)
    for name in SERVERS:
        make_member(root, net, name, definition)
    await net.members["server1"].core.apply(BASE)  # pushed to both, held by all three
    return net


@pytest.fixture
async def net(tmp_path: Path, timeout: float) -> AsyncIterator[Net]:
    net = await make_cluster(tmp_path)
    yield net
    for m in net.members.values():
        m.core.cancel_tasks()


def config(net: Net, server: str) -> ClusterConfig:
    return net.members[server].core.config


def set_prop(net: Net, server: str, value: float) -> UpdateResource:
    res = config(net, server).get(server, "appC")
    return UpdateResource(replace(res, props={"check_timeout": value}))


async def until(condition: Any, seconds: float = 2.0) -> None:
    async with asyncio.timeout(seconds):
        while not condition():
            await asyncio.sleep(0.01)


# -- the offer: a higher version only ---------------------------------------------------


async def test_a_same_version_offer_is_refused_and_changes_nothing(net: Net) -> None:
    s1, s2 = net.members["server1"], net.members["server2"]
    base = s2.core.config
    net.cut |= {frozenset({"server1", "server2"}), frozenset({"server1", "server3"})}
    await s1.core.apply([set_prop(net, "server1", 30)], guarded=False)  # kept: unguarded
    theirs = s1.core.config
    await s2.core.apply([set_prop(net, "server2", 7)], guarded=False)
    mine = s2.core.config
    assert theirs.version == mine.version == 2 and theirs.digest() != mine.digest()
    offer = {"config": theirs.to_dict()}
    for _ in range(2):  # idempotent
        reply = await s2.handlers.handle("server1", "offer_config", offer)
        assert reply == {
            "adopted": False,
            "conflict": True,
            "version": 2,
            "digest": mine.digest(),
        }
        assert s2.core.config is mine and s2.core.store.config() == mine
    # Its own configuration offered back: held, no conflict.
    reply = await s2.handlers.handle("server3", "offer_config", {"config": mine.to_dict()})
    assert reply["adopted"] is False and reply["conflict"] is False
    assert replication.holds(reply, (mine.version, mine.digest()))
    # An older version is not taken either.
    older = await s2.handlers.handle("server3", "offer_config", {"config": base.to_dict()})
    assert older["adopted"] is False and older["version"] == 2


async def test_through_heartbeats_the_same_version_still_goes_by_digest(
    net: Net, caplog: pytest.LogCaptureFixture
) -> None:
    s1, s2 = net.members["server1"], net.members["server2"]
    net.cut |= {frozenset({"server1", "server2"}), frozenset({"server1", "server3"})}
    await s1.core.apply([set_prop(net, "server1", 30)], guarded=False)
    await s2.core.apply([set_prop(net, "server2", 7)], guarded=False)
    theirs, mine = s1.core.config, s2.core.config
    adopted = s2.replication.adopt(theirs, "server1")  # what adopt_newer's fetch does
    assert adopted == (theirs.digest() > mine.digest())
    assert any(r.getMessage().startswith("193016") for r in caplog.records) == adopted


async def test_a_higher_version_offer_is_adopted(net: Net) -> None:
    s2 = net.members["server2"]
    newer = config(net, "server1").apply([set_prop(net, "server1", 12)])
    reply = await s2.handlers.handle("server1", "offer_config", {"config": newer.to_dict()})
    assert reply == {
        "adopted": True,
        "conflict": False,
        "version": newer.version,
        "digest": newer.digest(),
    }
    assert s2.core.config == newer == s2.core.store.config()


# -- push: counts holders, returns at a majority ------------------------------------------


async def test_push_returns_once_a_majority_holds_it_while_the_last_offer_is_in_flight(
    net: Net,
) -> None:
    s1 = net.members["server1"]
    net.gates["server3"] = asyncio.Event()
    made = await s1.core.apply([set_prop(net, "server1", 9)])  # server2 took it: 2 of 3
    assert s1.core.config is made and made.version == 2
    assert ("server1", "server3", "offer_config") in net.calls
    assert config(net, "server2") == made and config(net, "server3").version == 1
    net.gates["server3"].set()  # the last offer is still delivered, in the background
    await until(lambda: config(net, "server3") == made)


async def test_push_counts_a_peer_that_already_holds_exactly_the_change(net: Net) -> None:
    s1, s2 = net.members["server1"], net.members["server2"]
    net.cut.add(frozenset({"server1", "server3"}))
    newer = config(net, "server1").apply([set_prop(net, "server1", 11)])
    s1.core.replace_config(newer, origin="test")
    s2.core.replace_config(newer, origin="server1")  # fetched it first
    assert await s1.replication.push() == 2


async def test_push_returns_at_once_when_no_majority_can_hold_it(net: Net) -> None:
    s1, s2 = net.members["server1"], net.members["server2"]
    net.cut |= {frozenset({"server1", "server2"}), frozenset({"server1", "server3"})}
    await s2.core.apply([set_prop(net, "server2", 5)], guarded=False)  # server3 takes it
    net.cut.clear()
    # Both peers hold another version 2 and refuse server1's at once.
    s1.core.replace_config(config(net, "server1").apply([set_prop(net, "server1", 6)]), "t")
    async with asyncio.timeout(TIMEOUT / 2):
        assert await s1.replication.push() == 1
    assert config(net, "server3") == config(net, "server2")


# -- the acknowledgement of an operator's change --------------------------------------


async def test_seed_252_a_change_held_by_no_majority_is_refused_and_rolled_back(
    net: Net, caplog: pytest.LogCaptureFixture
) -> None:
    """server1 and server3 cannot reach each other, both reach server2, and neither has
    noticed. server3's switchover stores version 2 and server2 takes it; server1's
    `resource set appC` of version 2 is refused by server2 and times out towards server3:
    193034, and server1 is back at version 1 until it adopts the majority's version."""
    s1, s2, s3 = (net.members[s] for s in SERVERS)
    before = s1.core.config
    net.cut.add(frozenset({"server1", "server3"}))
    switchover = await s3.core.apply([SetTarget("appC", True, "server3")])
    assert s2.core.config == switchover  # held by server3 and server2: a majority
    with pytest.raises(StandfastError) as exc:
        await s1.core.apply([set_prop(net, "server1", 30)])
    assert exc.value.code == "193034"
    assert exc.value.params == {"server": "server1", "holders": 1, "needed": 2}
    assert s1.core.config == before == s1.core.store.config()
    assert s2.core.config == switchover  # refused, not replaced
    assert not any(r.levelno >= logging.WARNING for r in caplog.records)
    # Heartbeats: server1 adopts the majority's version 2 (ordinary, not a conflict).
    s1.replication.adopt_newer()
    await until(lambda: s1.core.config == switchover)
    assert s3.core.config == switchover
    props = s1.core.config.get("server1", "appC").props
    assert "check_timeout" not in props  # nothing was changed
    assert not any(r.getMessage().startswith("193016") for r in caplog.records)
    # The undone version's number is free again: the next change takes version 3.
    net.cut.clear()
    assert (await s1.core.apply([set_prop(net, "server1", 30)])).version == 3


async def test_an_unguarded_change_held_by_no_majority_is_kept(net: Net) -> None:
    s1 = net.members["server1"]
    net.cut |= {frozenset({"server1", "server2"}), frozenset({"server1", "server3"})}
    made = await s1.core.apply([SetTarget("appC", False, "")], guarded=False)
    assert s1.core.config is made and made.version == 2


async def test_a_pending_change_is_not_shown_to_peers_until_a_majority_holds_it(
    net: Net,
) -> None:
    s1 = net.members["server1"]
    before = s1.core.config
    net.gates["server2"] = asyncio.Event()
    net.gates["server3"] = asyncio.Event()
    task = asyncio.create_task(s1.core.apply([set_prop(net, "server1", 4)]))
    await until(lambda: len([c for c in net.calls if c[2] == "offer_config"]) >= 4)
    assert s1.core.config.version == 2
    assert s1._report(True).digest == before.digest()
    reply = await s1.handlers.handle("server2", "get_config", {})
    assert ClusterConfig.from_dict(reply["config"]) == before
    net.gates["server2"].set()
    made = await task
    assert s1._report(True).version == made.version == 2


async def test_a_change_stopped_while_it_waits_is_undone(net: Net) -> None:
    s1 = net.members["server1"]
    before = s1.core.config
    net.gates["server2"] = asyncio.Event()
    net.gates["server3"] = asyncio.Event()
    task = asyncio.create_task(s1.core.apply([set_prop(net, "server1", 4)]))
    await until(lambda: s1.core.config.version == 2)
    task.cancel()  # quorum lost (193026)
    with pytest.raises(asyncio.CancelledError):
        await task
    assert s1.core.config == before == s1.core.store.config()


async def test_without_majority_quorum_the_guard_alone_decides(
    tmp_path: Path, timeout: float
) -> None:
    net = await make_cluster(tmp_path, quorum="none")
    s1 = net.members["server1"]
    assert s1.core.change_ack is None
    net.cut |= {frozenset({"server1", "server2"}), frozenset({"server1", "server3"})}
    made = await s1.core.apply([set_prop(net, "server1", 30)])
    assert s1.core.config is made and made.version == 2
    for m in net.members.values():
        m.core.cancel_tasks()


def test_a_rolled_back_change_leaves_the_log(tmp_path: Path) -> None:
    store = Store(tmp_path / "db")
    before = store.apply(BASE, origin="s1")
    store.apply([SetTarget("appC", False, "")], origin="s1")
    assert store.roll_back(before) == before and store.version() == 1
    assert store.changes_since(1) == []
    again = store.apply([SetTarget("appC", True, "server2")], origin="s1")
    assert again.version == 2 and [c.version for c in store.changes_since(0)] == [1, 2]


def test_a_majority_of_the_configured_servers() -> None:
    assert [replication.majority(n) for n in (1, 2, 3, 4, 5)] == [1, 2, 2, 3, 3]
    assert replication.holds({"adopted": True}, (1, "x"))  # an earlier release's reply
    assert not replication.holds({"adopted": False}, (1, "x"))
