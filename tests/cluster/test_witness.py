"""Witnesses with real sockets, files and processes (loopback only).

TCP witness: the grant protocol, forged and replayed requests, a forged reply, the
restart hold, and a SIGSTOPped witness process. Storage witness: two servers on one
lease file, expiry hand-over, release, racing processes, bad lease files, and a hung
file system: a FUSE mount (in the FUSE server's own mount namespace) whose server
process is SIGSTOPped, so the lease child really blocks in the kernel.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from standfast.cluster import storage_witness as witness_mod
from standfast.cluster.auth import Sealer, generate_key
from standfast.cluster.quorum import (
    QuorumConfig,
    QuorumInput,
    QuorumMode,
    WitnessView,
    decide_quorum,
)
from standfast.cluster.storage_witness import StorageWitness
from standfast.cluster.witness import (
    REQUEST_TYPE,
    WITNESS_NAME,
    WitnessServer,
    ask_witness,
)

KEY = secrets.token_bytes(32)
OTHER_KEY = secrets.token_bytes(32)
HERE = Path(__file__).parent
SLACK = 0.5


# --------------------------------------------------------------------------- helpers


def read_line(proc: subprocess.Popen[bytes], timeout: float) -> str:
    """One line of a child's stdout, with a deadline."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    buf = b""
    deadline = time.monotonic() + timeout
    while not buf.endswith(b"\n"):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"no line from pid {proc.pid} within {timeout} s: {buf!r}")
        ready, _, _ = select.select([fd], [], [], remaining)
        if ready:
            chunk = os.read(fd, 1)
            if not chunk:
                raise AssertionError(f"pid {proc.pid} closed stdout: {buf!r}")
            buf += chunk
    return buf.decode().strip()


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    """SIGCONT + SIGKILL a child we started, by pid, and reap it (bounded)."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGCONT)
            os.kill(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)
    for stream in (proc.stdin, proc.stdout):
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()


async def start_server(ttl: float, hold: float = 0.0) -> tuple[WitnessServer, int]:
    server = WitnessServer(KEY, grant_ttl=ttl, startup_hold=hold)
    _, port = await server.start("127.0.0.1", 0)
    return server, port


async def ask(port: int, server: str, partition: set[str], key: bytes = KEY) -> WitnessView:
    return await ask_witness("127.0.0.1", port, key, server, partition, timeout=2.0)


# --------------------------------------------------------------------------- TCP witness


async def test_first_partition_is_granted_until_it_stops_renewing() -> None:
    ttl = 1.0
    server, port = await start_server(ttl)
    try:
        first = await ask(port, "s1", {"s1"})
        assert first.reachable and first.granted and first.holder == ("s1",)
        assert first.valid_until is not None and first.valid_until <= time.monotonic() + ttl
        other = await ask(port, "s2", {"s2"})
        assert other.reachable and not other.granted and other.holder == ("s1",)
        # s1 keeps renewing past several ttls; s2 stays refused all along.
        end = time.monotonic() + 2.5 * ttl
        while time.monotonic() < end:
            assert (await ask(port, "s1", {"s1"})).granted
            assert not (await ask(port, "s2", {"s2"})).granted
            await asyncio.sleep(ttl / 4)
        # A member of the granted partition renews it too; a bigger set is another one.
        last_renewal = time.monotonic()  # the witness extends the grant after this
        assert (await ask(port, "s1", {"s1"})).granted
        assert not (await ask(port, "s2", {"s1", "s2"})).granted
        # s1 stops renewing: s2 gets the vote once the ttl has passed, not before.
        while not (view := await ask(port, "s2", {"s2"})).granted:
            assert time.monotonic() - last_renewal < ttl + 1.0, "grant never expired"
            await asyncio.sleep(0.05)
        assert time.monotonic() - last_renewal >= ttl
        assert view.holder == ("s2",)
        back = await ask(port, "s1", {"s1"})
        assert back.reachable and not back.granted and back.holder == ("s2",)
    finally:
        await server.close()


async def test_grants_are_per_cluster_and_partition_members_share_one() -> None:
    server, port = await start_server(5.0)
    try:
        pair = {"s1", "s2"}
        assert (await ask(port, "s1", pair)).granted
        assert (await ask(port, "s2", pair)).granted  # same partition, other member
        assert not (await ask(port, "s3", {"s3"})).granted
        other = await ask_witness("127.0.0.1", port, KEY, "s3", {"s3"}, timeout=2, cluster="c2")
        assert other.granted
    finally:
        await server.close()


async def test_forged_request_is_refused_and_changes_nothing() -> None:
    server, port = await start_server(5.0)
    try:
        forged = await ask(port, "s1", {"s1"}, key=OTHER_KEY)
        assert not forged.reachable and not forged.granted
        assert server.dropped == 1 and server.answered == 0
        assert server.grants.holder("standfast") is None
        genuine = await ask(port, "s2", {"s2"})
        assert genuine.granted and genuine.holder == ("s2",)
    finally:
        await server.close()


async def test_replayed_request_gets_no_reply() -> None:
    server, port = await start_server(5.0)
    try:
        request = Sealer(KEY, "standfast", "s1").seal(
            WITNESS_NAME, REQUEST_TYPE, {"partition": ["s1"], "nonce": "n1"}
        )
        frame = len(request).to_bytes(4, "big") + request

        def exchange() -> bytes:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
                sock.sendall(frame)
                chunks = []
                while chunk := sock.recv(65536):
                    chunks.append(chunk)
                return b"".join(chunks)

        assert await asyncio.to_thread(exchange)  # first time: answered
        assert await asyncio.to_thread(exchange) == b""  # replay: dropped, no reply
        assert server.answered == 1 and server.dropped == 1
    finally:
        await server.close()


async def test_reply_from_a_witness_with_another_key_is_not_trusted() -> None:
    impostor = WitnessServer(OTHER_KEY, grant_ttl=5.0, startup_hold=0.0)
    _, port = await impostor.start("127.0.0.1", 0)
    try:
        # The impostor cannot even read our request, so it drops it; a witness that
        # answers with another key is refused by the client the same way.
        view = await ask(port, "s1", {"s1"})
        assert not view.reachable and not view.granted
    finally:
        await impostor.close()


async def test_restarted_witness_holds_back_its_vote() -> None:
    server, port = await start_server(5.0, hold=0.6)
    try:
        started = time.monotonic()
        early = await ask(port, "s1", {"s1"})
        assert early.reachable and not early.granted and "restarted" in early.detail
        while not (await ask(port, "s1", {"s1"})).granted:
            assert time.monotonic() - started < 3.0
            await asyncio.sleep(0.05)
        assert time.monotonic() - started >= 0.6
    finally:
        await server.close()


async def test_nobody_listening_is_unreachable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    view = await ask(port, "s1", {"s1"})
    assert not view.reachable and not view.granted


@pytest.fixture
def witness_process(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int, bytes]]:
    key_file = tmp_path / "cluster.key"
    key = generate_key(key_file)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "standfast.cluster.witness",
            "--listen",
            "127.0.0.1",
            "--port",
            "0",
            "--key-file",
            str(key_file),
            "--grant-ttl",
            "10",
            "--startup-hold",
            "0",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        words = read_line(proc, 20.0).split()
        assert words[0] == "listening", words
        yield proc, int(words[2]), key
    finally:
        stop_process(proc)


async def test_sigstopped_witness_is_unreachable_within_the_timeout(
    witness_process: tuple[subprocess.Popen[bytes], int, bytes],
) -> None:
    proc, port, key = witness_process
    assert (await ask_witness("127.0.0.1", port, key, "s1", {"s1"}, timeout=5)).granted
    os.kill(proc.pid, signal.SIGSTOP)
    try:
        timeout = 1.0
        started = time.monotonic()
        view = await ask_witness("127.0.0.1", port, key, "s1", {"s1"}, timeout=timeout)
        elapsed = time.monotonic() - started
        assert not view.reachable and not view.granted, view
        assert timeout - 0.05 <= elapsed <= timeout + SLACK, elapsed
    finally:
        os.kill(proc.pid, signal.SIGCONT)
    again = await ask_witness("127.0.0.1", port, key, "s1", {"s1"}, timeout=5)
    assert again.granted  # the witness resumes and s1 still holds its grant


# --------------------------------------------------------------------------- storage

TTL = 2.0
IO = 1.0
SKEW = 0.2
SETTLE = 0.1


def storage(path: Path, server: str) -> StorageWitness:
    return StorageWitness(path, server, ttl=TTL, io_timeout=IO, max_skew=SKEW, settle=SETTLE)


def lease_doc(path: Path) -> dict[str, Any]:
    doc = json.loads(path.read_text())
    assert isinstance(doc, dict)
    return doc


def test_one_holder_and_hand_over_on_expiry(tmp_path: Path) -> None:
    lease = tmp_path / "lease.json"
    w1, w2 = storage(lease, "s1"), storage(lease, "s2")
    first = w1.renew_or_acquire()
    assert first.reachable and first.granted and first.holder == ("s1",)
    assert lease_doc(lease)["owner"] == "s1" and lease_doc(lease)["generation"] == 1
    refused = w2.renew_or_acquire()
    assert refused.reachable and not refused.granted and refused.holder == ("s1",)
    for generation in (2, 3):
        renewed = w1.renew_or_acquire()
        assert renewed.granted and lease_doc(lease)["generation"] == generation
        last = lease_doc(lease)
        assert not w2.renew_or_acquire().granted
    # s1 stops renewing: s2 takes over after ttl + max_skew, not before.
    while not (taken := w2.renew_or_acquire()).granted:
        assert taken.reachable and taken.holder == ("s1",)
        assert time.time() - float(last["written"]) < TTL + SKEW + 1.0
        time.sleep(0.05)
    now = lease_doc(lease)
    assert now["owner"] == "s2" and now["generation"] == 4
    assert last["expires"] == float(last["written"]) + TTL
    assert float(now["written"]) >= float(last["expires"]) + SKEW
    lost = w1.renew_or_acquire()
    assert lost.reachable and not lost.granted and lost.holder == ("s2",)
    # Only the lease file is left in the directory (temp files were renamed).
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lease.json"]


def test_release_hands_over_at_once(tmp_path: Path) -> None:
    lease = tmp_path / "lease.json"
    w1, w2 = storage(lease, "s1"), storage(lease, "s2")
    assert w1.renew_or_acquire().granted
    assert not w2.release().granted and lease_doc(lease)["owner"] == "s1"  # not s2's to give
    w1.release()
    assert w2.renew_or_acquire().granted
    assert w2.read().holder == ("s2",)


def test_a_bad_lease_file_is_not_overwritten(tmp_path: Path) -> None:
    lease = tmp_path / "lease.json"
    lease.write_text("not a lease\n")
    view = storage(lease, "s1").renew_or_acquire()
    assert view.reachable and not view.granted and "not a lease record" in view.detail
    assert lease.read_text() == "not a lease\n"


def test_a_missing_directory_is_unreachable(tmp_path: Path) -> None:
    view = storage(tmp_path / "gone" / "lease.json", "s1").renew_or_acquire()
    assert not view.reachable and not view.granted and "errno 2" in view.detail


def test_bad_parameters_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        StorageWitness(tmp_path / "l", "s1", ttl=1.0, io_timeout=1.0)  # ttl < 2 x io
    with pytest.raises(ValueError):
        StorageWitness(Path("relative"), "s1", ttl=4.0, io_timeout=1.0)
    with pytest.raises(ValueError):
        StorageWitness(tmp_path / "l", "-s1", ttl=4.0, io_timeout=1.0)


RACER = r"""
import json, sys
from pathlib import Path
from standfast.cluster.storage_witness import StorageWitness
w = StorageWitness(Path(sys.argv[1]), sys.argv[2], ttl=4.0, io_timeout=2.0, max_skew=0.2,
                   settle=0.2)
