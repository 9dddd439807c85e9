"""A Standfast cluster in the VM lab's guests.

:class:`VmCluster` sits on a running :class:`~standfast.lab.vmlab.VmLab`: it makes the
cluster definition and key with the real CLI on the host (in a temporary directory),
copies them into each guest's data directory (``/var/lib/standfast``) through the
control agent, writes the lab's tunables to ``/etc/default/standfast``, starts
``python -m standfast daemon --server serverN`` in every guest (output in
``/var/log/standfast-daemon.out``) and waits until every daemon answers and sees every
other server alive::

    lab = VmLab(lab_dir); lab.up(2)
    cluster = VmCluster(lab)
    cluster.form()
    cluster.cli("server1", "resource", "create", "--kit", "nas", "--id", "/mnt/data")
    cluster.wait_state("server2", "data-on-server1", "ISP", 60)

Guests keep their files on a tmpfs overlay, so a restarted guest comes back empty:
:meth:`VmCluster.restart_server` boots it again, puts the definition, key and
tunables back and starts its daemon; the daemon then fetches the configuration from
its peers (it sees a newer version in their heartbeats).

What this cluster is (definition, tunables, daemon pids) is kept in the lab's state
file (``info["cluster"]``) so a new process (``standfast lab ...``) finds it.

Paths in the guests are the host's: the root file system is shared, so the host's
virtual environment (``sys.executable``) and this package's helper scripts are
visible there under the same names.
"""

from __future__ import annotations

import json
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from standfast.lab import state
from standfast.lab.guest_ops import (
    DAEMON_OUT,
    GUEST_PYTHON,
    MOUNT_OPTIONS,
    ClusterError,
    GuestOps,
)
from standfast.lab.vm import ExecResult
from standfast.lab.vmlab import VmLab
from standfast.lab.writer_ledger import (
    WriterLine,
    WriterRun,
    parse_writer_log,
    writer_overlaps,
    writer_runs,
)

#: Where things live in a guest (the daemon's defaults: a guest is a real server).
DATA_DIR = "/var/lib/standfast"
DEFAULTS_FILE = "/etc/default/standfast"
NAS_WRITER = str(Path(__file__).with_name("nas_writer.py"))
#: Where each daemon serves the remote API and the web GUI (its default listener).
REMOTE_PORT = 7443

#: The lab's tunables: small NFS bounds so a hung NAS is found within seconds.
LAB_DEFAULTS: dict[str, str] = {
    "LKNFSTIMEOUT": "12",
    "LKNFSSYSCALLTO": "2",
    "LKNASERROR": "switch",
    "SF_NFS_RPC_TIMEOUT": "2",
    "SF_QUICKCHECK_INTERVAL": "2",
    "SF_UMOUNT_TERM_WAIT": "2",
}
# SF_HALT_COMMAND keeps its default (/sbin/poweroff --force --no-sync): poweroff(8)
# powers the guest off through the kernel without systemd, and qemu (-no-reboot) exits.

#: Heartbeats in TCG guests: a guest's CPU can be taken by a slow python import for
#: seconds, so the lab is a little more patient than the defaults (0.3 s x 5); the
#: cluster definition caps interval x miss count at 2.5 s.
LAB_HB_INTERVAL = 0.5
LAB_HB_MISS = 5


def render_defaults(values: Mapping[str, str]) -> str:
    """The defaults file: ``NAME=VALUE`` lines, values quoted for its parser."""
    lines = ["# Standfast lab tunables (written by standfast.lab.cluster_vm)"]
    for name, value in values.items():
        if not name.isidentifier():
            raise ValueError(f"bad tunable name {name!r}")
        lines.append(f"{name}={shlex.quote(value)}")
    return "\n".join(lines) + "\n"


