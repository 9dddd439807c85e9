"""``standfast lab``: a test bed of real servers, comm-path networks and a NAS.

Registered in :mod:`standfast.cli.main` with ``cli.add_command(lab)``.  Every command
works from a new process: what a lab made is recorded in its directory (default
/run/standfast-lab, ``--lab-dir`` or STANDFAST_LAB_DIR).
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, NoReturn, ParamSpec, TypeVar

import click

from standfast.lab.defaults import DEFAULT_CACHE_DIR, DEFAULT_LAB_DIR

_TRY = "standfast lab exec server1 -- standfast status"
P = ParamSpec("P")
R = TypeVar("R")

_PASS_THROUGH = {"ignore_unknown_options": True, "allow_interspersed_args": False}


class LabSettings:
    def __init__(self, lab_dir: Path, cache_dir: Path) -> None:
        self.lab_dir = lab_dir
        self.cache_dir = cache_dir


def _fail(text: str, code: int = 1) -> NoReturn:
    click.echo(f"standfast lab: {text}", err=True)
    sys.exit(code)


def _netns(settings: LabSettings) -> bool:
    from standfast.lab.netns_lab import is_netns_lab

    return is_netns_lab(settings.lab_dir)


def _vm(settings: LabSettings) -> Any:
    from standfast.lab.vmlab import VmLab

    return VmLab(settings.lab_dir, settings.cache_dir)


def _guarded(fn: Callable[P, R]) -> Callable[P, R]:
    """Lab errors end the command with one line and status 1 (no traceback)."""

    @wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        from standfast.lab.cluster_vm import ClusterError
        from standfast.lab.image import SetupError
        from standfast.lab.nas import NasError
        from standfast.lab.vm import GuestError
        from standfast.lab.vmlab import LabError

        try:
            return fn(*args, **kwargs)
        except (ClusterError, SetupError, NasError, GuestError, LabError, ValueError) as exc:
            _fail(str(exc))
        except TimeoutError as exc:
            _fail(f"timed out: {exc}")

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--lab-dir",
    type=click.Path(path_type=Path),
    default=DEFAULT_LAB_DIR,
    show_default=True,
    envvar="STANDFAST_LAB_DIR",
    help="Where the lab records what it made (state, logs, consoles).",
)
@click.option(
    "--cache-dir",
    type=click.Path(path_type=Path),
    default=DEFAULT_CACHE_DIR,
    show_default=True,
    envvar="STANDFAST_LAB_CACHE",
    help="Guest kernel and initramfs cache.",
)
@click.pass_context
def lab(ctx: click.Context, lab_dir: Path, cache_dir: Path) -> None:
    """A lab: Linux servers under qemu with a real NFS NAS (vm), or network namespaces
    on this machine (netns).

    \b
    Faults, and what each does:
      crash SERVER     power cut. vm: SIGKILL of the server's qemu (the whole
                       machine, its daemon and applications, stops at once).
                       netns: SIGKILL of everything of the server at once (its
                       cgroup: the daemon and every process it started).
      restart SERVER   power on: a running server is cut first, then it boots
                       (vm; its daemon rejoins) or its daemon starts (netns).
      cut SERVER NET   the server loses one network (its link goes down on the
                       host); heal SERVER NET gives it back.
      hang-nas         SIGSTOP of the NAS: every NFS call blocks (vm only);
                       resume-nas ends it.
      stop-nas         the NAS's NFS service is gone, not hung (vm only);
                       start-nas brings it back.
    """
    ctx.obj = LabSettings(lab_dir, cache_dir)


pass_lab = click.make_pass_decorator(LabSettings)


@lab.command()
@click.option("--no-install", is_flag=True, help="Do not apt-get install missing packages.")
@pass_lab
@_guarded
def setup(settings: LabSettings, no_install: bool) -> None:
    """Install the packages and build the guest image (idempotent, cached)."""
    image = _vm(settings).setup(install=not no_install)
    click.echo(f"lab image ready: kernel {image.version} in {settings.cache_dir}")


@lab.command()
@click.option("--servers", type=click.IntRange(1, 20), default=2, show_default=True)
@click.option("--backend", type=click.Choice(["vm", "netns"]), default="vm", show_default=True)
@click.option("--no-cluster", is_flag=True, help="vm: boot the servers only, no daemons.")
@click.option("--json", "as_json", is_flag=True)
@pass_lab
@_guarded
def up(settings: LabSettings, servers: int, backend: str, no_cluster: bool, as_json: bool) -> None:
    """Start a lab: servers, networks (and for vm the NAS) and a formed cluster."""
    t0 = time.monotonic()
    if backend == "netns":
        from standfast.lab import netns_lab

        if not as_json:
            click.echo(netns_lab.NO_NFS)
        data = netns_lab.up(settings.lab_dir, servers)
        data["seconds"] = round(time.monotonic() - t0, 1)
        if as_json:
            click.echo(json.dumps(data, indent=2))
        else:
            for name, s in data["servers"].items():
                addrs = ", ".join(f"{n}={a}" for n, a in s["addresses"].items())
                click.echo(f"  {name}: namespace {s['ns']}, {addrs}, daemon {s['daemon_pid']}")
            click.echo(
                f"up in {data['seconds']} s; try: standfast lab exec server1 -- standfast status"
            )
        return
    from standfast.lab.cluster_vm import VmCluster

    vm = _vm(settings)
    info = vm.up(servers)
    formed = None
    if not no_cluster:
        try:
            formed = VmCluster(vm).form()
        except BaseException:
            vm.down()
            raise
    data = info.to_json()
    data["backend"] = "vm"
    data["cluster_formed_seconds"] = None if formed is None else round(formed, 1)
    data["seconds"] = round(time.monotonic() - t0, 1)
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    for name, s in info.servers.items():
        addrs = ", ".join(f"{n}={a}" for n, a in s.addresses.items())
        click.echo(f"  {name}: qemu pid {s.pid}, {addrs}")
    if info.nas is not None:
        click.echo(
            f"  NAS: {info.nas.address}:{info.nas.export_path} (NFSv3; v4 pseudo {info.nas.pseudo})"
        )
    if formed is not None:
        click.echo(f"  cluster formed in {formed:.1f} s")
    click.echo(f"up in {data['seconds']} s; try: {_TRY}")


@lab.command(name="exec", context_settings=_PASS_THROUGH)
@click.option("--timeout", type=float, default=600.0, show_default=True)
@click.argument("server")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@pass_lab
@_guarded
def exec_(settings: LabSettings, timeout: float, server: str, command: tuple[str, ...]) -> None:
    """Run COMMAND (argv, no shell) on SERVER; its output and exit status pass through.

    Example: standfast lab exec server2 -- standfast status
    """
    argv = list(command)
    if argv and argv[0] == "--":
        argv = argv[1:]
    if not argv:
        _fail("no command given")
    if _netns(settings):
        from standfast.lab import netns_lab

        r = netns_lab.exec_(settings.lab_dir, server, argv, timeout)
        sys.stdout.write(r.stdout)
        sys.stderr.write(r.stderr)
        sys.exit(r.returncode)
    vm = _vm(settings)
    bindir = str(Path(sys.executable).parent)
    res = vm.exec(
        server,
        argv,
        timeout,
        env={
            "PATH": f"{bindir}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "STANDFAST_SERVER": server,
            "LANG": "C.UTF-8",
            "COLUMNS": str(shutil.get_terminal_size((160, 40)).columns),
        },
    )
    sys.stdout.write(res.stdout)
    sys.stderr.write(res.stderr)
    if res.timed_out:
        click.echo(f"standfast lab: timed out after {timeout:g} s", err=True)
        sys.exit(124)
    sys.exit(res.returncode if res.returncode is not None else 1)


@lab.command()
@click.argument("server")
@pass_lab
@_guarded
def crash(settings: LabSettings, server: str) -> None:
    """Power cut: SIGKILL SERVER's qemu (netns: its daemon and every process it
    started, at once)."""
    if _netns(settings):
        from standfast.lab import netns_lab

        netns_lab.crash(settings.lab_dir, server)
    else:
        _vm(settings).crash(server)
    click.echo(f"{server} crashed at {time.time():.3f}")


@lab.command()
@click.argument("server")
@pass_lab
@_guarded
def restart(settings: LabSettings, server: str) -> None:
    """Boot a crashed or halted SERVER again and start its daemon (it rejoins); a
    server still running is power-cut first."""
    if _netns(settings):
        from standfast.lab import netns_lab

        netns_lab.restart(settings.lab_dir, server)
        click.echo(f"{server}: daemon restarted")
        return
    from standfast.lab.cluster_vm import ClusterError, VmCluster

    vm = _vm(settings)
    try:
        cluster = VmCluster.load(vm)
    except ClusterError:
        seconds = vm.restart(server)
        click.echo(f"{server} booted in {seconds:.1f} s (no cluster in this lab)")
        return
    seconds = cluster.restart_server(server)
    click.echo(f"{server} back in the cluster after {seconds:.1f} s")


def _nas_action(settings: LabSettings, action: str) -> None:
    if _netns(settings):
        from standfast.lab.netns_lab import NO_NFS

        _fail(f"no NAS in this lab: {NO_NFS}")
    vm = _vm(settings)
    getattr(vm, action)()
    click.echo(f"{action.replace('_', ' ')}: done")


@lab.command("hang-nas")
@pass_lab
@_guarded
def hang_nas(settings: LabSettings) -> None:
    """SIGSTOP the NAS: every NFS call in the servers blocks (a hung NAS)."""
    _nas_action(settings, "hang_nas")


@lab.command("resume-nas")
@pass_lab
@_guarded
def resume_nas(settings: LabSettings) -> None:
    """SIGCONT the NAS after hang-nas."""
    _nas_action(settings, "resume_nas")


@lab.command("stop-nas")
@pass_lab
@_guarded
def stop_nas(settings: LabSettings) -> None:
    """Stop the NAS (its NFS service is gone, not hung)."""
    _nas_action(settings, "stop_nas")


@lab.command("start-nas")
@pass_lab
@_guarded
def start_nas(settings: LabSettings) -> None:
    """Start the NAS again after stop-nas."""
    _nas_action(settings, "start_nas")


@lab.command()
@click.argument("server")
@click.argument("network")
@pass_lab
@_guarded
def cut(settings: LabSettings, server: str, network: str) -> None:
    """SERVER loses NETWORK (net1, net2, nas)."""
    _set_link(settings, server, network, up=False)
    click.echo(f"{server} cut from {network}")


@lab.command()
@click.argument("server")
@click.argument("network")
@pass_lab
@_guarded
def heal(settings: LabSettings, server: str, network: str) -> None:
    """SERVER gets NETWORK back."""
    _set_link(settings, server, network, up=True)
    click.echo(f"{server} back on {network}")


def _set_link(settings: LabSettings, server: str, network: str, *, up: bool) -> None:
    if _netns(settings):
        from standfast.lab import netns_lab

        netns_lab.set_link(settings.lab_dir, server, network, up)
    elif up:
        _vm(settings).heal(server, network)
    else:
        _vm(settings).cut(server, network)


@lab.command()
@click.option("--json", "as_json", is_flag=True)
@pass_lab
@_guarded
def status(settings: LabSettings, as_json: bool) -> None:
    """Servers (running, agent, networks, daemon, cluster view) and the NAS."""
    if _netns(settings):
        from standfast.lab import netns_lab

        data = netns_lab.info(settings.lab_dir)
        if as_json:
            click.echo(json.dumps(data, indent=2))
            return
        click.echo(data["note"])
        for name, s in data["servers"].items():
            run = "running" if s["daemon_running"] else "DOWN"
            click.echo(f"  {name}: namespace {s['ns']}, daemon {s['daemon_pid']} {run}")
        return
    from standfast.lab.cluster_vm import ClusterError, VmCluster
    from standfast.lab.vm import GuestError

    vm = _vm(settings)
    data = vm.status()
    if data.get("up"):
        try:
            cluster: VmCluster | None = VmCluster.load(vm)
        except ClusterError:
            cluster = None
        for name, s in data["servers"].items():
            s["daemon"] = None
            if cluster is not None and s["agent"]:
                s["daemon_pid"] = cluster.daemon_pid(name)
                try:
                    st = cluster.status(name, timeout=5)
                    s["daemon"] = {
                        "alive": {
                            n: v.get("alive")
                            for n, v in st.get("cluster", {}).get("servers", {}).items()
                        },
                        "states": cluster.states(name),
                    }
                except (ClusterError, GuestError) as exc:
                    # A busy or rebooting guest is a state to show, not a failure.
                    s["daemon"] = {"error": str(exc)}
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    if not data.get("up"):
        click.echo(f"no lab is up in {settings.lab_dir}")
        return
    for name, s in data["servers"].items():
        nets = " ".join(f"{n}:{'up' if u else 'CUT'}" for n, u in s["networks"].items())
        run = "running" if s["running"] else "DOWN"
        line = f"  {name}: {run} (qemu {s['pid']}), agent {'ok' if s['agent'] else '-'}, {nets}"
        d = s.get("daemon")
        if isinstance(d, dict) and "alive" in d:
            sees = ", ".join(f"{n}={'alive' if a else 'dead'}" for n, a in d["alive"].items())
            states = ", ".join(f"{t}={v}" for t, v in d["states"].items()) or "no resources"
            line += f"\n      daemon: sees {sees}; {states}"
        elif isinstance(d, dict):
            line += f"\n      daemon: {d.get('error')}"
        click.echo(line)
    nas = data["nas"]
    nas_state = "paused (hung)" if nas["paused"] else "running" if nas["running"] else "STOPPED"
    click.echo(f"  NAS: {nas_state} (pid {nas['pid']})")


@lab.command()
@pass_lab
@_guarded
def down(settings: LabSettings) -> None:
    """Remove everything the lab made (guests or namespaces, NAS, links, bridges)."""
    if _netns(settings):
        from standfast.lab import netns_lab

        removed = netns_lab.down(settings.lab_dir)
    else:
        removed = _vm(settings).down()
    click.echo(
        f"lab down: {len(removed.processes)} processes, {len(removed.taps)} links, "
        f"{len(removed.bridges)} bridges, {len(removed.netns)} namespaces removed"
    )


@lab.command()
@click.option("--no-install", is_flag=True, help="Do not apt-get install missing packages.")
@pass_lab
@_guarded
def demo(settings: LabSettings, no_install: bool) -> None:
    """Two servers, a NAS, a writer on the NAS mount; crash server1, watch the failover."""
    from standfast.lab.demo import run_demo

    run_demo(
        settings.lab_dir,
        settings.cache_dir,
        say=lambda text: click.echo(text),
        install=not no_install,
    )


__all__ = ["lab"]
