"""The lab's netns backend: several Standfast servers on this machine, each in its own
network namespace with a link on each of two bridges (two comm-path networks), driven
by the real CLI. Kernel NFS mounts are not available here (this kernel has no NFS
client): NAS hierarchies need the vm backend; app and ip hierarchies run here.

Everything made here (bridges, veths, namespaces, daemons) is recorded and removed by
``down()``; processes are stopped by their PID only.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

APP_CTL = Path(__file__).with_name("ledger_app.py")


def ip(*args: str, ns: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    argv = ["ip", *args] if ns is None else ["ip", "netns", "exec", ns, "ip", *args]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {r.stderr.strip()}")
    return r


@dataclass
class Server:
    name: str
    index: int
    ns: str
    home: Path
    addresses: dict[str, str]
    host_links: dict[str, str]  # network -> host-side veth name
    proc: subprocess.Popen[bytes] | None = None

    @property
    def socket(self) -> Path:
        return self.home / "run" / "standfast.sock"

    @property
    def log_file(self) -> Path:
        return self.home / "log" / "standfast.log"


@dataclass
class NetCluster:
    workdir: Path
    count: int = 3
    tag: str = "t"
    defaults: str = ""
    quorum: str = "majority"
    # Merged into the cluster definition before it is copied to every server.
    definition_extra: dict[str, Any] = field(default_factory=dict)
    # Servers that run another release: its source tree (a ``src`` directory), put
    # first on the path of that server's daemon and CLI (mixed-version clusters).
    sources: dict[str, Path] = field(default_factory=dict)
    servers: dict[str, Server] = field(default_factory=dict)
    witness_proc: subprocess.Popen[bytes] | None = None
    bridges: list[str] = field(default_factory=list)
    ledger: Path = field(init=False)

    def __post_init__(self) -> None:
        self.ledger = self.workdir / "ledger"
        self.prefix = f"sfc{self.tag}"

    # -- network ----------------------------------------------------------------------

    def up(self) -> NetCluster:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.ledger.touch()
        for net_no in (1, 2):
            br = f"{self.prefix}br{net_no}"
            ip("link", "add", br, "type", "bridge")
            self.bridges.append(br)
            ip("link", "set", br, "up")
        for i in range(1, self.count + 1):
            name = f"server{i}"
            ns = f"{self.prefix}-{name}"
            ip("netns", "add", ns)
            srv = Server(name, i, ns, self.workdir / name, {}, {})
            self.servers[name] = srv
            ip("link", "set", "lo", "up", ns=ns)
            for net_no in (1, 2):
                host_end = f"{self.prefix}{i}n{net_no}"
                ip(
                    "link",
                    "add",
                    host_end,
                    "type",
                    "veth",
                    "peer",
                    "name",
                    f"eth{net_no}",
                    "netns",
                    ns,
                )
                ip("link", "set", host_end, "master", f"{self.prefix}br{net_no}")
                ip("link", "set", host_end, "up")
                addr = f"10.249.{net_no}.{10 + i}"
                ip("addr", "add", f"{addr}/24", "dev", f"eth{net_no}", ns=ns)
                ip("link", "set", f"eth{net_no}", "up", ns=ns)
                srv.addresses[f"net{net_no}"] = addr
                srv.host_links[f"net{net_no}"] = host_end
        self._write_definitions()
        return self

    def _write_definitions(self) -> None:
        first = self.servers["server1"]
        witness_mode = self.quorum in ("tcp_witness", "storage_witness", "etcd")
        if witness_mode:
            self.definition_extra.setdefault("quorum", self.quorum)
        args = [
            "cluster",
            "init",
            "lab",
            "--server",
            "server1",
            "--quorum",
            "none" if witness_mode else self.quorum,
        ]
        for net, addr in first.addresses.items():
            args += ["--address", f"{net}={addr}"]
        self.cli(first, *args)
        for srv in list(self.servers.values())[1:]:
            add = ["cluster", "add-server", srv.name]
            for net, addr in srv.addresses.items():
                add += ["--address", f"{net}={addr}"]
            self.cli(first, *add)
        data_dir = first.home / "lib"
        if self.definition_extra:
            path = data_dir / "cluster.json"
            data = json.loads(path.read_text())
            data.update(self.definition_extra)
            path.write_text(json.dumps(data))
        for srv in list(self.servers.values())[1:]:
            self.cli(
                srv,
                "cluster",
                "import",
                str(data_dir / "cluster.json"),
                "--key",
                str(data_dir / "cluster.key"),
            )

    @property
    def key_file(self) -> Path:
        return self.servers["server1"].home / "lib" / "cluster.key"

    def host_address(self, net_no: int = 1) -> str:
        """An address for this host on a test bridge (for a witness outside the servers)."""
        addr = f"10.249.{net_no}.1"
        br = f"{self.prefix}br{net_no}"
        if addr not in ip("-o", "addr", "show", "dev", br).stdout:
            ip("addr", "add", f"{addr}/24", "dev", br)
        return addr

    def start_witness(self, port: int = 7802, grant_ttl: float = 3.0) -> None:
        addr = self.host_address(1)
        self.witness_proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "standfast",
                "witness",
                "--listen",
                addr,
                "--port",
                str(port),
                "--key-file",
                str(self.key_file),
                "--grant-ttl",
                str(grant_ttl),
            ],
            stdout=open(self.workdir / "witness.out", "ab"),  # noqa: SIM115
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if "listening" in (self.workdir / "witness.out").read_text():
                return
            time.sleep(0.05)
        raise TimeoutError("witness did not start")

    def stop_witness(self) -> None:
        if self.witness_proc is not None and self.witness_proc.poll() is None:
            self.witness_proc.send_signal(signal.SIGCONT)
            self.witness_proc.terminate()
            try:
                self.witness_proc.wait(10)
            except subprocess.TimeoutExpired:
                self.witness_proc.kill()
                self.witness_proc.wait(5)

    def cut(self, server: str, net: str) -> None:
        ip("link", "set", self.servers[server].host_links[net], "down")

    def heal(self, server: str, net: str) -> None:
        ip("link", "set", self.servers[server].host_links[net], "up")

    def block(self, server: str, addresses: list[str], cut: bool = True) -> None:
        """Blackhole routes in ``server``'s namespace to ``addresses`` (or remove them):
        a cut from some hosts only, with every link up."""
        ns = self.servers[server].ns
        for addr in addresses:
            ip("route", "add" if cut else "del", "blackhole", f"{addr}/32", ns=ns, check=cut)

    def isolate(self, server: str, cut: bool = True) -> None:
        """Cut ``server`` off every other server, both ways (blackhole routes on each
        side), its links up: it still reaches the hosts outside the cluster."""
        mine = list(self.servers[server].addresses.values())
        for name, other in self.servers.items():
            if name != server:
                self.block(server, list(other.addresses.values()), cut)
                self.block(name, mine, cut)

    def down(self) -> None:
        self.stop_witness()
        # Every daemon is told at once: each stopping daemon hands its hierarchies over
        # (engine/leave.py), and one stopped after another would pass them down the line.
        running = [s for s in self.servers.values() if s.proc is not None and s.proc.poll() is None]
        for srv in running:
            assert srv.proc is not None
            srv.proc.send_signal(signal.SIGCONT)
            srv.proc.send_signal(signal.SIGTERM)
        for srv in running:
            self.stop(srv.name)
        for srv in self.servers.values():
            for link in srv.host_links.values():
                ip("link", "del", link, check=False)
            ip("netns", "del", srv.ns, check=False)
        for br in self.bridges:
            ip("link", "del", br, check=False)

    # -- daemons ------------------------------------------------------------------

    def env(self, srv: Server) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            STANDFAST_HOME=str(srv.home),
            STANDFAST_SERVER=srv.name,
            STANDFAST_FSTAB=str(srv.home / "fstab"),
            LANG="C.UTF-8",
            COLUMNS="200",
        )
        env.pop("STANDFAST_DEFAULTS", None)
        if srv.name in self.sources:
            env["PYTHONPATH"] = str(self.sources[srv.name])
        return env

    def start(self, server: str, timeout: float = 20.0) -> None:
        srv = self.servers[server]
        srv.home.mkdir(parents=True, exist_ok=True)
        (srv.home / "defaults").write_text(self.defaults)
        srv.proc = subprocess.Popen(
            ["ip", "netns", "exec", srv.ns, sys.executable, "-m", "standfast", "daemon"],
            env=self.env(srv),
            stdout=open(srv.home / "daemon.out", "ab"),  # noqa: SIM115
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if srv.proc.poll() is not None:
                raise RuntimeError((srv.home / "daemon.out").read_text()[-3000:])
            try:
                self.api(server, "GET", "/v1/status", timeout=2)
                return
            except (httpx.TransportError, OSError):
                time.sleep(0.05)
        raise TimeoutError(f"{server} did not start")

    def start_all(self) -> None:
        for name in self.servers:
            self.start(name)

    def crash(self, server: str) -> None:
        srv = self.servers[server]
        if srv.proc is not None and srv.proc.poll() is None:
            srv.proc.send_signal(signal.SIGKILL)
            srv.proc.wait(10)

    def settle_seconds(self) -> float:
        """How long daemons need after start to have heard each other (default tunables
        plus a margin)."""
        return 0.3 * 5 + 2 * 0.3 + 0.5

    def pid(self, server: str) -> int:
        proc = self.servers[server].proc
        assert proc is not None
        return proc.pid

    def hang(self, server: str) -> None:
        proc = self.servers[server].proc
        assert proc is not None
        proc.send_signal(signal.SIGSTOP)

    def unhang(self, server: str) -> None:
        proc = self.servers[server].proc
        assert proc is not None
        proc.send_signal(signal.SIGCONT)

    def stop(self, server: str) -> None:
        """SIGTERM ``server``'s daemon (a clean stop: it hands its hierarchies over
        first) and wait for it to exit; SIGKILL after 15 s."""
        srv = self.servers[server]
        if srv.proc is None or srv.proc.poll() is not None:
            return
        srv.proc.send_signal(signal.SIGCONT)
        srv.proc.send_signal(signal.SIGTERM)
        try:
            srv.proc.wait(15)
        except subprocess.TimeoutExpired:
            srv.proc.kill()
            srv.proc.wait(5)

    # -- talking to servers ---------------------------------------------------------

    def cli(
        self,
        server: str | Server,
        *args: str,
        check: bool = True,
        timeout: float = 120,
        in_ns: bool = False,
    ) -> subprocess.CompletedProcess[str]:
        """The CLI on this host (through the server's socket), or with ``in_ns`` inside
        the server's namespace (for what the CLI reaches itself: ``cluster check``)."""
        srv = self.servers[server] if isinstance(server, str) else server
        netns = ["ip", "netns", "exec", srv.ns] if in_ns else []
        r = subprocess.run(
            [*netns, sys.executable, "-m", "standfast", *args],
            env=self.env(srv),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and r.returncode != 0:
            raise AssertionError(f"{srv.name}: standfast {' '.join(args)}: {r.stderr}")
        return r

    def api(
        self, server: str, method: str, path: str, body: Any = None, timeout: float = 10
    ) -> Any:
        transport = httpx.HTTPTransport(uds=str(self.servers[server].socket))
        with httpx.Client(transport=transport, base_url="http://sf", timeout=timeout) as c:
            return c.request(method, path, json=body).json()

    def states(self, server: str) -> dict[str, str]:
        out: dict[str, str] = {}

        def walk(n: Mapping[str, Any]) -> None:
            out[n["tag"]] = n["state"]
            for ch in n["children"]:
                walk(ch)

        for h in self.api(server, "GET", "/v1/status")["hierarchies"]:
            walk(h)
        return out

    def running(self) -> list[str]:
        return [n for n, s in self.servers.items() if s.proc is not None and s.proc.poll() is None]

    def where(self, tag: str) -> list[str]:
        """Servers (with a live daemon) whose copy of ``tag`` is in service."""
        out = []
        for name in self.running():
            try:
                if self.states(name).get(tag) in ("ISP", "ISU"):
                    out.append(name)
            except (httpx.HTTPError, OSError):
                continue
        return out

    def wait_for(self, tag: str, server: str, timeout: float, state: str = "ISP") -> float:
        """Seconds until *tag* is in *state* on *server*; AssertionError after *timeout*."""
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            try:
                if self.states(server).get(tag) == state:
                    return time.monotonic() - start
            except (httpx.HTTPError, OSError):
                pass
            time.sleep(0.02)
        raise AssertionError(f"{tag} not {state} on {server} within {timeout}s")

    # -- the application and the observer -----------------------------------------------

    def app_props(self, name: str) -> list[str]:
        # The application's own start script; it learns its server from the
        # environment the app kit sets (STANDFAST_SERVER).
        script = self.workdir / f"{name}.ctl"
        script.write_text(
            "#!/bin/sh\n"
            f'exec {sys.executable} {APP_CTL} "$1" {self.ledger} "$STANDFAST_SERVER" {name}\n'
        )
        script.chmod(0o755)
        return [
            "--prop",
            f"restore={script} start",
            "--prop",
            f"remove={script} stop",
            "--prop",
            f"quick_check={script} check",
        ]

    def ledger_intervals(self, name: str) -> dict[str, list[tuple[float, float]]]:
        """From the application's own ledger: when it ran on which server."""
        open_at: dict[str, float] = {}
        out: dict[str, list[tuple[float, float]]] = {}
        for line in self.ledger.read_text().splitlines():
            ts, server, app, action = line.split()
            if app != name:
                continue
            if action == "start":
                open_at.setdefault(server, float(ts))
            elif server in open_at:
                out.setdefault(server, []).append((open_at.pop(server), float(ts)))
        for server, t0 in open_at.items():
            out.setdefault(server, []).append((t0, float("inf")))
        return out

    def overlaps(self, name: str, *, ignore: Mapping[str, float] | None = None) -> list[str]:
        """Moments the application ran on two servers at once. ``ignore`` gives, per
        server, the time it was crashed: a crashed server's application is dead from
        then on, whatever its ledger says."""
        ivals = self.ledger_intervals(name)
        flat = []
        for server, spans in ivals.items():
            for a, b in spans:
                if ignore and server in ignore:
                    b = min(b, ignore[server])
                flat.append((a, b, server))
        found = []
        for i, (a1, b1, s1) in enumerate(flat):
            for a2, b2, s2 in flat[i + 1 :]:
                if s1 != s2 and a1 < b2 and a2 < b1:
                    found.append(f"{s1} [{a1:.3f},{b1:.3f}] and {s2} [{a2:.3f},{b2:.3f}]")
        return found


@contextmanager
def net_cluster(workdir: Path, **kw: Any) -> Iterator[NetCluster]:
    c = NetCluster(workdir, **kw)
    try:
        c.up()
        yield c
    finally:
        c.down()


def dump(c: NetCluster) -> str:
    out = []
    for name, srv in c.servers.items():
        out.append(
            f"--- {name}\n"
            + (srv.log_file.read_text()[-4000:] if srv.log_file.exists() else "(no log)")
        )
    out.append("--- ledger\n" + c.ledger.read_text())
    return "\n".join(out)


__all__ = ["NetCluster", "dump", "net_cluster"]
