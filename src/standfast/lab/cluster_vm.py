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

import itertools
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
from standfast.lab.vm import ExecResult, GuestError
from standfast.lab.vmlab import LabError, VmLab

#: Where things live in a guest (the daemon's defaults: a guest is a real server).
DATA_DIR = "/var/lib/standfast"
DEFAULTS_FILE = "/etc/default/standfast"
SOCKET = "/run/standfast/standfast.sock"
LOG_FILE = "/var/log/standfast/standfast.log"
DAEMON_OUT = "/var/log/standfast-daemon.out"
#: Debian's python: stdlib-only helpers start fast in a guest with it.
GUEST_PYTHON = "/usr/bin/python3"
GUEST_API = str(Path(__file__).with_name("guest_api.py"))
NAS_WRITER = str(Path(__file__).with_name("nas_writer.py"))
#: How the lab mounts the NAS (``intr`` is accepted and ignored by today's kernels).
MOUNT_OPTIONS = "vers=3,hard,intr"
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
# SF_HALT_COMMAND keeps its default (systemctl poweroff --force --force): systemctl
# powers the guest off through the kernel without systemd, and qemu (-no-reboot) exits.

#: Heartbeats in TCG guests: a guest's CPU can be taken by a slow python import for
#: seconds, so the lab is a little more patient than the defaults (0.3 s x 5); the
#: cluster definition caps interval x miss count at 2.5 s.
LAB_HB_INTERVAL = 0.5
LAB_HB_MISS = 5

#: Writes a file atomically: argv = path, octal mode; the content on stdin.
_WRITE_FILE = (
    "import os, sys\n"
    "p, mode = sys.argv[1], int(sys.argv[2], 8)\n"
    "os.makedirs(os.path.dirname(p), exist_ok=True)\n"
    "data = sys.stdin.buffer.read()\n"
    "t = p + '.lab-tmp'\n"
    "fd = os.open(t, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)\n"
    "os.fchmod(fd, mode)\n"
    "os.write(fd, data)\n"
    "os.close(fd)\n"
    "os.replace(t, p)\n"
)
#: Sets the guest clock to argv[1] (the host's time, seconds since the epoch).
_SET_CLOCK = "import sys, time\ntime.clock_settime(time.CLOCK_REALTIME, float(sys.argv[1]))\n"


class ClusterError(RuntimeError):
    """The lab cluster could not be formed or driven."""


def render_defaults(values: Mapping[str, str]) -> str:
    """The defaults file: ``NAME=VALUE`` lines, values quoted for its parser."""
    lines = ["# Standfast lab tunables (written by standfast.lab.cluster_vm)"]
    for name, value in values.items():
        if not name.isidentifier():
            raise ValueError(f"bad tunable name {name!r}")
        lines.append(f"{name}={shlex.quote(value)}")
    return "\n".join(lines) + "\n"


