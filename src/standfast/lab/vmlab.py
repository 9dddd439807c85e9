"""The virtual-machine lab: N real Linux servers, comm-path networks and a NAS.

:class:`VmLab` is the programmatic face of ``standfast lab``::

    lab = VmLab(Path("/run/standfast-lab"), Path("/var/cache/standfast/lab"))
    lab.setup()                  # once per machine: packages, kernel, initramfs
    info = lab.up(2)             # server1, server2 on net1, net2 and nas + the NAS
    lab.exec("server1", ["mount", "-t", "nfs", "-o", "vers=3,hard",
                         f"{info.nas.address}:{info.nas.export_path}", "/mnt/data"])
    lab.cut("server1", "net1"); lab.heal("server1", "net1")
    lab.hang_nas(); lab.resume_nas(); lab.crash("server1")
    lab.down()                   # from this or any other process

Addressing: network number *i* (1-based, in the order given to :meth:`VmLab.up`) is
``{subnet_base}.{i}.0/24``; the host is ``.1`` on every bridge; the NAS (ganesha and
its own rpcbind, in network namespace ``sfnas`` joined to the ``nas`` bridge by a
veth pair) is ``.2`` on the ``nas`` network; server *k* is ``.{10 + k}``.  Bridges are
``sfbr-NETWORK``, TAPs ``sftK-NETWORK`` (names cut to 15 characters).

Everything made is recorded in the state file first (:mod:`standfast.lab.state`), so
:meth:`VmLab.down` from another process removes exactly that.
"""

from __future__ import annotations

import compileall
import contextlib
import os
import shutil
import signal
import sys
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import standfast
from standfast.lab import network, state
from standfast.lab.image import DEFAULT_CACHE_DIR, LabImage, load_image, setup, shares_for
from standfast.lab.nas import NasExport, NasServer
from standfast.lab.state import DEFAULT_LAB_DIR, LabState
from standfast.lab.vm import ExecResult, Guest, GuestError, Nic, Share, start_all

DEFAULT_NETWORKS: tuple[str, ...] = ("net1", "net2", "nas")
NAS_NETWORK = "nas"
NAS_PSEUDO = "/export/data"
NAS_EXPORT_ID = 1
#: The NAS runs in its own network namespace (its own rpcbind on port 111, apart from
#: anything on the host), joined to the NAS bridge by a veth pair.
NAS_NETNS = "sfnas"
NAS_VETH = "sfnas-h"
NAS_VETH_PEER = "sfnas-n"
#: Host part of the NAS's address on the ``nas`` network.
NAS_HOST = 2


class LabError(RuntimeError):
    """The lab cannot do what was asked (not up, already up, unknown server...)."""


@dataclass(frozen=True)
class NetworkInfo:
    name: str
    bridge: str
    subnet: str
    host_address: str


@dataclass(frozen=True)
class ServerInfo:
    name: str
    pid: int | None
    #: network name -> the server's address on it (no prefix length).
    addresses: dict[str, str]
    console_log: str


@dataclass(frozen=True)
class NasInfo:
    address: str
    #: What NFSv3 clients mount (ganesha serves the real directory path over v3).
    export_path: str
    #: The NFSv4 pseudo path of the same export.
    pseudo: str
    #: The exported directory on the host (same as export_path).
    host_dir: str
    pid: int | None


@dataclass(frozen=True)
class LabInfo:
    lab_dir: str
    networks: dict[str, NetworkInfo]
    servers: dict[str, ServerInfo]
    nas: NasInfo | None
    #: Seconds from starting qemu to the agent's first answer, per server.
    boot_seconds: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _short(name: str) -> str:
    return name[: network.MAX_NAME]


def compile_package() -> None:
    """Byte-compile this package where it lies, so the guests (which read it through
    the read-only root share) import it without compiling it under emulation first.
    Cheap when up to date; skipped where the tree is not writable."""
    package = Path(standfast.__file__).resolve().parent
    with contextlib.suppress(OSError):
        compileall.compile_dir(package, quiet=2, workers=1)


