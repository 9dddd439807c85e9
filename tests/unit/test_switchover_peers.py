"""An operator's in service across servers (engine/switchover.py): what it asks of the
peers, in which order, and what it leaves behind when a peer does not answer.

The peers are fakes (an ``ask`` that records calls); the configuration is real.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest

from standfast.engine.switchover import Switchover
from standfast.kits.base import ActionLog
from standfast.messages import StandfastError
from standfast.model.config import (
    AddResource,
    ClusterConfig,
    Operation,
    SetTarget,
    Target,
)
from standfast.model.resources import Resource
from standfast.model.states import State


def config() -> ClusterConfig:
    ops: list[Operation] = [
        AddResource(Resource(server=s, tag="appB", kit="app", id="b", priority=p, equiv="E-b"))
        for s, p in (("server2", 1), ("server1", 10), ("server3", 20))
    ]
    return ClusterConfig().apply(ops).apply([SetTarget("E-b", True, "server2")])


class FakeCore:
    """The part of EngineCore a switchover uses: a real configuration, local states."""

    def __init__(self, server: str) -> None:
        self.server = server
        self.config = config()
        self.states: dict[str, State] = {"appB": State.OSU}
        self.applied: list[list[Operation]] = []
        self.events: list[tuple[str, str, str]] = []

    def resource(self, tag: str) -> Resource:
        return self.config.get(self.server, tag)

    def graph(self) -> Any:
        return self.config.graph(self.server)

    async def apply(self, ops: Sequence[Operation], *, guarded: bool = True) -> ClusterConfig:
        self.applied.append(list(ops))
        self.config = self.config.apply(ops)
        return self.config

    def set_state(self, tag: str, state: State, reason: str = "") -> None:
        self.states[tag] = state

    def event(self, kind: str, tag: str, detail: str) -> None:
        self.events.append((kind, tag, detail))


class FakeMembers:
    def __init__(self, alive: set[str]) -> None:
        self._alive = frozenset(alive)

    def alive(self) -> frozenset[str]:
        return self._alive


class Peers:
    """Fake peers: their states, and which of them fail to answer."""

    def __init__(self, states: dict[str, str], down: set[str] = frozenset()) -> None:  # type: ignore[assignment]
        self.states = states
        self.down = set(down)
        self.calls: list[tuple[str, str]] = []

    async def ask(self, peer: str, method: str, params: dict[str, Any]) -> dict[str, Any]:
        self.calls.append((peer, method))
        await asyncio.sleep(0)
        if peer in self.down:
            raise StandfastError("193010", server=peer, operation=method)
        if method == "states":
            return {"states": {"appB": self.states.get(peer, "OSU")}}
        assert method == "release"
        self.states[peer] = "OSU"
        return {"released": ["appB"]}


def switchover(core: FakeCore, peers: Peers, alive: set[str]) -> Switchover:
    return Switchover(core, FakeMembers(alive), peers.ask, lambda: None)  # type: ignore[arg-type]


def test_seed_248_an_unreachable_peer_refuses_the_in_service_before_the_target_moves() -> None:
    # Seed 248: server2 was stopping (still counted alive) and did not answer; the
    # refused in service kept its target, and server3's placement restored appB beside
    # server1, which had just taken it over.
    core = FakeCore("server3")
    peers = Peers({"server1": "ISP"}, down={"server2"})
    sw = switchover(core, peers, {"server1", "server2", "server3"})
    with pytest.raises(StandfastError) as err:
        asyncio.run(sw.before_in_service("appB", ActionLog()))
    assert err.value.code == "193010"
    assert core.applied == []
    assert core.config.target("E-b") == Target(True, "server2")
    assert ("server1", "release") not in peers.calls


def test_every_live_copy_is_asked_to_release_not_only_the_one_in_service() -> None:
    # server2 is bringing appB up (a failover under way: its state still says OSU);
    # its release waits for that restore and takes it down again.
    core = FakeCore("server3")
    peers = Peers({"server1": "ISP", "server2": "OSU"})
    sw = switchover(core, peers, {"server1", "server2", "server3"})
    alog = ActionLog()
    asyncio.run(sw.before_in_service("appB", alog))
    assert core.config.target("E-b") == Target(True, "server3")
    assert {c for c in peers.calls if c[1] == "release"} == {
        ("server1", "release"),
        ("server2", "release"),
    }
    # The target is recorded before any release: a released holder must not take it back.
    first_release = next(i for i, c in enumerate(peers.calls) if c[1] == "release")
    assert len(core.applied) == 1 and first_release >= 2
    assert [n.code for n in alog.notices] == ["193018"]
    assert core.events == [("switchover", "appB", "server1 -> server3")]


def test_a_failed_release_puts_the_previous_target_back() -> None:
    core = FakeCore("server3")
    peers = Peers({"server1": "ISP"})
    sw = switchover(core, peers, {"server1", "server2", "server3"})
    real_ask = peers.ask

    async def ask(peer: str, method: str, params: dict[str, Any]) -> dict[str, Any]:
        if method == "release" and peer == "server1":
            raise StandfastError("193020", server=peer, tag="appB", reason="timed out")
        return await real_ask(peer, method, params)

    sw.ask = ask
    with pytest.raises(StandfastError) as err:
        asyncio.run(sw.before_in_service("appB", ActionLog()))
    assert err.value.code == "193020"
    assert core.config.target("E-b") == Target(True, "server2")
    assert len(core.applied) == 2


def test_a_down_peer_is_not_asked() -> None:
    core = FakeCore("server3")
    peers = Peers({"server1": "ISP"})
    sw = switchover(core, peers, {"server1", "server3"})
    asyncio.run(sw.before_in_service("appB", ActionLog()))
    assert all(peer != "server2" for peer, _ in peers.calls)
    assert core.config.target("E-b") == Target(True, "server3")