@dataclass
class VmCluster:
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

    def servers(self) -> list[str]:
        return self.lab.servers()

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

    def write_file(self, server: str, path: str, content: str, mode: int = 0o644) -> None:
        r = self.lab.exec(
            server,
            [GUEST_PYTHON, "-I", "-c", _WRITE_FILE, path, f"{mode:o}"],
            timeout=30,
            stdin=content,
        )
        if not r.ok:
            raise ClusterError(f"{server}: cannot write {path}: {r.stderr.strip() or r}")

    def sync_clock(self, server: str) -> None:
        """Set the guest's clock to the host's (lines on the NAS carry guest times)."""
        t0 = time.time()
        r = self.lab.exec(server, [GUEST_PYTHON, "-I", "-c", _SET_CLOCK, f"{t0:.6f}"], timeout=20)
        if not r.ok:
            raise ClusterError(f"{server}: cannot set the clock: {r.stderr.strip()}")

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
        """SIGTERM the daemon (SIGKILL after *timeout*); its resources stay as they are."""
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

    def api(
        self, server: str, method: str, path: str, body: Any = None, timeout: float = 10.0
    ) -> tuple[int | None, Any]:
        """One API request in the guest (stdlib helper); (HTTP status or None, body)."""
        r = self.lab.exec(
            server,
            [GUEST_PYTHON, "-I", GUEST_API, method, path, SOCKET, f"{timeout:g}"],
            timeout=timeout + 10.0,
            stdin=None if body is None else json.dumps(body),
        )
        if r.timed_out or not r.stdout.strip():
            return None, r.stderr.strip() or "timed out"
        try:
            reply = json.loads(r.stdout)
        except ValueError:
            return None, r.stdout
        return reply.get("status"), reply.get("body", reply.get("error"))

    def status(self, server: str, timeout: float = 10.0) -> dict[str, Any]:
        code, body = self.api(server, "GET", "/v1/status", timeout=timeout)
        if code != 200 or not isinstance(body, dict):
            raise ClusterError(f"{server}: no status ({code}: {str(body)[:300]})")
        return body

    def states(self, server: str) -> dict[str, str]:
        """tag -> state of every resource of *server*, as its daemon reports them."""
        out: dict[str, str] = {}

        def walk(node: Mapping[str, Any]) -> None:
            out[str(node["tag"])] = str(node["state"])
            for child in node.get("children", []):
                walk(child)

        for root in self.status(server).get("hierarchies", []):
            walk(root)
        return out

    def events(self, server: str) -> list[dict[str, Any]]:
        code, body = self.api(server, "GET", "/v1/events", timeout=20)
        if code != 200 or not isinstance(body, list):
            raise ClusterError(f"{server}: no events ({code}: {str(body)[:300]})")
        return body

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

    def add_account(
        self, server: str, user: str, password: str, groups: Sequence[str] = ()
    ) -> None:
        """A local account in *server*'s guest for the GUI's PAM login, member of
        *groups* (made if missing: ``standfast-admin``, ``standfast-operator``...).
        The password goes to ``chpasswd`` on stdin, never on a command line. A guest
        keeps /etc on its tmpfs overlay: the account is gone after a restart."""
        for group in groups:
            if not self.lab.exec(server, ["/usr/bin/getent", "group", group], timeout=20).ok:
                r = self.lab.exec(server, ["/usr/sbin/groupadd", group], timeout=20)
                if not r.ok:
                    raise ClusterError(f"{server}: groupadd {group}: {r.stderr.strip() or r}")
        argv = ["/usr/sbin/useradd", "--no-create-home", "--shell", "/usr/sbin/nologin"]
        if groups:
            argv += ["--groups", ",".join(groups)]
        r = self.lab.exec(server, [*argv, user], timeout=20)
        if not r.ok:
            raise ClusterError(f"{server}: useradd {user}: {r.stderr.strip() or r}")
        r = self.lab.exec(server, ["/usr/sbin/chpasswd"], timeout=20, stdin=f"{user}:{password}\n")
        if not r.ok:
            raise ClusterError(f"{server}: chpasswd for {user}: {r.stderr.strip() or r}")

    # ------------------------------------------------------------------ waiting

    def wait_answering(self, server: str, timeout: float = 120.0) -> float:
        t0 = time.monotonic()
        deadline = t0 + timeout
        last: object = None
        while time.monotonic() < deadline:
            try:
                code, last = self.api(server, "GET", "/v1/status", timeout=5)
            except GuestError as exc:
                code, last = None, exc
            if code == 200:
                return time.monotonic() - t0
            time.sleep(0.5)
        raise ClusterError(f"{server}: daemon not answering after {timeout:.0f} s ({last})")

    def formed(self, server: str) -> bool:
        """*server*'s daemon answers and sees every server of the cluster alive."""
        try:
            st = self.status(server, timeout=5)
        except (ClusterError, GuestError):
            return False
        servers = st.get("cluster", {}).get("servers", {})
        return bool(servers) and all(s.get("alive") for s in servers.values())

    def wait_formed(self, timeout: float = 180.0, servers: Sequence[str] | None = None) -> float:
        """Until every daemon (or those of *servers*, and every running one) sees all alive."""
        t0 = time.monotonic()
        deadline = t0 + timeout
        names = list(servers) if servers else self.servers()
        pending = set(names)
        while time.monotonic() < deadline:
            pending = {s for s in pending if not self.formed(s)}
            if not pending:
                # Those we waited for see everyone; check the others once too.
                others = [s for s in self.servers() if s not in names]
                if all(self.formed(s) for s in others):
                    return time.monotonic() - t0
                pending = set(others)
            time.sleep(0.5)
        raise ClusterError(
            f"cluster not formed within {timeout:.0f} s (waiting for {sorted(pending)})\n"
            + self.logs(tail=40)
        )

    def wait_state(
        self, server: str, tag: str, wanted: str | Sequence[str], timeout: float = 60.0
    ) -> float:
        """Until *tag* on *server* is in state *wanted* (one or several); seconds waited."""
        want = {wanted} if isinstance(wanted, str) else set(wanted)
        t0 = time.monotonic()
        deadline = t0 + timeout
        seen: str | None = None
        while time.monotonic() < deadline:
            try:
                seen = self.states(server).get(tag)
            except (ClusterError, GuestError):
                seen = None
            if seen in want:
                return time.monotonic() - t0
            time.sleep(0.3)
        raise ClusterError(
            f"{tag} on {server} not {sorted(want)} within {timeout:.0f} s (last: {seen})"
        )

    def where(self, tag: str) -> list[str]:
        """Running servers whose copy of *tag* is in service (ISP/ISU)."""
        out = []
        for server in self.servers():
            if not self.lab.guest(server).running():
                continue
            try:
                if self.states(server).get(tag) in ("ISP", "ISU"):
                    out.append(server)
            except (ClusterError, GuestError):
                continue
        return out

    # ------------------------------------------------------------------ the NAS

    def nas_source(self, host: str | None = None) -> str:
        """``IP:/export`` (or ``HOST:/export``) of the lab NAS, as NFSv3 clients mount it."""
        nas = self.lab.info().nas
        if nas is None:
            raise ClusterError("this lab has no NAS")
        return f"{host or nas.address}:{nas.export_path}"

    def nas_host_path(self, name: str) -> Path:
        """A file of the export, seen from the host (outside the cluster)."""
        nas = self.lab.info().nas
        if nas is None:
            raise ClusterError("this lab has no NAS")
        return Path(nas.host_dir) / name

    def read_file(self, server: str, path: str, timeout: float = 20.0) -> str:
        r = self.lab.exec(server, ["/bin/cat", path], timeout=timeout)
        if not r.ok:
            raise ClusterError(f"{server}: cannot read {path}: {r.stderr.strip() or r}")
        return r.stdout

    def fstab(self, server: str) -> str:
        return self.read_file(server, "/etc/fstab")

    def add_fstab_line(self, server: str, line: str) -> None:
        text = self.fstab(server)
        if text and not text.endswith("\n"):
            text += "\n"
        self.write_file(server, "/etc/fstab", text + line.rstrip("\n") + "\n")

    def add_hosts_entry(self, server: str, name: str, address: str) -> None:
        text = self.read_file(server, "/etc/hosts")
        if text and not text.endswith("\n"):
            text += "\n"
        self.write_file(server, "/etc/hosts", f"{text}{address}\t{name}\n")

    def mount_nas(
        self,
        server: str,
        mount_point: str = "/mnt/data",
        *,
        host: str | None = None,
        options: str = MOUNT_OPTIONS,
        fstab: bool = True,
        timeout: float = 60.0,
    ) -> str:
        """Mount the NAS export on *server* (by IP, or by *host* name) as an
        administrator would, with an /etc/fstab line; returns the source mounted."""
        source = self.nas_source(host)
        r = self.lab.exec(server, ["/bin/mkdir", "-p", mount_point], timeout=20)
        if not r.ok:
            raise ClusterError(f"{server}: mkdir {mount_point}: {r.stderr.strip()}")
        r = self.lab.exec(
            server,
            ["/bin/mount", "-t", "nfs", "-o", options, source, mount_point],
            timeout=timeout,
        )
        if not r.ok:
            raise ClusterError(f"{server}: mount {source} {mount_point}: {r.stderr.strip() or r}")
        if fstab:
            self.add_fstab_line(server, f"{source} {mount_point} nfs {options} 0 0")
        return source

    def mounts(self, server: str) -> list[tuple[str, str, str]]:
        """(source, mount point, type) of every mount of *server* (/proc/mounts)."""
        out = []
        for line in self.read_file(server, "/proc/mounts").splitlines():
            parts = line.split()
            if len(parts) >= 3:
                out.append((parts[0], parts[1], parts[2]))
        return out

    def nfs_mounted(self, server: str, mount_point: str) -> str | None:
        """The NFS source mounted on *mount_point* of *server*, if any."""
        for source, mp, fstype in self.mounts(server):
            if mp == mount_point and fstype.startswith("nfs"):
                return source
        return None

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

    def writer_lines(self, name: str) -> list[WriterLine]:
        """The writer's file read on the host, straight from the NAS's export."""
        try:
            text = self.nas_host_path(name).read_text(errors="replace")
        except FileNotFoundError:
            return []
        return parse_writer_log(text)

    # ------------------------------------------------------------------ diagnostics

    def logs(self, tail: int = 80, servers: Sequence[str] | None = None) -> str:
        """The last lines of every daemon's log and output (for failure reports)."""
        out: list[str] = []
        for server in servers or self.servers():
            try:
                if not self.lab.guest(server).running():
                    out.append(f"--- {server}: not running")
                    continue
            except LabError as exc:
                out.append(f"--- {server}: {exc}")
                continue
            # The daemon logs to both; its output also holds any traceback.
            for path, lines in ((LOG_FILE, tail), (DAEMON_OUT, min(tail, 15))):
                try:
                    r = self.lab.exec(server, ["/usr/bin/tail", "-n", str(lines), path], timeout=15)
                    text = r.stdout if r.ok else r.stderr
                except GuestError as exc:
                    text = str(exc)
                out.append(f"--- {server}:{path}\n{text.rstrip()}")
        return "\n".join(out)