def environment_shares() -> list[Share]:
    """9p shares that let the guests run this Python environment and this package
    at the paths they have here: none when the guests' view of the host's root shows
    them; a checkout and its .venv under /tmp (which every guest covers with its own
    tmpfs) is shared explicitly.  SetupError (190903) for a path no share can show."""
    package_root = Path(standfast.__file__).resolve().parent.parent
    dirs = shares_for([Path(sys.prefix), package_root])
    return [Share(f"sfshare{i}", d) for i, d in enumerate(dirs)]


class VmLab:
    """See the module docstring.  Methods are safe to call from a fresh process."""

    def __init__(
        self,
        lab_dir: Path = DEFAULT_LAB_DIR,
        cache_dir: Path = DEFAULT_CACHE_DIR,
        *,
        subnet_base: str = "10.231",
        memory_mb: int = 512,
    ) -> None:
        self.lab_dir = Path(lab_dir)
        self.cache_dir = Path(cache_dir)
        self.subnet_base = subnet_base
        self.memory_mb = memory_mb
        self._guests: dict[str, Guest] = {}
        self._nas: NasServer | None = None

    # ------------------------------------------------------------------ setup

    def setup(self, *, install: bool = True, timeout: float = 900.0) -> LabImage:
        """Install packages and build the guest image (idempotent, cached)."""
        return setup(self.cache_dir, install=install, timeout=timeout)

    # ------------------------------------------------------------------ naming

    def bridge_name(self, net: str) -> str:
        return _short(f"sfbr-{net}")

    def tap_name(self, server_no: int, net: str) -> str:
        return _short(f"sft{server_no}-{net}")

    def _net_address(self, index: int, host: int) -> str:
        return f"{self.subnet_base}.{index}.{host}"

    # ------------------------------------------------------------------ up

    def up(
        self,
        servers: int,
        networks: Sequence[str] = DEFAULT_NETWORKS,
        *,
        timeout: float = 180.0,
    ) -> LabInfo:
        """Create the bridges, TAPs and NAS, boot *servers* guests in parallel."""
        if not 1 <= servers <= 50:
            raise ValueError("servers must be 1-50")
        if len(set(networks)) != len(networks) or not networks:
            raise ValueError(f"bad network list {networks!r}")
        for net in networks:
            if not net.replace("-", "").isalnum():
                raise ValueError(f"bad network name {net!r}")
        image = load_image(self.cache_dir)
        shares = environment_shares()
        compile_package()
        with state.locked(self.lab_dir) as st:
            if any(p.alive() for p in st.processes) or any(
                network.link_exists(n) for n in [*st.taps, *st.bridges]
            ):
                raise LabError(f"a lab is already up in {self.lab_dir} (run down first)")
            st.bridges, st.taps, st.processes, st.info = [], [], [], {}
        try:
            return self._up(image, servers, list(networks), timeout, shares)
        except BaseException:
            with contextlib.suppress(Exception):
                self.down()
            raise

    def _up(
        self,
        image: LabImage,
        servers: int,
        networks: list[str],
        timeout: float,
        shares: Sequence[Share] = (),
    ) -> LabInfo:
        nets: dict[str, NetworkInfo] = {}
        for i, net in enumerate(networks, start=1):
            bridge = self.bridge_name(net)
            for other in nets.values():
                if other.bridge == bridge:
                    raise ValueError(f"networks {net} and {other.name} give one bridge name")
            if network.link_exists(bridge):
                raise LabError(f"{bridge} exists but this lab did not make it")
            with state.locked(self.lab_dir) as st:
                st.add_bridge(bridge)
            network.create_bridge(bridge, f"{self._net_address(i, 1)}/24")
            nets[net] = NetworkInfo(
                net, bridge, f"{self._net_address(i, 0)}/24", self._net_address(i, 1)
            )
        guests: list[Guest] = []
        for k in range(1, servers + 1):
            nics: list[Nic] = []
            for i, net in enumerate(networks, start=1):
                tap = self.tap_name(k, net)
                if network.link_exists(tap):
                    raise LabError(f"{tap} exists but this lab did not make it")
                with state.locked(self.lab_dir) as st:
                    st.add_tap(tap)
                network.create_tap(tap, nets[net].bridge)
                mac = f"52:54:00:23:{i:02x}:{k:02x}"
                nics.append(
                    Nic(net, nets[net].bridge, tap, mac, f"{self._net_address(i, 10 + k)}/24")
                )
            guests.append(
                Guest(
                    f"server{k}",
                    image,
                    nics,
                    self.lab_dir / "servers",
                    self.memory_mb,
                    shares=tuple(shares),
                )
            )
        nas_info: NasInfo | None = None
        if NAS_NETWORK in nets:
            index = networks.index(NAS_NETWORK) + 1
            nas_address = self._net_address(index, NAS_HOST)
            self._make_nas_netns(nets[NAS_NETWORK].bridge, nas_address)
            # A new lab starts with an empty export: data of an earlier lab (a writer's
            # log, say) would only mislead.
            shutil.rmtree(self.lab_dir / "nas" / "export", ignore_errors=True)
            self._start_nas(nas_address)
            nas_info = self._nas_info()
        with state.locked(self.lab_dir) as st:
            st.info = {
                "networks": {n: asdict(v) for n, v in nets.items()},
                "servers": {},
                "nas": None if nas_info is None else asdict(nas_info),
                "image": str(self.cache_dir),
            }
        # Start all guests, recording each pid at once, then wait for all agents.
        self._guests = {g.name: g for g in guests}
        boot = start_all(guests, timeout, on_start=self._record_guest)
        return self._info(boot)

    def _record_guest(self, guest: Guest) -> None:
        assert guest.pid is not None
        with state.locked(self.lab_dir) as st:
            st.add_process(guest.pid, "qemu", guest.name)
            st.info.setdefault("servers", {})[guest.name] = {
                "pid": guest.pid,
                "start_time": guest.start_time,
                "run_dir": str(guest.run_dir),
                "memory_mb": guest.memory_mb,
                "nics": [n.to_json() for n in guest.nics],
                "ports": guest.ports,
                "shares": [sh.to_json() for sh in guest.shares],
            }

    # ------------------------------------------------------------------ NAS

    def _nas_server(self, address: str) -> NasServer:
        export_dir = self.lab_dir / "nas" / "export" / "data"
        return NasServer(
            self.lab_dir / "nas",
            [NasExport(export_dir, NAS_PSEUDO, export_id=NAS_EXPORT_ID)],
            bind_address=address,
        )

    def _make_nas_netns(self, bridge: str, address: str) -> None:
        for name in (NAS_NETNS,):
            if network.netns_exists(name):
                raise LabError(f"netns {name} exists but this lab did not make it")
        if network.link_exists(NAS_VETH):
            raise LabError(f"{NAS_VETH} exists but this lab did not make it")
        with state.locked(self.lab_dir) as st:
            st.add_netns(NAS_NETNS)
            st.add_tap(NAS_VETH)
        network.create_netns(NAS_NETNS)
        network.create_veth_into(NAS_VETH, NAS_VETH_PEER, NAS_NETNS, bridge, f"{address}/24")

    def _start_nas(self, address: str, timeout: float = 30.0) -> None:
        """Start ganesha (and its own rpcbind) inside the NAS network namespace."""
        nas = self._nas_server(address)
        network.run_in_netns(NAS_NETNS, lambda: nas.start(timeout), timeout + 15.0)
        self._nas = nas
        with state.locked(self.lab_dir) as st:
            if nas.pid is not None:
                st.add_process(nas.pid, "ganesha", "nas")
            rpcbind = getattr(nas, "_rpcbind", None)
            if nas.started_rpcbind and rpcbind is not None:
                st.add_process(int(rpcbind.pid), "rpcbind", "nas")
            if st.info.get("nas") is not None:
                st.info["nas"]["pid"] = nas.pid

    def _nas_info(self) -> NasInfo:
        assert self._nas is not None
        export = self._nas.exports[0]
        return NasInfo(
            address=self._nas.bind_address,
            export_path=str(export.path),
            pseudo=export.pseudo,
            host_dir=str(export.path),
            pid=self._nas.pid,
        )

    def _nas_record(self) -> state.ProcessRecord:
        st = state.load(self.lab_dir)
        rec = st.find_process("ganesha", "nas")
        if rec is None or not rec.alive():
            raise LabError("the NAS is not running")
        return rec

    def hang_nas(self) -> None:
        """SIGSTOP ganesha: every NFS call in the guests blocks (a hung NAS)."""
        os.kill(self._nas_record().pid, signal.SIGSTOP)

    def resume_nas(self) -> None:
        """SIGCONT ganesha after :meth:`hang_nas`."""
        os.kill(self._nas_record().pid, signal.SIGCONT)

    def stop_nas(self, timeout: float = 10.0) -> None:
        """Stop the NAS (ganesha and its rpcbind): NFS servers gone, not hung."""
        if self._nas is not None:
            nas, self._nas = self._nas, None
            network.run_in_netns(NAS_NETNS, lambda: nas.stop(timeout), timeout + 15.0)
        with state.locked(self.lab_dir) as st:
            for rec in [p for p in st.processes if p.name == "nas"]:
                state.stop_process(rec, timeout)
                st.forget_process(rec.pid)
            if st.info.get("nas") is not None:
                st.info["nas"]["pid"] = None

    def start_nas(self, timeout: float = 30.0) -> None:
        """Start the NAS again after :meth:`stop_nas`."""
        st = state.load(self.lab_dir)
        nas = st.info.get("nas")
        if nas is None:
            raise LabError("this lab has no NAS network")
        rec = st.find_process("ganesha", "nas")
        if rec is not None and rec.alive():
            raise LabError("the NAS is already running")
        self._start_nas(str(nas["address"]), timeout)

    def nas_paused(self) -> bool:
        rec = self._nas_record()
        try:
            stat = Path(f"/proc/{rec.pid}/stat").read_text()
        except OSError:
            return False
        return stat.rsplit(")", 1)[1].split()[0] in ("T", "t")

    # ------------------------------------------------------------------ servers

    def _info_state(self) -> LabState:
        st = state.load(self.lab_dir)
        if not st.info.get("servers"):
            raise LabError(f"no lab is up in {self.lab_dir}")
        return st

    def guest(self, server: str) -> Guest:
        """The :class:`Guest` for *server* (rebuilt from the state file if need be)."""
        if server in self._guests:
            return self._guests[server]
        st = self._info_state()
        data = st.info["servers"].get(server)
        if data is None:
            raise LabError(f"no server {server!r} in this lab")
        guest = Guest(
            server,
            load_image(Path(st.info.get("image", str(self.cache_dir)))),
            [Nic.from_json(n) for n in data["nics"]],
            Path(data["run_dir"]),
            int(data.get("memory_mb", self.memory_mb)),
            pid=data.get("pid"),
            start_time=data.get("start_time"),
            ports=int(data.get("ports", 1)),
            shares=tuple(Share.from_json(sh) for sh in data.get("shares", [])),
        )
        self._guests[server] = guest
        return guest

    def servers(self) -> list[str]:
        return sorted(self._info_state().info["servers"])

    def exec(
        self,
        server: str,
        argv: Sequence[str],
        timeout: float = 60.0,
        *,
        env: Mapping[str, str] | None = None,
        stdin: str | None = None,
    ) -> ExecResult:
        return self.guest(server).exec(argv, timeout, env=env, stdin=stdin)

    def spawn(
        self,
        server: str,
        argv: Sequence[str],
        log: str = "/dev/null",
        *,
        env: Mapping[str, str] | None = None,
    ) -> int:
        return self.guest(server).spawn(argv, log, env=env)

    def crash(self, server: str) -> None:
        """Power cut: SIGKILL the server's qemu."""
        guest = self.guest(server)
        guest.crash()
        with state.locked(self.lab_dir) as st:
            if guest.pid is not None:
                st.forget_process(guest.pid)

    def restart(self, server: str, timeout: float = 120.0) -> float:
        """Boot a crashed (or running: it is crashed first) server again; boot seconds.

        A running server's qemu is SIGKILLed and waited for (every thread gone, so its
        TAPs are free; 190902 after 10 s) before the new one starts.
        """
        guest = self.guest(server)
        if guest.running():
            self.crash(server)
        guest.pid = None
        guest.start()
        self._record_guest(guest)
        return guest.wait_ready(timeout)

    def _tap(self, server: str, net: str) -> str:
        try:
            return self.guest(server).nic(net).tap
        except KeyError as exc:
            raise LabError(str(exc)) from exc

    def cut(self, server: str, net: str) -> None:
        """*server* loses network *net* (its TAP goes down on the host)."""
        network.cut(self._tap(server, net))

    def heal(self, server: str, net: str) -> None:
        network.heal(self._tap(server, net))

    # ------------------------------------------------------------------ status / down

    def _info(self, boot: Mapping[str, float] | None = None) -> LabInfo:
        st = self._info_state()
        nets = {n: NetworkInfo(**v) for n, v in st.info["networks"].items()}
        servers: dict[str, ServerInfo] = {}
        for name, data in st.info["servers"].items():
            nics = [Nic.from_json(n) for n in data["nics"]]
            servers[name] = ServerInfo(
                name,
                data.get("pid"),
                {n.network: n.ip for n in nics},
                str(Path(data["run_dir"]) / f"{name}.console.log"),
            )
        nas = st.info.get("nas")
        return LabInfo(
            str(self.lab_dir),
            nets,
            servers,
            None if nas is None else NasInfo(**nas),
            dict(boot or {}),
        )

    def info(self) -> LabInfo:
        return self._info()

    def status(self, ping_timeout: float = 3.0) -> dict[str, Any]:
        """Per server: qemu alive, agent answering, each network up; NAS running/paused."""
        st = state.load(self.lab_dir)
        if not st.info.get("servers"):
            return {"up": False, "lab_dir": str(self.lab_dir)}
        out: dict[str, Any] = {"up": True, "lab_dir": str(self.lab_dir), "servers": {}}
        for name in sorted(st.info["servers"]):
            guest = self.guest(name)
            alive = guest.running()
            agent = False
            if alive:
                try:
                    guest.ping(ping_timeout)
                    agent = True
                except GuestError:
                    agent = False
            nets: dict[str, bool] = {}
            for nic in guest.nics:
                try:
                    nets[nic.network] = network.is_up(nic.tap)
                except network.NetworkError:
                    nets[nic.network] = False
            out["servers"][name] = {
                "pid": guest.pid,
                "running": alive,
                "agent": agent,
                "networks": nets,
            }
        rec = st.find_process("ganesha", "nas")
        running = rec is not None and rec.alive()
        out["nas"] = {
            "pid": rec.pid if rec is not None else None,
            "running": running,
            "paused": running and self.nas_paused(),
        }
        return out

    def down(self, timeout: float = 10.0) -> LabState:
        """Remove everything the state file records (guests, NAS, TAPs, bridges)."""
        for guest in self._guests.values():
            guest.close()
        if self._nas is not None:
            nas, self._nas = self._nas, None
            with contextlib.suppress(Exception):
                network.run_in_netns(NAS_NETNS, lambda: nas.stop(timeout), timeout + 15.0)
        for guest in self._guests.values():
            with contextlib.suppress(Exception):
                guest.crash(timeout)
        self._guests = {}
        return state.teardown(self.lab_dir, timeout)