@dataclass
class VmCluster(GuestOps):
    """See the module docstring."""

    lab: VmLab
    name: str = "lab"
    #: Networks carrying comm paths (the NAS network carries none by default).
    comm_networks: Sequence[str] = ("net1", "net2")
    defaults: dict[str, str] = field(default_factory=lambda: dict(LAB_DEFAULTS))
    interval: float = LAB_HB_INTERVAL
    miss_count: int = LAB_HB_MISS
    quorum: str = "majority"
    python: str = sys.executable
    #: Per-server tunables on top of :attr:`defaults` (see :meth:`set_tunables`).
    overrides: dict[str, dict[str, str]] = field(default_factory=dict)
    _definition: str = ""
    _key: str = ""

    # ------------------------------------------------------------------ persistence

    @classmethod
    def load(cls, lab: VmLab) -> VmCluster:
        """The cluster a former process formed in *lab* (from the state file)."""
        data = state.load(lab.lab_dir).info.get("cluster")
        if not data:
            raise ClusterError(f"no Standfast cluster recorded in {lab.lab_dir}")
        c = cls(
            lab,
            name=str(data["name"]),
            comm_networks=tuple(data["comm_networks"]),
            defaults=dict(data["defaults"]),
            interval=float(data["interval"]),
            miss_count=int(data["miss_count"]),
            quorum=str(data["quorum"]),
            python=str(data["python"]),
            overrides={k: dict(v) for k, v in data.get("overrides", {}).items()},
        )
        c._definition = str(data["definition"])
        c._key = str(data["key"])
        return c

    def _save(self) -> None:
        with state.locked(self.lab.lab_dir) as st:
            old = st.info.get("cluster") or {}
            st.info["cluster"] = {
                "name": self.name,
                "comm_networks": list(self.comm_networks),
                "defaults": dict(self.defaults),
                "interval": self.interval,
                "miss_count": self.miss_count,
                "quorum": self.quorum,
                "python": self.python,
                "overrides": self.overrides,
                "definition": self._definition,
                "key": self._key,
                "daemons": dict(old.get("daemons", {})),
            }

    def _set_daemon_pid(self, server: str, pid: int | None) -> None:
        with state.locked(self.lab.lab_dir) as st:
            cluster = st.info.setdefault("cluster", {})
            daemons = cluster.setdefault("daemons", {})
            if pid is None:
                daemons.pop(server, None)
            else:
                daemons[server] = pid

    def daemon_pid(self, server: str) -> int | None:
        data = state.load(self.lab.lab_dir).info.get("cluster") or {}
        pid = data.get("daemons", {}).get(server)
        return None if pid is None else int(pid)

    # ------------------------------------------------------------------ forming

    def make_definition(self) -> None:
        """Run the real ``standfast cluster init/add-server`` on the host (temp dir)."""
        info = self.lab.info()
        names = sorted(info.servers, key=lambda n: int(n.removeprefix("server") or 0))
        with tempfile.TemporaryDirectory(prefix="sflab-cluster-") as tmp:
            env = {"STANDFAST_HOME": tmp, "LANG": "C.UTF-8", "PATH": "/usr/bin:/bin"}

            def host_cli(*args: str) -> None:
                r = subprocess.run(
                    [sys.executable, "-m", "standfast", *args],
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=60,
                    check=False,
                )
                if r.returncode != 0:
                    raise ClusterError(f"standfast {' '.join(args)}: {r.stderr.strip()}")

            def addresses(server: str) -> list[str]:
                out: list[str] = []
                for net in self.comm_networks:
                    addr = info.servers[server].addresses.get(net)
                    if addr is None:
                        raise ClusterError(f"{server} has no address on {net}")
                    out += ["--address", f"{net}={addr}"]
                return out

            host_cli(
                "cluster",
                "init",
                self.name,
                "--server",
                names[0],
                "--quorum",
                self.quorum,
                "--interval",
                f"{self.interval:g}",
                "--miss-count",
                str(self.miss_count),
                *addresses(names[0]),
            )
            for other in names[1:]:
                host_cli("cluster", "add-server", other, *addresses(other))
            self._definition = (Path(tmp) / "lib" / "cluster.json").read_text()
            self._key = (Path(tmp) / "lib" / "cluster.key").read_text()

    def provision(self, server: str) -> None:
        """Definition, key (0600), tunables and the clock on one guest."""
        if not self._definition:
            raise ClusterError("no cluster definition yet (form() makes it)")
        self.sync_clock(server)
        self.write_file(server, f"{DATA_DIR}/cluster.json", self._definition, 0o644)
        self.write_file(server, f"{DATA_DIR}/cluster.key", self._key, 0o600)
        self.write_file(server, DEFAULTS_FILE, render_defaults(self.defaults_for(server)), 0o644)

    def defaults_for(self, server: str) -> dict[str, str]:
        """The tunables *server* runs with: the lab's, then its own overrides."""
        return {**self.defaults, **self.overrides.get(server, {})}

    def form(self, timeout: float = 180.0) -> float:
        """Provision every guest, start every daemon, wait for the cluster; seconds."""
        t0 = time.monotonic()
        self.make_definition()
        self._save()
        for server in self.servers():
            self.provision(server)
        for server in self.servers():
            self.start_daemon(server, wait=False)
        self.wait_formed(timeout)
        return time.monotonic() - t0

    # ------------------------------------------------------------------ daemons

    def start_daemon(self, server: str, *, wait: bool = True, timeout: float = 120.0) -> int:
        pid = self.lab.spawn(
            server,
            [self.python, "-m", "standfast", "daemon", "--server", server],
            DAEMON_OUT,
            env={"STANDFAST_SERVER": server, "LANG": "C.UTF-8"},
        )
        self._set_daemon_pid(server, pid)
        if wait:
            self.wait_answering(server, timeout)
        return pid

    def stop_daemon(self, server: str, timeout: float = 30.0) -> None:
        """SIGTERM the daemon (SIGKILL after *timeout*): a clean stop, which hands the
        server's hierarchies over to its peers first (engine/leave.py), except those
        in maintenance."""
        pid = self.daemon_pid(server)
        if pid is None:
            return
        guest = self.lab.guest(server)
        if guest.kill(pid, signal.SIGTERM):
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and self._pid_alive(server, pid):
                time.sleep(0.2)
            if self._pid_alive(server, pid):
                guest.kill(pid, signal.SIGKILL)
        self._set_daemon_pid(server, None)

    def _pid_alive(self, server: str, pid: int) -> bool:
        r = self.lab.exec(server, ["/bin/kill", "-0", str(pid)], timeout=10)
        if not r.ok:
            return False
        st = self.lab.exec(server, ["/bin/cat", f"/proc/{pid}/stat"], timeout=10).stdout
        return bool(st) and st.rsplit(")", 1)[-1].split()[:1] != ["Z"]

    def restart_daemon(self, server: str, timeout: float = 120.0) -> None:
        self.stop_daemon(server)
        self.start_daemon(server, wait=False)
        self.wait_formed(timeout, servers=[server])

    def set_tunables(self, values: Mapping[str, str], servers: Sequence[str] | None = None) -> None:
        """Change tunables for every server (or only *servers*: kept as their
        overrides), kept for later restarts too, and restart those daemons."""
        if servers is None:
            self.defaults.update(values)
        else:
            for server in servers:
                self.overrides.setdefault(server, {}).update(values)
        self._save()
        targets = list(servers or self.servers())
        for server in targets:
            self.write_file(server, DEFAULTS_FILE, render_defaults(self.defaults_for(server)))
            self.stop_daemon(server)
        for server in targets:
            self.start_daemon(server, wait=False)
        self.wait_formed(180.0, servers=targets)

    def clear_overrides(self, server: str) -> None:
        """Forget *server*'s own tunables (they apply from its next daemon start)."""
        self.overrides.pop(server, None)
        self._save()

    def set_overrides(self, server: str, values: Mapping[str, str]) -> None:
        """Tunables of *server* alone, from its next daemon start (or restart_server)."""
        self.overrides.setdefault(server, {}).update(values)
        self._save()

    def restart_server(self, server: str, timeout: float = 180.0) -> float:
        """Boot a crashed (or halted) guest again and bring its daemon back; seconds."""
        t0 = time.monotonic()
        self._set_daemon_pid(server, None)
        self.lab.restart(server, timeout)
        self.provision(server)
        self.start_daemon(server, wait=False)
        self.wait_formed(max(10.0, timeout - (time.monotonic() - t0)))
        return time.monotonic() - t0

    # ------------------------------------------------------------------ asking daemons

    def cli(self, server: str, *args: str, timeout: float = 180.0) -> ExecResult:
        """The real ``standfast`` CLI in the guest (about 3 s of imports there)."""
        return self.lab.exec(
            server,
            [self.python, "-m", "standfast", "--timeout", f"{timeout:g}", *args],
            timeout=timeout + 30.0,
            env={"STANDFAST_SERVER": server, "LANG": "C.UTF-8", "COLUMNS": "160"},
        )

    def cli_ok(self, server: str, *args: str, timeout: float = 180.0) -> ExecResult:
        r = self.cli(server, *args, timeout=timeout)
        if not r.ok:
            raise ClusterError(
                f"{server}: standfast {' '.join(args)} failed ({r.returncode}):\n"
                f"{r.stdout[-2000:]}\n{r.stderr[-2000:]}"
            )
        return r

    # ------------------------------------------------------------------ the web GUI

    def gui_url(self, server: str, network: str = "net1") -> str:
        """``https://ADDRESS:7443`` of *server*'s remote API and GUI on *network* (the
        host has an address on every lab network; the certificate is self-signed)."""
        address = self.lab.info().servers[server].addresses.get(network)
        if address is None:
            raise ClusterError(f"{server} has no address on {network}")
        return f"https://{address}:{REMOTE_PORT}"

    def create(self, server: str, *args: str) -> dict[str, Any]:
        """``standfast resource create ... --json``; the reply (transcript, notices,
        result); raises with the output on a refusal."""
        r = self.cli_ok(server, "resource", "create", *args, "--json")
        try:
            body = json.loads(r.stdout)
        except ValueError as exc:
            raise ClusterError(f"resource create: not JSON: {r.stdout[-500:]}") from exc
        if not isinstance(body, dict):
            raise ClusterError(f"resource create: unexpected reply {body!r}")
        return body

    def create_nas_hierarchy(
        self, server: str, mount_point: str = "/mnt/data", *, switchback: str = "intelligent"
    ) -> tuple[str, dict[str, Any]]:
        """``resource create --kit nas --id MOUNT_POINT``: (file system tag, reply)."""
        body = self.create(server, "--kit", "nas", "--id", mount_point, "--switchback", switchback)
        root = str(body.get("result", {}).get("root", ""))
        if not root:
            raise ClusterError(f"resource create gave no root tag: {body}")
        return root, body

    @staticmethod
    def writer_props(nas_file: str, name: str = "writer") -> list[str]:
        """``--prop`` arguments of an app resource running :mod:`nas_writer`."""
        props = []
        for action, verb in (("restore", "start"), ("remove", "stop"), ("quick_check", "check")):
            argv = [GUEST_PYTHON, "-I", NAS_WRITER, verb, nas_file, name]
            props += ["--prop", f"{action}={shlex.join(argv)}"]
        return props

    def create_writer(
        self,
        server: str,
        tag: str,
        nas_file: str,
        child: str,
        *,
        switchback: str = "intelligent",
    ) -> dict[str, Any]:
        """An app resource *tag* writing to *nas_file*, depending on *child*."""
        body = self.create(
            server,
            "--kit",
            "app",
            "--tag",
            tag,
            "--switchback",
            switchback,
            *self.writer_props(nas_file, tag),
        )
        self.cli_ok(server, "dependency", "create", "--parent", tag, "--child", child)
        return body


__all__ = [
    "LAB_DEFAULTS",
    "MOUNT_OPTIONS",
    "REMOTE_PORT",
    "ClusterError",
    "VmCluster",
    "WriterLine",
    "WriterRun",
    "parse_writer_log",
    "render_defaults",
    "writer_overlaps",
    "writer_runs",
]