# ---------------------------------------------------------------------- the writer's file


@dataclass(frozen=True)
class WriterLine:
    ts: float
    server: str
    seq: int
    pid: int


def parse_writer_log(text: str) -> list[WriterLine]:
    """Lines of :mod:`standfast.lab.nas_writer`'s file, in file order (torn lines,
    such as the last line of a crashed writer, are skipped)."""
    out: list[WriterLine] = []
    for raw in text.splitlines():
        parts = raw.split()
        if len(parts) != 4:
            continue
        try:
            out.append(WriterLine(float(parts[0]), parts[1], int(parts[2]), int(parts[3])))
        except ValueError:
            continue
    return out


@dataclass(frozen=True)
class WriterRun:
    """A stretch of consecutive lines written by one server."""

    server: str
    first: float
    last: float
    lines: int


def writer_runs(lines: Sequence[WriterLine]) -> list[WriterRun]:
    runs: list[WriterRun] = []
    for line in lines:
        if runs and runs[-1].server == line.server:
            r = runs[-1]
            runs[-1] = WriterRun(r.server, min(r.first, line.ts), max(r.last, line.ts), r.lines + 1)
        else:
            runs.append(WriterRun(line.server, line.ts, line.ts, 1))
    return runs


def writer_overlaps(lines: Sequence[WriterLine], slack: float = 0.0) -> list[str]:
    """Evidence that the writer ran on two servers at once: consecutive runs whose
    times overlap (the later one starts before the earlier one's last line, beyond
    *slack* seconds of clock difference).  Interleaved writers show as many short
    runs that overlap."""
    runs = writer_runs(lines)
    found = []
    for a, b in itertools.pairwise(runs):
        if b.first + slack < a.last:
            found.append(
                f"{a.server} wrote until {a.last:.3f} but {b.server} already at {b.first:.3f}"
            )
    return found


__all__ = [
    "LAB_DEFAULTS",
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
