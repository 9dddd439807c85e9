"""The installed package under the real service manager: the machine's own /usr booted
as systemd-nspawn containers (a fresh, volatile root each), one alone or two on a
bridge of the test's own.

The containers are not registered with machined (the build machine may have none);
each runs ``systemd/probe.service``, which runs the given script and powers off.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.package.conftest import run

HERE = Path(__file__).parent / "systemd"
#: nspawn's own runtime directories: made if missing, removed (empty) afterwards.
NSPAWN_DIRS = (Path("/run/systemd/nspawn"), Path("/run/systemd/nspawn-root"))
BRIDGE = "sfpkg-br0"


def nspawn_argv(
    results: Path, network: list[str], units: tuple[str, ...], extra: list[str]
) -> list[str]:
    """The command booting one container with ``results`` as its /results."""
    return [
        "systemd-nspawn", "--quiet", "--register=no", "--keep-unit", "--volatile=yes",
        *network, "--directory=/", f"--bind={results}:/results", *extra,
        f"--bind-ro={HERE / 'probe.service'}:/etc/systemd/system/probe.service",
        f"--bind-ro={HERE / 'watchdog.conf'}:/etc/systemd/system/standfast.service.d/test.conf",
        *(f"--bind-ro={HERE / u}:/etc/systemd/system/{u}" for u in units),
        "--boot", "systemd.unit=basic.target", "systemd.wants=probe.service",
        # No first-boot questions, no wait for a network nothing configures.
        "systemd.firstboot=off", "systemd.mask=systemd-networkd-wait-online.service",
    ]  # fmt: skip


@contextmanager
def nspawn_runtime() -> Iterator[None]:
    made = [p for p in NSPAWN_DIRS if not p.exists()]
    try:
        yield
    finally:
        for p in made:  # empty once the containers ended
            for sub in sorted(p.rglob("*"), reverse=True):
                sub.rmdir()
            p.rmdir()


def results_of(results: Path) -> dict[str, str]:
    out = results / "out"
    return dict(line.split("=", 1) for line in out.read_text().splitlines()) if out.exists() else {}


def boot_probe(
    results: Path, script: str = "probe.sh", units: tuple[str, ...] = ()
) -> dict[str, str]:
    """Boot one container (only loopback) and run systemd/``script`` in it, under the
    real service manager (``units``: more unit files of systemd/ installed there); its
    NAME=VALUE lines."""
    results.mkdir()
    shutil.copy(HERE / script, results / "probe.sh")
    with nspawn_runtime():
        r = run(nspawn_argv(results, ["--private-network"], units, []), timeout=240)
    assert (results / "out").exists(), r.stdout[-3000:] + r.stderr[-3000:]
    return results_of(results)


@dataclass
class Pair:
    server1: dict[str, str]
    server2: dict[str, str]
    #: Host clock (the containers share it) when server1's PID 1 was killed.
    crashed_at: float
    logs: str


def boot_pair(
    top: Path,
    units: tuple[str, ...] = ("sf-demo.service",),
    *,
    gui_password: str = "",
    while_up: Callable[[], None] | None = None,
) -> Pair:
    """Boot server1 and server2 on a bridge of their own (BRIDGE, 10.77.0.0/24), each
    running systemd/pair_probe.sh; once server1 says it is ready, cut its power: SIGKILL
    of its PID 1 ends every process of the container at once. server2's probe then
    watches the takeover; with ``gui_password`` it makes an administrator ``sfgui``
    and ``while_up()`` runs while server2 waits (up to 180 s). Everything made here
    (bridge, containers) is gone afterwards; an error of ``while_up`` is raised then."""
    shared = top / "shared"
    shared.mkdir()
    if gui_password:
        (shared / "gui-password").write_text(gui_password)
    failed: BaseException | None = None
    dirs = {name: top / name for name in ("server1", "server2")}
    for d in dirs.values():
        d.mkdir()
        shutil.copy(HERE / "pair_probe.sh", d / "probe.sh")
        shutil.copy(HERE / "pair_view.py", d / "pair_view.py")
    assert run(["ip", "link", "add", BRIDGE, "type", "bridge"]).returncode == 0
    procs: dict[str, subprocess.Popen[bytes]] = {}
    try:
        assert run(["ip", "link", "set", BRIDGE, "up"]).returncode == 0
        with nspawn_runtime():
            for name, d in dirs.items():
                # /etc/ssl for the HTTPS certificate (openssl.cnf), /etc/pam.d for logins.
                extra = [f"--machine={name}", f"--bind={shared}:/shared"]
                extra += ["--bind-ro=/etc/ssl", "--bind-ro=/etc/pam.d"]
                argv = nspawn_argv(d, [f"--network-bridge={BRIDGE}"], units, extra)
                with (d / "nspawn.log").open("wb") as log:
                    procs[name] = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
            crashed_at = _cut_power_when_ready(procs["server1"], shared)
            (shared / "crashed").touch()
            if gui_password and _wait_file(shared / "gui-ready", procs["server2"], 120):
                try:
                    if while_up is not None:
                        while_up()
                except BaseException as exc:  # raised once the containers are gone
                    failed = exc
                (shared / "gui-done").touch()
            procs["server2"].wait(timeout=240)
            procs["server1"].wait(timeout=30)
    finally:
        for p in procs.values():
            if p.poll() is None:  # only the nspawn processes this test started
                p.kill()
                p.wait(timeout=30)
        run(["ip", "link", "del", BRIDGE])
    if failed is not None:
        raise failed
    logs = "\n".join(f"--- {n}\n" + (d / "nspawn.log").read_text()[-2000:] for n, d in dirs.items())
    return Pair(results_of(dirs["server1"]), results_of(dirs["server2"]), crashed_at, logs)


def _wait_file(path: Path, proc: subprocess.Popen[bytes], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not path.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def _cut_power_when_ready(nspawn: subprocess.Popen[bytes], shared: Path) -> float:
    deadline = time.monotonic() + 240
    while not (shared / "server1-ready").exists():
        assert nspawn.poll() is None, "server1's container ended before it was ready"
        assert time.monotonic() < deadline, "server1 was not ready within 240 s"
        time.sleep(0.2)
    init = container_init(nspawn.pid)
    crashed_at = time.time()
    os.kill(init, signal.SIGKILL)  # its PID 1 only: the kernel ends the rest of it
    return crashed_at


def container_init(nspawn_pid: int) -> int:
    """The container's PID 1 as the host numbers it: nspawn's child that is the first
    process of a PID namespace of its own."""
    for task in Path(f"/proc/{nspawn_pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            status = Path(f"/proc/{child}/status").read_text()
            nspid = next(line for line in status.splitlines() if line.startswith("NSpid:"))
            if nspid.split()[1:][-1] == "1" and len(nspid.split()) > 2:
                return int(child)
    raise AssertionError(f"no container init under nspawn pid {nspawn_pid}")
