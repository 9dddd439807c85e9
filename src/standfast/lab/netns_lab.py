"""``standfast lab up --backend netns``: the netns cluster, kept across processes.

:class:`~standfast.lab.netns.NetCluster` builds servers as network namespaces on this
machine, each with a daemon, on two comm-path networks.  This wrapper records every
bridge, link, namespace and daemon pid in the lab's state file (before making it)
so ``standfast lab down`` from another process removes exactly that, and so
``lab exec/crash/cut/heal/restart`` work from a new process.

Each server's processes (its daemon, every application the daemon starts, every
``lab exec``) run in a cgroup of the server's own (:mod:`standfast.lab.power`), so
``lab crash`` is a power cut as in the vm lab: everything of that server dies at
once.  ``lab restart`` powers a server on again (cutting it first if anything of it
still runs) and starts its daemon; ``lab down`` cuts every server before it removes
the namespaces, so no application outlives the lab.

This kernel has no NFS client: NAS hierarchies need the vm backend; app and ip
hierarchies run here.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from standfast.cli import status_exit
from standfast.lab import power, state
from standfast.lab.netns import NetCluster, Server
from standfast.lab.vmlab import LabError
from standfast.messages import render

BACKEND = "netns"
NO_NFS = (
    "netns backend: servers are network namespaces on this machine; kernel NFS mounts "
    "are NOT available here (this kernel has no NFS client). Use --backend vm for NAS "
    "hierarchies; app and ip hierarchies work."
)
#: The NetCluster tag: names are sfcL-server1, sfcLbr1, sfcL1n1 ...
TAG = "L"
#: How long a power cut may take before the lab says what survived it (190905).
POWER_CUT_TIMEOUT = 10.0


def _workdir(lab_dir: Path) -> Path:
    return lab_dir / "netns"


def is_netns_lab(lab_dir: Path) -> bool:
    return state.load(lab_dir).info.get("backend") == BACKEND


def up(lab_dir: Path, servers: int, timeout: float = 60.0) -> dict[str, Any]:
    """Namespaces, links, cluster definition and one daemon per server."""
    if not 1 <= servers <= 20:
        raise ValueError("servers must be 1-20")
    with state.locked(lab_dir) as st:
        if st.info or not st.empty():
            raise LabError(f"a lab is already up in {lab_dir} (run down first)")
        cluster = NetCluster(_workdir(lab_dir), count=servers, tag=TAG)
        # Record every name first: a failure half-way still leaves a complete record.
        for net_no in (1, 2):
            st.add_bridge(f"{cluster.prefix}br{net_no}")
        for i in range(1, servers + 1):
            st.add_netns(f"{cluster.prefix}-server{i}")
            for net_no in (1, 2):
                st.add_tap(f"{cluster.prefix}{i}n{net_no}")
        st.info = {"backend": BACKEND, "count": servers, "servers": {}}
    try:
        cluster.up()
        with state.locked(lab_dir) as st:
            st.info["servers"] = {name: _server_json(srv) for name, srv in cluster.servers.items()}
            for name, data in st.info["servers"].items():
                group = power.make_cgroup(f"{cluster.prefix}-{name}")
                data["cgroup"] = None if group is None else str(group)
        for name in cluster.servers:
            start_daemon(lab_dir, name, timeout)
    except BaseException:
        down(lab_dir)
        raise
    return info(lab_dir)


def _server_json(srv: Server) -> dict[str, Any]:
    return {
        "ns": srv.ns,
        "home": str(srv.home),
        "addresses": dict(srv.addresses),
        "host_links": dict(srv.host_links),
    }


def _server(lab_dir: Path, name: str) -> dict[str, Any]:
    st = state.load(lab_dir)
    data = st.info.get("servers", {}).get(name)
    if st.info.get("backend") != BACKEND or data is None:
        raise LabError(f"no server {name!r} in the netns lab in {lab_dir}")
    return dict(data)


def _cgroup(data: Mapping[str, Any]) -> Path | None:
    group = data.get("cgroup")
    return None if not group else Path(str(group))


def env(lab_dir: Path, name: str) -> dict[str, str]:
    data = _server(lab_dir, name)
    out = dict(os.environ)
    out.update(
        STANDFAST_HOME=str(data["home"]),
        STANDFAST_SERVER=name,
        STANDFAST_FSTAB=str(Path(data["home"]) / "fstab"),
        LANG="C.UTF-8",
    )
    out["PATH"] = f"{Path(sys.executable).parent}:{out.get('PATH', '/usr/bin:/bin')}"
    out.pop("STANDFAST_DEFAULTS", None)
    return out


def start_daemon(lab_dir: Path, name: str, timeout: float = 60.0) -> int:
    data = _server(lab_dir, name)
    home = Path(data["home"])
    home.mkdir(parents=True, exist_ok=True)
    defaults = home / "defaults"
    if not defaults.exists():
        defaults.write_text("")
    argv = ["ip", "netns", "exec", data["ns"], sys.executable, "-m", "standfast", "daemon"]
    with open(home / "daemon.out", "ab") as out:
        proc = subprocess.Popen(
            power.wrap(_cgroup(data), argv),
            env=env(lab_dir, name),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    with state.locked(lab_dir) as st:
        st.forget_dead("daemon", name)
        st.add_process(proc.pid, "daemon", name)
    sock = home / "run" / "standfast.sock"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise LabError(f"{name}: daemon exited:\n{(home / 'daemon.out').read_text()[-2000:]}")
        if sock.exists():
            r = exec_(lab_dir, name, [sys.executable, "-m", "standfast", "status"], timeout=20)
            # Answering is enough: a peer not started yet makes status exit 3 (degraded).
            if r.returncode in ANSWERED:
                return proc.pid
        time.sleep(0.2)
    raise LabError(f"{name}: daemon not answering within {timeout:.0f} s")


ANSWERED = (status_exit.OK, status_exit.DEGRADED, status_exit.FAILED)


def exec_(
    lab_dir: Path, name: str, argv: Sequence[str], timeout: float = 600.0
) -> subprocess.CompletedProcess[str]:
    """*argv* in the server's namespace with its Standfast environment (no shell)."""
    data = _server(lab_dir, name)
    return subprocess.run(
        power.wrap(_cgroup(data), ["ip", "netns", "exec", data["ns"], *argv]),
        env=env(lab_dir, name),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _running(lab_dir: Path, name: str) -> list[int]:
    """Pids of everything of server *name* that runs (its cgroup and its namespace)."""
    data = _server(lab_dir, name)
    group = _cgroup(data)
    pids = set(power.netns_members(str(data["ns"])))
    if group is not None:
        pids.update(power.members(group))
    return sorted(p for p in pids if state.process_alive(p))


def crash(lab_dir: Path, name: str) -> None:
    """Power cut: SIGKILL everything of the server at once (its daemon and every
    process it started: the cgroup's ``cgroup.kill``, then its namespace swept).

    190904 when nothing of the server runs; 190905 when something survives 10 s.
    """
    data = _server(lab_dir, name)
    with state.locked(lab_dir) as st:
        rec = st.find_process("daemon", name)
        if (rec is None or not rec.alive()) and not _running(lab_dir, name):
            raise LabError(render("190904", server=name))
        left = power.power_cut(_cgroup(data), str(data["ns"]), POWER_CUT_TIMEOUT)
        for p in [p for p in st.processes if p.kind == "daemon" and p.name == name]:
            st.forget_process(p.pid)
    if left:
        raise LabError(
            render("190905", server=name, seconds=POWER_CUT_TIMEOUT, pids=" ".join(map(str, left)))
        )


def restart(lab_dir: Path, name: str) -> None:
    """Power the server on again: a power cut first if anything of it still runs
    (a second daemon never starts beside a first), then its daemon."""
    if _running(lab_dir, name):
        crash(lab_dir, name)
    start_daemon(lab_dir, name)


def _link(lab_dir: Path, name: str, net: str) -> str:
    links: Mapping[str, str] = _server(lab_dir, name)["host_links"]
    if net not in links:
        raise LabError(f"{name} has no link on {net} (networks: {', '.join(sorted(links))})")
    return links[net]


def set_link(lab_dir: Path, name: str, net: str, up_: bool) -> None:
    r = subprocess.run(
        ["ip", "link", "set", _link(lab_dir, name, net), "up" if up_ else "down"],
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )
    if r.returncode != 0:
        raise LabError(r.stderr.strip())


def info(lab_dir: Path) -> dict[str, Any]:
    st = state.load(lab_dir)
    servers = {}
    for name, data in st.info.get("servers", {}).items():
        rec = st.find_process("daemon", name)
        running = bool(rec and rec.alive())
        servers[name] = {
            **data,
            "daemon_pid": rec.pid if rec and running else None,
            "daemon_running": running,
        }
    return {"backend": BACKEND, "lab_dir": str(lab_dir), "servers": servers, "note": NO_NFS}


def down(lab_dir: Path) -> state.LabState:
    """Cut every server's power (no application outlives the lab), then remove
    everything the state file records and the servers' cgroups."""
    st = state.load(lab_dir)
    groups = []
    for data in st.info.get("servers", {}).values():
        group = _cgroup(data)
        if group is not None:
            groups.append(group)
        power.power_cut(group, str(data["ns"]), POWER_CUT_TIMEOUT)
    removed = state.teardown(lab_dir)
    for group in groups:
        power.remove_cgroup(group)
    return removed


__all__ = [
    "NO_NFS",
    "crash",
    "down",
    "env",
    "exec_",
    "info",
    "is_netns_lab",
    "restart",
    "set_link",
    "start_daemon",
    "up",
]
