"""The VM lab itself: real Linux guests under qemu, real kernel NFS against ganesha.

One session-wide lab of two servers on net1, net2 and nas; the tests run in file
order (crash and down come last).  Needs root, /dev/net/tun and the lab packages
(``VmLab.setup`` installs them; set STANDFAST_LAB_CACHE to move the cache).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from standfast.lab import network, state
from standfast.lab.vm import ExecResult, GuestGone
from standfast.lab.vmlab import LabInfo, VmLab

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

MOUNT_OPTS = "vers=3,hard,intr"


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VmLab]:
    if os.geteuid() != 0 or not Path("/dev/net/tun").exists():
        pytest.skip("the VM lab needs root and /dev/net/tun")
    cache = Path(os.environ.get("STANDFAST_LAB_CACHE", "/var/cache/standfast/lab"))
    lab = VmLab(tmp_path_factory.mktemp("vmlab"), cache)
    lab.setup()
    try:
        yield lab
    finally:
        lab.down()


@pytest.fixture(scope="module")
def info(lab: VmLab) -> LabInfo:
    t0 = time.monotonic()
    info = lab.up(2)
    print(f"\nlab up in {time.monotonic() - t0:.1f} s; boot: {info.boot_seconds}")
    return info


def ping(lab: VmLab, server: str, address: str, tries: int = 1) -> bool:
    for _ in range(tries):
        r = lab.exec(server, ["busybox", "ping", "-c", "1", "-W", "2", address], timeout=10)
        if r.ok:
            return True
    return False


def mount_data(lab: VmLab, info: LabInfo, server: str) -> ExecResult:
    assert info.nas is not None
    assert lab.exec(server, ["mkdir", "-p", "/mnt/data"]).ok
    return lab.exec(
        server,
        [
            "mount",
            "-t",
            "nfs",
            "-o",
            MOUNT_OPTS,
            f"{info.nas.address}:{info.nas.export_path}",
            "/mnt/data",
        ],
        timeout=60,
    )


def test_both_guests_answer(lab: VmLab, info: LabInfo) -> None:
    assert sorted(info.servers) == ["server1", "server2"]
    for name in info.servers:
        r = lab.exec(name, ["hostname"])
        assert r.ok, r
        assert r.stdout.strip() == name
        addrs = lab.exec(name, ["ip", "-o", "-4", "addr", "show"]).stdout
        for net, address in info.servers[name].addresses.items():
            assert f"{net}    inet {address}/24" in addrs or f" {address}/24 " in addrs


def test_exec_reports_failure_timeout_and_missing_program(lab: VmLab, info: LabInfo) -> None:
    r = lab.exec("server1", ["sh", "-c", "echo out; echo err >&2; exit 3"])
    assert (r.returncode, r.stdout, r.stderr, r.timed_out) == (3, "out\n", "err\n", False)
    t0 = time.monotonic()
    r = lab.exec("server1", ["sleep", "30"], timeout=1)
    assert r.timed_out and time.monotonic() - t0 < 10
    assert lab.exec("server1", ["/nonexistent/program"]).returncode == 127
    assert lab.exec("server1", ["cat"], stdin="abc").stdout == "abc"


def test_nfs_mount_shared_between_guests(lab: VmLab, info: LabInfo) -> None:
    assert info.nas is not None
    r = mount_data(lab, info, "server1")
    assert r.ok, r
    mounts = lab.exec("server1", ["cat", "/proc/mounts"]).stdout
    line = next(m for m in mounts.splitlines() if " /mnt/data " in m)
    assert line.split()[2] == "nfs"
    token = uuid.uuid4().hex
    assert lab.exec("server1", ["sh", "-c", f"echo {token} > /mnt/data/from-server1"]).ok
    r = mount_data(lab, info, "server2")
    assert r.ok, r
    r = lab.exec("server2", ["cat", "/mnt/data/from-server1"])
    assert r.stdout.strip() == token
    assert (Path(info.nas.host_dir) / "from-server1").read_text().strip() == token


def test_guests_reach_each_other_on_both_comm_networks(lab: VmLab, info: LabInfo) -> None:
    for net in ("net1", "net2"):
        assert ping(lab, "server1", info.servers["server2"].addresses[net], tries=3)
        assert ping(lab, "server2", info.servers["server1"].addresses[net], tries=3)


def test_cut_isolates_one_network_only(lab: VmLab, info: LabInfo) -> None:
    s1 = info.servers["server1"].addresses
    lab.cut("server1", "net1")
    try:
        assert lab.status()["servers"]["server1"]["networks"] == {
            "net1": False,
            "net2": True,
            "nas": True,
        }
        assert not ping(lab, "server2", s1["net1"])
        assert ping(lab, "server2", s1["net2"], tries=3)
    finally:
        lab.heal("server1", "net1")
    assert ping(lab, "server2", s1["net1"], tries=3)


def test_hung_nas_blocks_nfs_not_the_agent(lab: VmLab, info: LabInfo) -> None:
    lab.hang_nas()
    try:
        assert lab.status()["nas"]["paused"] is True
        results: dict[str, ExecResult] = {}

        def probe() -> None:
            results["statfs"] = lab.exec("server1", ["stat", "-f", "/mnt/data"], timeout=6)

        t = threading.Thread(target=probe)
        t.start()
        time.sleep(1.0)
        # While that call hangs in the guest's kernel, the agent answers others.
        t0 = time.monotonic()
        assert lab.guest("server1").ping(timeout=5)["pong"] is True
        assert lab.exec("server1", ["true"], timeout=5).ok
        assert time.monotonic() - t0 < 5
        t.join(30)
        assert results["statfs"].timed_out
        # A lookup the attribute cache cannot answer hangs too.
        r = lab.exec("server1", ["stat", f"/mnt/data/{uuid.uuid4().hex}"], timeout=3)
        assert r.timed_out
    finally:
        lab.resume_nas()
    assert lab.status()["nas"]["paused"] is False
    r = lab.exec("server1", ["stat", "-f", "/mnt/data"], timeout=30)
    assert r.ok, r
    assert lab.exec("server2", ["touch", "/mnt/data/after-resume"], timeout=30).ok


def test_spawn_background_process(lab: VmLab, info: LabInfo) -> None:
    pid = lab.spawn("server2", ["sh", "-c", "echo started; exec sleep 300"], "/tmp/bg.log")
    assert lab.exec("server2", ["kill", "-0", str(pid)]).ok
    deadline = time.monotonic() + 20
    while "started" not in lab.exec("server2", ["cat", "/tmp/bg.log"]).stdout:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert lab.guest("server2").kill(pid)
    deadline = time.monotonic() + 20
    while lab.exec("server2", ["kill", "-0", str(pid)]).ok:
        assert time.monotonic() < deadline
        time.sleep(0.2)


def lab_cli(lab: VmLab, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``standfast lab ARGS`` in another process, as a user in another shell."""
    return subprocess.run(
        [sys.executable, "-m", "standfast", "lab", "--lab-dir", str(lab.lab_dir),
         "--cache-dir", str(lab.cache_dir), *args],
        capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip


def test_lab_commands_from_other_processes_while_guests_are_busy(lab: VmLab, info: LabInfo) -> None:
    """This process holds its own connections with a long quiet command in flight and
    short ones timing out beside it; `lab status` and `lab exec` from other processes
    answer meanwhile, and nothing here loses its connection."""
    long = {}
    t = threading.Thread(
        target=lambda: long.setdefault("r", lab.exec("server1", ["sleep", "8"], timeout=30))
    )
    t.start()
    time.sleep(0.5)
    for _ in range(3):
        assert lab.guest("server1").ping(timeout=2)["pong"] is True
    t0 = time.monotonic()
    status = lab_cli(lab, "status", "--json")
    assert status.returncode == 0, status.stderr
    servers = json.loads(status.stdout)["servers"]
    assert servers["server1"]["agent"] is True and servers["server2"]["agent"] is True
    r = lab_cli(lab, "exec", "server1", "--", "echo", "from another shell")
    assert r.returncode == 0 and r.stdout == "from another shell\n", r.stderr
    assert time.monotonic() - t0 < 60
    t.join(40)
    assert long["r"].ok, long["r"]


def test_restart_of_a_running_server_waits_for_its_old_qemu(lab: VmLab, info: LabInfo) -> None:
    """`lab restart` on a running server: the old qemu is gone (its TAPs free) before
    the new one starts; the server comes back every time."""
    old = lab.guest("server2").pid
    for _ in range(2):
        r = lab_cli(lab, "restart", "server2", timeout=300)
        assert r.returncode == 0, r.stderr
    assert old is not None and not state.process_alive(old)
    lab_state = state.load(lab.lab_dir)
    pid = int(lab_state.info["servers"]["server2"]["pid"])
    lab._guests.pop("server2").close()  # drive the new qemu, as a fresh process would
    assert lab.guest("server2").pid == pid
    assert lab.exec("server2", ["true"]).ok


def test_crash_kills_one_server(lab: VmLab, info: LabInfo) -> None:
    pid = info.servers["server1"].pid
    assert pid is not None
    lab.crash("server1")
    status = lab.status()
    assert status["servers"]["server1"]["running"] is False
    assert not state.process_alive(pid)
    assert status["servers"]["server2"]["agent"] is True
    assert lab.exec("server2", ["true"]).ok
    # A command for the crashed server fails at once, with its number, in this process
    # and from another one (it used to wait out its whole timeout).
    t0 = time.monotonic()
    with pytest.raises(GuestGone, match="190901"):
        lab.exec("server1", ["true"], timeout=600)
    r = lab_cli(lab, "exec", "server1", "--", "true")
    assert r.returncode == 1 and "190901" in r.stderr
    assert time.monotonic() - t0 < 20


def test_down_removes_exactly_what_the_lab_made(lab: VmLab, info: LabInfo) -> None:
    before = state.load(lab.lab_dir)
    assert before.bridges and before.taps and before.processes
    # down from a fresh object, as another process would do it.
    VmLab(lab.lab_dir, lab.cache_dir).down()
    lab.down()
    for name in [*before.bridges, *before.taps]:
        assert not network.link_exists(name), name
    for ns in before.netns:
        assert not network.netns_exists(ns)
    for rec in before.processes:
        assert not rec.alive(), rec
    assert not [n for n in network.links("sf") if n.startswith(("sfbr-", "sft", "sfnas"))]
    assert state.load(lab.lab_dir).empty()