print("ready", flush=True)
for line in sys.stdin:
    v = w.renew_or_acquire()
    print(json.dumps({"granted": v.granted, "reachable": v.reachable, "detail": v.detail}),
          flush=True)
"""


def test_racing_processes_yield_exactly_one_owner(tmp_path: Path) -> None:
    lease = tmp_path / "lease.json"
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, str(lease), name],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        for name in ("s1", "s2")
    ]
    both_wrote = 0
    try:
        for proc in racers:
            assert read_line(proc, 20.0) == "ready"
        for _round in range(12):
            lease.unlink(missing_ok=True)
            for proc in racers:  # start both as close together as we can
                assert proc.stdin is not None
                proc.stdin.write(b"go\n")
            for proc in racers:
                assert proc.stdin is not None
                proc.stdin.flush()
            answers = {
                name: json.loads(read_line(p, 10.0))
                for name, p in zip(("s1", "s2"), racers, strict=True)
            }
            winners = [name for name, a in answers.items() if a["granted"]]
            assert len(winners) == 1, answers
            assert lease_doc(lease)["owner"] == winners[0]
            loser = answers["s2" if winners[0] == "s1" else "s1"]
            assert loser["reachable"]
            both_wrote += "lost the lease" in loser["detail"]
    finally:
        for proc in racers:
            stop_process(proc)
    print(f"rounds where both servers wrote the lease and the re-read decided: {both_wrote}/12")


# --------------------------------------------------------------------------- hung storage


@pytest.fixture
def fuse_server(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    if os.geteuid() != 0 or not Path("/dev/fuse").exists():
        pytest.skip("needs root and /dev/fuse")
    mount_point = tmp_path / "mnt"
    mount_point.mkdir()
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "fuse_runner.py"), str(mount_point)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        line = read_line(proc, 20.0)
        if line != "ready":
            pytest.skip(f"cannot mount a FUSE file system here: {line}")
        # The mount exists only in the server's namespace; reach it through its root.
        yield proc, Path(f"/proc/{proc.pid}/root") / str(mount_point).lstrip("/")
    finally:
        stop_process(proc)


@pytest.mark.root
def test_hung_storage_is_unreachable_within_io_timeout(
    fuse_server: tuple[subprocess.Popen[bytes], Path],
) -> None:
    proc, mount = fuse_server
    lease = mount / "lease.json"
    w1 = StorageWitness(lease, "s1", ttl=4.0, io_timeout=IO, settle=SETTLE)
    w2 = StorageWitness(lease, "s2", ttl=4.0, io_timeout=IO, settle=SETTLE)
    config = QuorumConfig(QuorumMode.STORAGE_WITNESS, ("s1", "s2"))
    # Served: the lease works on the FUSE file system like on any other.
    held = w1.renew_or_acquire()
    assert held.granted, held
    assert decide_quorum(config, QuorumInput("s1", frozenset(), held, time.monotonic())).has_quorum
    assert not w2.renew_or_acquire().granted
    assert lease_doc(lease)["owner"] == "s1"
    os.kill(proc.pid, signal.SIGSTOP)
    try:
        for w in (w1, w1, w2):  # also while an earlier killed child's request is pending
            started = time.monotonic()
            hung = w.renew_or_acquire()
            elapsed = time.monotonic() - started
            assert not hung.reachable and not hung.granted, hung
            assert "no answer within" in hung.detail
            assert IO - 0.05 <= elapsed <= IO + SLACK, elapsed
        status = decide_quorum(config, QuorumInput("s1", frozenset(), hung, time.monotonic()))
        assert not status.has_quorum and "unreachable" in status.reason
        # The killed children did not survive: nothing was abandoned.
        assert witness_mod.reap_abandoned() == []
    finally:
        os.kill(proc.pid, signal.SIGCONT)
    # The server answers again; s1's lease is still live (ttl 4 s), so s1 renews it.
    started = time.monotonic()
    resumed = w1.renew_or_acquire()
    assert resumed.granted and "renewed" in resumed.detail, resumed
    assert time.monotonic() - started < IO
    assert lease_doc(lease)["generation"] == 2  # taken (1), renewed (2); w2 never wrote
