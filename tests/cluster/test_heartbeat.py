"""Heartbeats over real UDP sockets: loopback, a man-in-the-middle relay, and veths."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from standfast.cluster.auth import Sealer, generate_key
from standfast.cluster.comm_paths import CommPath, PathEvent, PathState
from standfast.cluster.heartbeat import (
    DROP_FORGED,
    DROP_REPLAYED,
    DROP_UNKNOWN_PATH,
    DROP_WRONG_CLUSTER,
    HeartbeatService,
)

KEY = secrets.token_bytes(32)
INTERVAL = 0.3
MISS = 5
BOUND = INTERVAL * MISS + INTERVAL  # a silent peer must be DEAD within this
NETS = {"net1": "127.0.0.2", "net2": "127.0.0.3"}
RUNNER = Path(__file__).with_name("hb_runner.py")


def free_port(address: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((address, 0))
        port: int = sock.getsockname()[1]
        return port


async def wait_until(cond: Callable[[], bool], timeout: float, what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not cond():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.01)


@dataclass
class Node:
    name: str
    ports: dict[str, int]
    events: list[PathEvent] = field(default_factory=list)
    service: HeartbeatService | None = None

    @property
    def svc(self) -> HeartbeatService:
        assert self.service is not None
        return self.service


def loopback_paths(me: Node, others: list[Node]) -> list[CommPath]:
    return [
        CommPath(
            local_server=me.name,
            peer_server=peer.name,
            local_address=address,
            peer_address=address,
            port=me.ports[net],
            network_name=net,
            peer_port=peer.ports[net],
        )
        for peer in others
        for net, address in NETS.items()
    ]


async def start_node(node: Node, others: list[Node]) -> HeartbeatService:
    node.events = []
    node.service = HeartbeatService(
        node.name, KEY, loopback_paths(node, others), INTERVAL, MISS, node.events.append
    )
    await node.service.start()
    return node.service


@pytest.fixture
async def trio() -> AsyncIterator[list[Node]]:
    nodes = [
        Node(name, {net: free_port(addr) for net, addr in NETS.items()})
        for name in ("alpha", "beta", "gamma")
    ]
    try:
        for node in nodes:
            await start_node(node, [n for n in nodes if n is not node])
        yield nodes
    finally:
        for node in nodes:
            if node.service is not None:
                await node.service.stop()


def gamma_failed_on(node: Node) -> bool:
    return not node.svc.peer_alive("gamma")


def all_alive(svc: HeartbeatService, peer: str) -> bool:
    return all(s is PathState.ALIVE for s in svc.path_states()[peer].values())


async def test_three_servers_see_each_other_and_detect_a_stop(trio: list[Node]) -> None:
    alpha, beta, gamma = trio
    loop = asyncio.get_running_loop()
    await wait_until(
        lambda: all(all_alive(n.svc, p) for n in trio for p in n.svc.peers()),
        timeout=2.0,
        what="every path ALIVE",
    )
    assert all(n.svc.peer_alive(p) for n in trio for p in n.svc.peers())
    assert alpha.svc.path_states() == {
        "beta": {"net1": PathState.ALIVE, "net2": PathState.ALIVE},
        "gamma": {"net1": PathState.ALIVE, "net2": PathState.ALIVE},
    }
    gamma.svc.set_payload({"config_version": 7})
    await wait_until(
        lambda: alpha.svc.peer_payload("gamma") == {"config_version": 7}, 2.0, "payload"
    )
    first_boot = alpha.svc.peer_incarnation("gamma")
    assert first_boot == gamma.svc.incarnation

    # gamma stops: it must be failed on alpha and beta within the bound.
    stopped_at = loop.time()
    await gamma.svc.stop()
    for node in (alpha, beta):
        await wait_until(partial(gamma_failed_on, node), BOUND + 1.0, "gamma DEAD")
        failed = [e for e in node.events if e.peer == "gamma" and e.peer_failed]
        assert len(failed) == 1
        detection = failed[0].at - stopped_at
        assert detection <= BOUND, f"{node.name} took {detection:.3f} s to fail gamma"
        assert detection >= INTERVAL * MISS - INTERVAL  # not before the timeout either
        assert node.svc.path_states()["gamma"] == {
            "net1": PathState.DEAD,
            "net2": PathState.DEAD,
        }
    # alpha and beta still see each other.
    assert alpha.svc.peer_alive("beta") and beta.svc.peer_alive("alpha")
    assert all_alive(alpha.svc, "beta") and all_alive(beta.svc, "alpha")

    # gamma restarts (same ports, new boot id): ALIVE again everywhere.
    marks = {n.name: len(n.events) for n in (alpha, beta)}
    restarted = await start_node(gamma, [alpha, beta])
    assert restarted.boot_id != first_boot
    for node in (alpha, beta):
        await wait_until(partial(all_alive, node.svc, "gamma"), 2.0, "gamma ALIVE again")
        joined = [e for e in node.events[marks[node.name] :] if e.peer_joined]
        assert len(joined) == 1 and joined[0].peer == "gamma"
        assert node.svc.peer_incarnation("gamma") == restarted.incarnation
        assert node.svc.counters().get(DROP_REPLAYED, 0) == 0
    await wait_until(lambda: all_alive(gamma.svc, "alpha"), 2.0, "gamma sees alpha")


# ---------------------------------------------------------------- relay (MITM)


class Relay:
    """Sits between alpha and beta on one network: forwards, drops, captures, injects."""

    ADDRESS = "127.0.0.5"

    def __init__(self) -> None:
        self.to_alpha_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.to_beta_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for sock in (self.to_alpha_sock, self.to_beta_sock):
            sock.bind((self.ADDRESS, 0))
            sock.setblocking(False)
        self.alpha_target: tuple[str, int] = ("127.0.0.1", 0)
        self.beta_target: tuple[str, int] = ("127.0.0.1", 0)
        self.drop = False
        self.captured: list[bytes] = []

    @property
    def port_for_beta(self) -> int:  # beta sends here, thinking it is alpha
        port: int = self.to_alpha_sock.getsockname()[1]
        return port

    @property
    def port_for_alpha(self) -> int:
        port: int = self.to_beta_sock.getsockname()[1]
        return port

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        loop.add_reader(self.to_alpha_sock.fileno(), self._pump, self.to_alpha_sock, True)
        loop.add_reader(self.to_beta_sock.fileno(), self._pump, self.to_beta_sock, False)

    def _pump(self, sock: socket.socket, toward_alpha: bool) -> None:
        with contextlib.suppress(BlockingIOError):
            data = sock.recv(65535)
            if toward_alpha:
                self.captured.append(data)
            if not self.drop:
                sock.sendto(data, self.alpha_target if toward_alpha else self.beta_target)

    def inject_to_alpha(self, data: bytes) -> None:
        self.to_alpha_sock.sendto(data, self.alpha_target)

    def close(self, loop: asyncio.AbstractEventLoop) -> None:
        for sock in (self.to_alpha_sock, self.to_beta_sock):
            loop.remove_reader(sock.fileno())
            sock.close()


@pytest.fixture
async def relayed() -> AsyncIterator[tuple[Node, Node, Relay]]:
    loop = asyncio.get_running_loop()
    relay = Relay()
    alpha = Node("alpha", {"net1": free_port("127.0.0.2")})
    beta = Node("beta", {"net1": free_port("127.0.0.3")})
    relay.alpha_target = ("127.0.0.2", alpha.ports["net1"])
    relay.beta_target = ("127.0.0.3", beta.ports["net1"])
    relay.start(loop)
    alpha_path = CommPath(
        "alpha", "beta", "127.0.0.2", Relay.ADDRESS, alpha.ports["net1"], "net1",
        peer_port=relay.port_for_alpha,
    )  # fmt: skip
    beta_path = CommPath(
        "beta", "alpha", "127.0.0.3", Relay.ADDRESS, beta.ports["net1"], "net1",
        peer_port=relay.port_for_beta,
    )  # fmt: skip
    alpha.service = HeartbeatService("alpha", KEY, [alpha_path], 0.1, 5, alpha.events.append)
    beta.service = HeartbeatService("beta", KEY, [beta_path], 0.1, 5, beta.events.append)
    try:
        await alpha.service.start()
        await beta.service.start()
        await wait_until(
            lambda: alpha.svc.peer_alive("beta") and beta.svc.peer_alive("alpha"), 2.0, "alive"
        )
        yield alpha, beta, relay
    finally:
        await alpha.svc.stop()
        await beta.svc.stop()
        relay.close(loop)


async def test_forged_and_replayed_datagrams_are_dropped(
    relayed: tuple[Node, Node, Relay], caplog: pytest.LogCaptureFixture
) -> None:
    alpha, _beta, relay = relayed
    caplog.set_level("WARNING", logger="standfast.cluster")
    await asyncio.sleep(0.3)
    relay.drop = True  # from now on only what the test sends reaches alpha
    captured = list(relay.captured)
    assert len(captured) >= 3
    before = alpha.svc.counters()
    events_before = len(alpha.events)

    # Forged: right shape, wrong key, from the expected source address.
    forger = Sealer(secrets.token_bytes(32), "standfast", "beta")
    body: dict[str, Any] = {"net": "net1", "inc": 1, "view": {}, "payload": {"evil": True}}
    relay.inject_to_alpha(forger.seal("alpha", "heartbeat", body))
    # Right key, wrong cluster.
    other = Sealer(KEY, "other-cluster", "beta")
    relay.inject_to_alpha(other.seal("alpha", "heartbeat", body))
    # Right key, a sender with no comm path here.
    stranger = Sealer(KEY, "standfast", "mallory")
    relay.inject_to_alpha(stranger.seal("alpha", "heartbeat", body))
    # Replays of genuine captured datagrams (already accepted by alpha).
    for data in captured:
        relay.inject_to_alpha(data)
    # Garbage.
    relay.inject_to_alpha(b"\x00" * 10)

    n_replays = len(captured)
    await wait_until(
        lambda: (
            alpha.svc.counters().get(DROP_REPLAYED, 0) - before.get(DROP_REPLAYED, 0) >= n_replays
        ),
        2.0,
        "replays counted",
    )
    after = alpha.svc.counters()

    def delta(key: str) -> int:
        return after.get(key, 0) - before.get(key, 0)

    assert delta(DROP_FORGED) == 1
    assert delta(DROP_WRONG_CLUSTER) == 1
    assert delta(DROP_UNKNOWN_PATH) == 1
    assert delta(DROP_REPLAYED) == n_replays
    assert delta("malformed") == 1
    assert delta("accepted") == 0
    assert alpha.svc.peer_payload("beta") == {}
    assert alpha.svc.peer_incarnation("beta") == _beta.svc.incarnation
    assert any(r.getMessage().startswith("191003: ") for r in caplog.records)
    assert any(r.getMessage().startswith("191004: ") for r in caplog.records)
    # Nothing the attacker sent kept the path alive: with the relay dropping, it dies on time.
    await wait_until(lambda: not alpha.svc.peer_alive("beta"), 1.0, "beta DEAD")
    assert [e.new_state for e in alpha.events[events_before:]] == [PathState.DEAD]
    # A replay cannot revive the dead path either.
    for data in captured[-3:]:
        relay.inject_to_alpha(data)
    await asyncio.sleep(0.2)
    assert not alpha.svc.peer_alive("beta")
    # Genuine traffic does.
    relay.drop = False
    await wait_until(lambda: alpha.svc.peer_alive("beta"), 1.0, "beta ALIVE")


async def test_relay_cut_and_heal(relayed: tuple[Node, Node, Relay]) -> None:
    alpha, beta, relay = relayed
    loop = asyncio.get_running_loop()
    relay.drop = True
    cut_at = loop.time()
    await wait_until(
        lambda: not alpha.svc.peer_alive("beta") and not beta.svc.peer_alive("alpha"),
        2.0,
        "both sides see the cut",
    )
    for node in (alpha, beta):
        failed = [e for e in node.events if e.peer_failed]
        assert len(failed) == 1 and failed[0].at - cut_at <= 0.1 * 5 + 0.1
    relay.drop = False
    await wait_until(
        lambda: alpha.svc.peer_alive("beta") and beta.svc.peer_alive("alpha"), 1.0, "healed"
    )
    assert not any(e.restarted for e in alpha.events + beta.events)


async def test_bind_conflict_raises_and_releases(trio: list[Node]) -> None:
    alpha = trio[0]
    clash = HeartbeatService("alpha", KEY, loopback_paths(alpha, trio[1:]), INTERVAL, MISS, None)
    with pytest.raises(OSError):
        await clash.start()
    assert not clash.running


def test_invalid_configuration_refused() -> None:
    with pytest.raises(ValueError):
        CommPath("a", "b", "not-an-ip", "127.0.0.1", 7000, "net1")
    with pytest.raises(ValueError):
        CommPath("a", "a", "127.0.0.1", "127.0.0.1", 7000, "net1")
    with pytest.raises(ValueError):
        CommPath("a", "b", "127.0.0.1", "::1", 7000, "net1")
    with pytest.raises(ValueError):
        CommPath("a", "b", "127.0.0.1", "127.0.0.1", 70000, "net1")
    path = CommPath("a", "b", "127.0.0.1", "127.0.0.1", 7000, "net1")
    with pytest.raises(ValueError):
        HeartbeatService("a", KEY, [path, path])
    with pytest.raises(ValueError):
        HeartbeatService("c", KEY, [path])
    with pytest.raises(ValueError):
        HeartbeatService("a", KEY, [path]).set_payload({"x": object()})  # type: ignore[dict-item]


# ---------------------------------------------------------------- namespaces + veths


def run_ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, timeout=10, capture_output=True)


@dataclass
class Lab:
    tag: str
    ns_a: str
    ns_b: str
    key_file: Path


@pytest.fixture
def veth_lab(tmp_path: Path) -> Iterator[Lab]:
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("needs root and iproute2")
    tag = secrets.token_hex(3)
    lab = Lab(tag, f"sft-hb-{tag}-a", f"sft-hb-{tag}-b", tmp_path / "cluster.key")
    generate_key(lab.key_file)
    try:
        for ns in (lab.ns_a, lab.ns_b):
            run_ip("netns", "add", ns)
            run_ip("-n", ns, "link", "set", "lo", "up")
        for i in (1, 2):
            a, b = f"sft{tag}a{i}", f"sft{tag}b{i}"
            run_ip("link", "add", a, "netns", lab.ns_a, "type", "veth", "peer", "name", b,
                   "netns", lab.ns_b)  # fmt: skip
            run_ip("-n", lab.ns_a, "addr", "add", f"10.250.{i}.1/24", "dev", a)
            run_ip("-n", lab.ns_b, "addr", "add", f"10.250.{i}.2/24", "dev", b)
            run_ip("-n", lab.ns_a, "link", "set", a, "up")
            run_ip("-n", lab.ns_b, "link", "set", b, "up")
        yield lab
    finally:
        for ns in (lab.ns_a, lab.ns_b):  # deleting a namespace deletes its veth ends
            subprocess.run(["ip", "netns", "del", ns], timeout=10, capture_output=True)


class Runner:
    """One hb_runner.py child inside a namespace; reads its JSON lines."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.lines: list[dict[str, Any]] = []

    @classmethod
    async def start(cls, ns: str | None, config: dict[str, Any]) -> Runner:
        prefix = [] if ns is None else ["ip", "netns", "exec", ns]
        proc = await asyncio.create_subprocess_exec(
            *prefix, sys.executable, str(RUNNER), json.dumps(config),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        return cls(proc)

    async def next_line(self, timeout: float) -> dict[str, Any]:
        assert self.proc.stdout is not None
        raw = await asyncio.wait_for(self.proc.stdout.readline(), timeout)
        if not raw:
            raise AssertionError("runner exited")
        doc: dict[str, Any] = json.loads(raw)
        self.lines.append(doc)
        return doc

    async def wait_for(
        self, pred: Callable[[dict[str, Any]], bool], timeout: float
    ) -> tuple[dict[str, Any], float]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(f"runner line not seen in {timeout} s: {self.lines[-3:]}")
            doc = await self.next_line(remaining)
            if pred(doc):
                return doc, loop.time()

    async def stop(self) -> None:
        if self.proc.returncode is None:
            self.proc.terminate()  # our own child, by PID
            try:
                await asyncio.wait_for(self.proc.wait(), 5.0)
            except TimeoutError:
                self.proc.kill()
                await asyncio.wait_for(self.proc.wait(), 5.0)


def runner_config(lab: Lab, me: str, peer: str, mine: str, theirs: str) -> dict[str, Any]:
    return {
        "name": me,
        "key_file": str(lab.key_file),
        "interval": INTERVAL,
        "miss_count": MISS,
        "lifetime": 60.0,
        "paths": [
            {
                "local_server": me,
                "peer_server": peer,
                "local_address": f"10.250.{i}.{mine}",
                "peer_address": f"10.250.{i}.{theirs}",
                "port": 7405,
                "network_name": f"net{i}",
            }
            for i in (1, 2)
        ],
    }


@pytest.mark.root
async def test_veth_path_cut_in_namespaces(veth_lab: Lab) -> None:
    lab = veth_lab
    runners: list[Runner] = []
    try:
        alpha = await Runner.start(lab.ns_a, runner_config(lab, "alpha", "beta", "1", "2"))
        runners.append(alpha)
        beta = await Runner.start(lab.ns_b, runner_config(lab, "beta", "alpha", "2", "1"))
        runners.append(beta)
        await alpha.wait_for(lambda d: d["type"] == "ready", 10.0)

        def both_alive(d: dict[str, Any]) -> bool:
            return bool(d["type"] == "event") and d["states"]["beta"] == {
                "net1": "ALIVE",
                "net2": "ALIVE",
            }

        await alpha.wait_for(both_alive, 5.0)

        # Cut net1 at the OS level: that path dies, beta stays alive.
        loop = asyncio.get_running_loop()
        cut_at = loop.time()
        run_ip("-n", lab.ns_a, "link", "set", f"sft{lab.tag}a1", "down")
        doc, seen_at = await alpha.wait_for(
            lambda d: d["type"] == "event" and d["new"] == "DEAD", BOUND + 2.0
        )
        assert doc["network"] == "net1" and doc["peer_alive"] is True
        assert not doc["peer_failed"]
        assert doc["states"]["beta"] == {"net1": "DEAD", "net2": "ALIVE"}
        assert seen_at - cut_at <= BOUND + 0.2  # + pipe and ip(8) latency

        # Cut net2 too: beta is failed.
        run_ip("-n", lab.ns_a, "link", "set", f"sft{lab.tag}a2", "down")
        doc, _ = await alpha.wait_for(
            lambda d: d["type"] == "event" and d["new"] == "DEAD", BOUND + 2.0
        )
        assert doc["network"] == "net2"
        assert doc["peer_failed"] is True and doc["peer_alive"] is False
        assert doc["states"]["beta"] == {"net1": "DEAD", "net2": "DEAD"}

        # Heal net1: beta is back (and was never restarted).
        run_ip("-n", lab.ns_a, "link", "set", f"sft{lab.tag}a1", "up")
        doc, _ = await alpha.wait_for(lambda d: d["type"] == "event", 5.0)
        assert doc["network"] == "net1" and doc["new"] == "ALIVE" and doc["peer_alive"]
        assert not doc["restarted"]
    finally:
        for runner in runners:
            await runner.stop()


async def test_blocked_event_loop_does_not_fail_a_live_peer(tmp_path: Path) -> None:
    """A peer in another process keeps sending while our loop is blocked for longer than
    the detection time: the queued heartbeats are read before any path is judged."""
    key_file = tmp_path / "cluster.key"
    key = generate_key(key_file)
    ports = {"alpha": free_port("127.0.0.2"), "beta": free_port("127.0.0.2")}
    config = {
        "name": "beta",
        "key_file": str(key_file),
        "interval": INTERVAL,
        "miss_count": MISS,
        "lifetime": 30.0,
        "paths": [
            {
                "local_server": "beta",
                "peer_server": "alpha",
                "local_address": "127.0.0.2",
                "peer_address": "127.0.0.2",
                "port": ports["beta"],
                "peer_port": ports["alpha"],
                "network_name": "net1",
            }
        ],
    }
    events: list[PathEvent] = []
    path = CommPath(
        "alpha", "beta", "127.0.0.2", "127.0.0.2", ports["alpha"], "net1", peer_port=ports["beta"]
    )
    alpha = HeartbeatService("alpha", key, [path], INTERVAL, MISS, events.append)
    beta = await Runner.start(None, config)
    try:
        await beta.wait_for(lambda d: d["type"] == "ready", 10.0)
        await alpha.start()
        await wait_until(lambda: alpha.peer_alive("beta"), 2.0, "beta ALIVE")
        time.sleep(INTERVAL * MISS + 0.5)  # deliberately block the event loop
        await asyncio.sleep(INTERVAL)
        assert alpha.peer_alive("beta")
        assert [e.new_state for e in events] == [PathState.ALIVE]
        # But a peer that really stops is still detected.
        await beta.stop()
        await wait_until(lambda: not alpha.peer_alive("beta"), BOUND + 0.5, "beta DEAD")
    finally:
        await alpha.stop()
        await beta.stop()
