"""``standfast cluster rekey`` with real daemons in namespaces (docs/cluster.md,
"Changing the cluster key"): the key changes on every server while heartbeats and
the peer channel keep going (nothing fails over, the application's ledger shows one
uninterrupted run), the old key is refused afterwards, a server not heard makes it
refuse before anything changes, and SIGHUP with an unusable key file keeps the keys
in use."""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from standfast.cluster.auth import Sealer
from standfast.cluster.keyring import fingerprint, load_keys, new_key, write_keys
from standfast.lab.netns import NetCluster, dump, net_cluster
from tests.cluster.test_failover import DEFAULTS, make_app

pytestmark = [pytest.mark.root, pytest.mark.daemon]

DOC = Path(__file__).resolve().parents[2] / "docs" / "cluster.md"
HEARTBEAT_PORT = 7800


@pytest.fixture
def cluster3(tmp_path: Path) -> Iterator[NetCluster]:
    with net_cluster(tmp_path / "c", count=3, tag="rk", defaults=DEFAULTS) as c:
        c.start_all()
        yield c


def key_files(c: NetCluster) -> dict[str, list[bytes]]:
    return {name: load_keys(srv.home / "lib" / "cluster.key") for name, srv in c.servers.items()}


def all_alive(c: NetCluster, server: str) -> bool:
    servers = c.api(server, "GET", "/v1/status")["cluster"]["servers"]
    return all(s["alive"] for s in servers.values())


def wait_until(what: str, fn: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not fn():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def rekey_example() -> list[str]:
    """docs/cluster.md's block marked '# example: rekey' (one command)."""
    for body in re.findall(r"```sh\n(.*?)```", DOC.read_text(), flags=re.S):
        lines = body.splitlines()
        if lines and lines[0].strip() == "# example: rekey":
            (command,) = [ln for ln in lines[1:] if ln.strip()]
            argv = shlex.split(command)
            assert argv[0] == "standfast"
            return argv[1:]
    raise AssertionError("no '# example: rekey' block in docs/cluster.md")


def send_heartbeat(c: NetCluster, key: bytes, to: str) -> None:
    """A heartbeat-shaped datagram from the host, sealed with ``key``, to ``to``."""
    source = c.host_address(1)
    sealer = Sealer(key, "lab", "server1")
    data = sealer.seal(to, "heartbeat", {"network": "net1"})
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((source, 0))
        s.sendto(data, (c.servers[to].addresses["net1"], HEARTBEAT_PORT))


def forged_lines(c: NetCluster, server: str) -> list[str]:
    text = c.servers[server].log_file.read_text(errors="replace")
    return [ln for ln in text.splitlines() if "191003" in ln and "forged" in ln]


def test_rekey_without_downtime(cluster3: NetCluster) -> None:
    c = cluster3
    time.sleep(c.settle_seconds())
    make_app(c)
    assert c.where("app") == ["server1"]
    old = key_files(c)
    assert all(keys == old["server1"] for keys in old.values())
    (old_key,) = old["server1"]

    # A server not heard: refused before anything changes.
    c.stop("server3")
    wait_until("server3 seen down", lambda: not all_alive(c, "server2"))
    r = c.cli("server2", "cluster", "rekey", check=False)
    assert r.returncode == 1 and "191020" in r.stderr and "server3" in r.stderr, r.stderr
    assert key_files(c) == old
    c.start("server3")
    wait_until("cluster formed again", lambda: all(all_alive(c, s) for s in c.servers), 20)

    # The documented command, on a server that does not hold the application.
    r = c.cli("server2", *rekey_example(), check=False)
    assert r.returncode == 0, r.stdout + r.stderr + dump(c)
    assert "rekey: END successful change of the cluster key" in r.stdout, r.stdout
    assert "191023" in r.stderr, r.stderr  # notices go to stderr
    new = key_files(c)
    (new_key,) = new["server1"]
    assert all(keys == [new_key] for keys in new.values()), "one new key on every server"
    assert new_key != old_key
    assert fingerprint(new_key) in r.stdout and fingerprint(old_key) not in r.stdout + r.stderr
    assert old_key.hex() not in r.stdout + r.stderr

    # Nothing noticed it: everyone still heard, the application never moved or stopped.
    time.sleep(2.0)
    assert all(all_alive(c, s) for s in c.servers), dump(c)
    assert c.where("app") == ["server1"]
    intervals = c.ledger_intervals("app")
    assert list(intervals) == ["server1"] and len(intervals["server1"]) == 1, intervals

    # The old key is refused now; the new one authenticates (then fails the path check).
    before = len(forged_lines(c, "server2"))
    send_heartbeat(c, old_key, "server2")
    wait_until("old key refused", lambda: len(forged_lines(c, "server2")) > before, 5)

    # The peer channel works with the new key: a switchover asks server1 to release.
    c.cli("server2", "resource", "in-service", "app")
    c.wait_for("app", "server2", timeout=20)
    assert c.where("app") == ["server2"]
    assert c.overlaps("app") == []


def test_sighup_with_a_bad_key_file_keeps_the_keys(cluster3: NetCluster) -> None:
    c = cluster3
    time.sleep(c.settle_seconds())
    path = c.servers["server3"].home / "lib" / "cluster.key"
    good = path.read_bytes()
    path.write_bytes(b"not base64 at all!\n")
    os.chmod(path, 0o600)
    os.kill(c.pid("server3"), signal.SIGHUP)
    log = c.servers["server3"].log_file
    wait_until("191025 logged", lambda: "191025" in log.read_text(errors="replace"), 5)
    time.sleep(2.0)  # several heartbeat intervals: still sealing and opening
    assert all(all_alive(c, s) for s in c.servers), dump(c)
    # The file put right and HUP again: taken (191022), still talking.
    path.write_bytes(good)
    os.kill(c.pid("server3"), signal.SIGHUP)
    wait_until("191022 logged", lambda: "191022" in log.read_text(errors="replace"), 5)
    time.sleep(1.0)
    assert all(all_alive(c, s) for s in c.servers), dump(c)


def test_a_rotation_under_way_is_refused_then_finished(cluster3: NetCluster) -> None:
    """A server that already accepts two keys (here: an operator's own rotation, begun
    by hand on server3) refuses a new rotation; nothing is left behind elsewhere, and
    ``--finish`` brings every server back to one key, the one server1 seals with."""
    c = cluster3
    time.sleep(c.settle_seconds())
    old = key_files(c)
    (current,) = old["server1"]
    extra = new_key()
    write_keys(c.servers["server3"].home / "lib" / "cluster.key", [current, extra])
    os.kill(c.pid("server3"), signal.SIGHUP)
    log = c.servers["server3"].log_file
    wait_until("server3 took both keys", lambda: "191022" in log.read_text(errors="replace"), 5)

    r = c.cli("server1", "cluster", "rekey", check=False)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "191021" in r.stderr and "server3" in r.stderr and "191024" in r.stderr, r.stderr
    now = key_files(c)
    assert now["server1"] == now["server2"] == [current], "the new key was taken back"
    assert now["server3"] == [current, extra]
    assert all(all_alive(c, s) for s in c.servers), dump(c)

    r = c.cli("server1", "cluster", "rekey", "--finish", check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    assert key_files(c) == {name: [current] for name in c.servers}
    time.sleep(1.0)
    assert all(all_alive(c, s) for s in c.servers), dump(c)
