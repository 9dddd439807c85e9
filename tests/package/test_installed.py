"""The package installed with dpkg -i: run from /usr/bin, units, log rotation, the
daemon's systemd notifications, man pages, completion; then dpkg --purge, last.

Tests run in file order: the last one purges the package and checks the machine.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import select
import shlex
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from standfast.cli.main import cli
from tests.package.conftest import (
    OWNED,
    ROOT,
    Build,
    free_tcp_port,
    installed_version,
    named_standfast,
    run,
)
from tests.package.nspawn import BRIDGE, boot_pair, boot_probe
from tests.package.pair_gui import Account, look_at_unit

pytestmark = pytest.mark.root


UNITS = Path("/lib/systemd/system")
UNIT = "sf-demo.service"  # the application unit of systemd/
VENV = Path("/usr/lib/standfast/venv")
LOG = Path("/var/log/standfast/standfast.log")
#: Options that put a service in a mount namespace of its own, whose mounts then no
#: longer reach the host (systemd.exec(5), PrivateMounts= and MountFlags=), or in
#: another namespace that would hide the host's network, users or host name.
NAMESPACING = {
    "PrivateMounts", "PrivateTmp", "PrivateDevices", "PrivateNetwork", "PrivateUsers",
    "PrivateIPC", "ProtectSystem", "ProtectHome", "ProtectKernelTunables",
    "ProtectKernelModules", "ProtectKernelLogs", "ProtectControlGroups", "ProtectProc",
    "ProcSubset", "ProtectHostname", "ReadOnlyPaths", "ReadWritePaths", "InaccessiblePaths",
    "ExecPaths", "NoExecPaths", "BindPaths", "BindReadOnlyPaths", "TemporaryFileSystem",
    "MountAPIVFS", "RootDirectory", "RootImage", "NetworkNamespacePath", "DynamicUser",
    "MountFlags",
}  # fmt: skip
#: Options whose restriction every application the daemon starts would inherit.
INHERITED = {
    "NoNewPrivileges", "CapabilityBoundingSet", "SystemCallFilter", "RestrictAddressFamilies",
    "RestrictNamespaces", "MemoryDenyWriteExecute", "RestrictRealtime", "LockPersonality",
    "SystemCallArchitectures", "DeviceAllow", "DevicePolicy", "IPAddressDeny", "ProtectClock",
}  # fmt: skip


def unit(name: str) -> dict[str, list[str]]:
    """``Section.Key`` to its values, in order, continuation lines joined."""
    out: dict[str, list[str]] = {}
    section = ""
    text = re.sub(r"\\\n", " ", (UNITS / name).read_text())
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        out.setdefault(f"{section}.{key}", []).append(value)
    return out


def one(settings: dict[str, list[str]], key: str) -> str:
    (value,) = settings[key]
    return value


@pytest.fixture(scope="module", autouse=True)
def _installed(installed: Build) -> Build:
    return installed


def test_standfast_version_from_usr_bin(installed: Build) -> None:
    r = run(["/usr/bin/standfast", "--version"])
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"standfast, version {installed.version}"
    assert r.stderr == ""


def test_private_environment(installed: Build) -> None:
    assert Path("/usr/bin/standfast").resolve() == VENV / "bin/standfast"
    assert (VENV / "bin/standfast").read_text().splitlines()[0] == f"#!{VENV}/bin/python"
    cfg = (VENV / "pyvenv.cfg").read_text()
    assert "home = /usr/bin" in cfg
    assert "include-system-site-packages = false" in cfg
    assert (VENV / "bin/python").resolve().is_relative_to("/usr/bin")
    # postinst compiled the modules once (the package itself ships no bytecode).
    site = next(VENV.glob("lib/python3.*/site-packages"))
    assert list((site / "standfast/cli/__pycache__").glob("main.cpython-*.pyc"))
    # Every installed distribution is pinned by packaging/constraints.txt.
    pins = dict(
        line.split("==")
        for line in (ROOT / "packaging/constraints.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    )
    pins = {k.lower().replace("_", "-"): v for k, v in pins.items()}
    for dist in site.glob("*.dist-info"):
        name, version = dist.name.removesuffix(".dist-info").rsplit("-", 1)
        if name != "standfast":
            assert pins.get(name.lower().replace("_", "-")) == version, dist.name


def test_units_pass_systemd_analyze_verify(installed: Build) -> None:
    r = run(
        [
            "systemd-analyze",
            "verify",
            *(str(UNITS / u) for u in ("standfast.service", "standfast-witness.service")),
        ]
    )
    assert r.returncode == 0, r.stderr
    assert r.stderr.strip() == "", r.stderr


def test_daemon_unit_readiness_watchdog_restart(installed: Build) -> None:
    s = unit("standfast.service")
    assert one(s, "Service.Type") == "notify"
    assert one(s, "Service.NotifyAccess") == "main"
    assert one(s, "Service.ExecStart") == "/usr/bin/standfast daemon"
    assert one(s, "Service.EnvironmentFile") == "-/etc/default/standfast"
    watchdog = float(one(s, "Service.WatchdogSec").removesuffix("s"))
    assert 10 <= watchdog <= 120
    assert one(s, "Service.Restart") == "on-failure"
    assert one(s, "Service.KillMode") == "process"
    # A stop hands the hierarchies over first (SF_STOP_TIMEOUT, 60 s), then shuts down.
    assert float(one(s, "Service.TimeoutStopSec").removesuffix("s")) >= 60 + 17
    assert one(s, "Service.OOMPolicy") == "continue"
    assert one(s, "Install.WantedBy") == "multi-user.target"


def test_daemon_unit_keeps_mounts_and_children_unrestricted(installed: Build) -> None:
    """The daemon's NFS mounts must reach the host, and its applications run with it."""
    keys = {k.split(".", 1)[1] for k in unit("standfast.service")}
    assert not keys & NAMESPACING
    assert not keys & INHERITED


def test_witness_unit_is_sandboxed(installed: Build) -> None:
    s = unit("standfast-witness.service")
    assert one(s, "Service.ProtectSystem") == "strict"
    assert one(s, "Service.CapabilityBoundingSet") == ""
    assert one(s, "Service.NoNewPrivileges") == "yes"
    assert one(s, "Service.RestartPreventExitStatus") == "2"
    r = run(
        ["systemd-analyze", "security", "--offline=yes", str(UNITS / "standfast-witness.service")]
    )
    found = re.search(r"Overall exposure level for standfast-witness.service: ([\d.]+)", r.stdout)
    assert found, r.stdout + r.stderr
    assert float(found.group(1)) <= 2.5, r.stdout


def witness_argv(overrides: dict[str, str]) -> list[str]:
    """The witness unit's ExecStart as systemd expands it: Environment= first, then
    the defaults file (here ``overrides``, as an administrator would write it)."""
    s = unit("standfast-witness.service")
    env: dict[str, str] = {}
    for line in s["Service.Environment"]:
        env.update(word.split("=", 1) for word in shlex.split(line))  # type: ignore[misc]
    defaults = Path("/etc/default/standfast-witness").read_text()
    assert not [ln for ln in defaults.splitlines() if ln and not ln.startswith("#")]
    env.update(overrides)
    command = re.sub(r"\$\{(\w+)\}", lambda m: env[m.group(1)], one(s, "Service.ExecStart"))
    return command.split()


def test_the_witness_unit_s_command_serves(installed: Build, tmp_path: Path) -> None:
    key = tmp_path / "cluster.key"
    key.write_bytes(base64.b64encode(os.urandom(32)) + b"\n")
    key.chmod(0o600)
    port = free_tcp_port()
    argv = witness_argv(
        {
            "STANDFAST_WITNESS_LISTEN": "127.0.0.1",
            "STANDFAST_WITNESS_PORT": str(port),
            "STANDFAST_WITNESS_KEY_FILE": str(key),
        }
    )
    assert argv[:2] == ["/usr/bin/standfast", "witness"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 30)
        assert ready, "the witness did not start within 30 s"
        assert proc.stdout is not None
        assert proc.stdout.readline().split() == ["listening", "127.0.0.1", str(port)]
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=15)
    assert code == 0


def test_the_witness_without_its_key_exits_2(installed: Build, tmp_path: Path) -> None:
    """RestartPreventExitStatus=2: a missing key file is not retried."""
    argv = witness_argv(
        {
            "STANDFAST_WITNESS_PORT": str(free_tcp_port()),
            "STANDFAST_WITNESS_KEY_FILE": str(tmp_path / "absent"),
        }
    )
    r = run(argv, timeout=60)
    assert r.returncode == 2
    assert "cannot open cluster key file" in r.stderr


def test_defaults_conffile_parses_cleanly(installed: Build, tmp_path: Path) -> None:
    r = run(["/usr/bin/standfast", "tunables", "check", "--file", "/etc/default/standfast"])
    assert r.returncode == 0, r.stdout + r.stderr
    # Uncommented, the values it shows are the defaults and raise no message.
    text = Path("/etc/default/standfast").read_text()
    active = tmp_path / "defaults"
    active.write_text(re.sub(r"(?m)^#(?=[A-Z_]+=)", "", text))
    r = run(["/usr/bin/standfast", "tunables", "check", "--json", "--file", str(active)])
    assert r.returncode == 0, r.stdout + r.stderr
    report = json.loads(r.stdout)
    assert report["notices"] == []
    # Every tunable is in the file, and each uncommented one was read from it.
    tunables = set(report["values"])
    assert set(re.findall(r"(?m)^([A-Z_]+)=", active.read_text())) >= tunables
    assert set(report["sources"]) == tunables


def test_logrotate_debug_accepts_the_config(installed: Build) -> None:
    r = run(["logrotate", "-d", "/etc/logrotate.d/standfast"])
    assert r.returncode == 0, r.stderr
    assert "error" not in (r.stdout + r.stderr).lower()


class Notifications:
    """What a service manager would receive on NOTIFY_SOCKET."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.got: list[tuple[float, str]] = []

    def wait_for(self, prefix: str, timeout: float) -> float:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            self.sock.settimeout(max(end - time.monotonic(), 0.01))
            try:
                msg = self.sock.recv(4096).decode()
            except TimeoutError:
                break
            self.got.append((time.monotonic(), msg))
            if msg.startswith(prefix):
                return time.monotonic()
        raise AssertionError(f"no {prefix} within {timeout} s; got {self.got}")

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def daemon(
    tmp_path: Path,
) -> Iterator[tuple[subprocess.Popen[bytes], Notifications, dict[str, str]]]:
    """The installed daemon as systemd starts it: NOTIFY_SOCKET, a 1 s watchdog, the
    installed defaults file; its files under a temporary home, its log the real one."""
    home = tmp_path / "home"
    (home / "lib").mkdir(parents=True)
    (tmp_path / "fstab").write_text("")
    notes = Notifications(tmp_path / "notify.sock")
    env = {
        "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
        "STANDFAST_HOME": str(home),
        "STANDFAST_FSTAB": str(tmp_path / "fstab"),
        "STANDFAST_DEFAULTS": "/etc/default/standfast",
        "STANDFAST_LOG": str(LOG),
        "STANDFAST_REMOTE_LISTEN": "off",
        "STANDFAST_SERVER": "pkgtest",
        "NOTIFY_SOCKET": str(notes.path),
        "WATCHDOG_USEC": "1000000",
    }
    with (tmp_path / "stderr").open("wb") as err:
        proc = subprocess.Popen(["/usr/bin/standfast", "daemon"], env=env, stderr=err)
    try:
        yield proc, notes, env
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        notes.close()


def test_installed_daemon_ready_pets_stopping_and_log_rotation(
    daemon: tuple[subprocess.Popen[bytes], Notifications, dict[str, str]], tmp_path: Path
) -> None:
    proc, notes, env = daemon
    notes.wait_for("READY=1", timeout=60)
    # Ready means the API answers: the CLI gets the status at once.
    r = run(["/usr/bin/standfast", "--home", env["STANDFAST_HOME"], "status", "--json"])
    assert r.returncode == 0, r.stdout + r.stderr
    first_pet = notes.wait_for("WATCHDOG=1", timeout=5)
    time.sleep(1.5)
    notes.sock.settimeout(0.01)
    pets = []
    while True:
        try:
            pets.append(notes.sock.recv(4096).decode())
        except TimeoutError:
            break
    assert pets.count("WATCHDOG=1") >= 3, (first_pet, pets)

    # The installed logrotate file renames the daemon's open log (its postrotate's
    # systemctl reload finds no such service running here and is ignored); SIGHUP,
    # what that reload sends, makes the daemon reopen the file at once.
    state = tmp_path / "logrotate.state"
    r = run(["logrotate", "-f", "-s", str(state), "/etc/logrotate.d/standfast"])
    assert r.returncode == 0, r.stderr
    rotated = Path(f"{LOG}.1").read_text()
    assert "190208" in rotated and "190215" in rotated
    proc.send_signal(signal.SIGHUP)
    end = time.monotonic() + 10
    while not (LOG.exists() and b"196101" in LOG.read_bytes()) and time.monotonic() < end:
        time.sleep(0.05)
    assert LOG.read_text().startswith(tuple("0123456789")) and "196101" in LOG.read_text()
    assert "196101" not in Path(f"{LOG}.1").read_text()

    proc.send_signal(signal.SIGTERM)
    notes.wait_for("STOPPING=1", timeout=30)
    assert proc.wait(timeout=30) == 0
    fresh = LOG.read_bytes()
    assert fresh.startswith(b"\x00") is False and b"\x00" not in fresh
    assert b"190209" in fresh


def command_pages(command: click.Command, name: str) -> Iterator[str]:
    yield name
    if isinstance(command, click.Group):
        for sub_name, sub in command.commands.items():
            if not sub.hidden:
                yield from command_pages(sub, f"{name}-{sub_name}")


def test_man_pages_cover_every_command(installed: Build) -> None:
    man1 = Path("/usr/share/man/man1")
    missing = [p for p in command_pages(cli, "standfast") if not (man1 / f"{p}.1.gz").exists()]
    assert missing == []
    r = run(
        ["man", "--warnings", "-l", "-P", "cat", str(man1 / "standfast.1.gz")],
        env={**os.environ, "MANWIDTH": "100"},
    )
    assert r.returncode == 0
    assert r.stderr == ""
    assert "witness" in r.stdout and "daemon" in r.stdout


def test_bash_completion_completes_commands(installed: Build) -> None:
    script = (
        "source /usr/share/bash-completion/completions/standfast; "
        "COMP_WORDS=(standfast clu); COMP_CWORD=1; _standfast_completion standfast; "
        'echo "${COMPREPLY[@]}"; COMPREPLY=(); '
        'COMP_WORDS=(standfast cluster ""); COMP_CWORD=2; _standfast_completion standfast; '
        'echo "${COMPREPLY[@]}"'
    )
    r = run(["bash", "-c", script])
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["cluster", "add-server check import init keygen rekey show"]


def test_units_under_systemd(installed: Build, tmp_path: Path) -> None:
    """The real service manager: readiness, watchdog restart, stop, the witness's
    sandbox. The daemon stays in the host's mount namespace; the witness does not."""
    got = boot_probe(tmp_path / "results")
    journal = (tmp_path / "results/journal.txt").read_text()
    assert got.get("done") == "yes", got
    assert got["start_rc"] == "0", journal
    assert got["active"] == "active/running"
    assert got["status_text"] == "API answers, control loop running"
    assert got["watchdog"] == "4s"
    assert got["cli_status_rc"] == "0"
    assert got["daemon_mount_ns"] == "host"
    assert got["restarts"] == "1", journal
    assert got["restarted_pid"] not in (got["pid"], "0")
    assert got["active_after"] == "active/running"
    assert int(got["watchdog_timeouts"]) >= 1
    assert "190215" in journal  # the daemon logged its readiness
    # ... natively: its code is a journal field, and the file has no copy of it.
    assert (got["journal_code"], got["journal_priority"]) == ("190215", "6"), journal
    assert got["log_file_lines"] == "0"
    assert (got["reload_rc"], got["reloaded_pid"]) == ("0", got["pid"])
    assert (got["stop_rc"], got["stopped"]) == ("0", "inactive")
    assert got["witness_start_rc"] == "0", journal
    assert got["witness_listening"] == "yes", journal
    assert got["witness_active"] == "active/running"
    assert got["witness_capeff"] == "0000000000000000"
    assert got["witness_nonewprivs"] == "1"
    assert got["witness_mount_ns"] == "private"
    assert got["witness_restarts"] == "0"
    assert got["witness_stop_rc"] == "0"


def test_systemd_kit_under_systemd(installed: Build, tmp_path: Path) -> None:
    """The systemd kit managing a real unit under the real service manager: refusals
    create nothing, create disables the unit at boot and starts it, out/in service stop
    and start it, a killed application is seen failed and restarted in place, delete
    leaves it stopped."""
    got = boot_probe(tmp_path / "results", "kit_probe.sh", ("sf-demo.service",))
    cli = (tmp_path / "results/cli.txt").read_text()
    journal = (tmp_path / "results/journal.txt").read_text()
    assert got.get("done") == "yes", got
    assert got["start_rc"] == "0", journal
    assert got["missing_rc"] == "1" and "195103" in cli, cli
    assert got["bad_name_rc"] == "1" and "195102" in cli, cli
    assert got["enabled_before"] == "enabled"
    assert got["create_rc"] == "0", cli + journal
    assert got["enabled_after"] == "disabled" and "195106" in cli, cli
    assert (got["active_after_create"], got["state_after_create"]) == ("active", "ISP"), got
    assert (got["oos_rc"], got["active_after_oos"]) == ("0", "inactive"), cli
    assert (got["is_rc"], got["active_after_is"]) == ("0", "active"), cli
    assert got["failed_seen"] == "failed", got
    assert (got["active_after_kill"], got["new_pid"]) == ("active", "yes"), journal
    assert got["state_after_kill"] == "ISP", journal
    assert "195105" in journal, journal  # the check's finding, logged
    assert got["delete_rc"] == "0", cli
    assert (got["state_after_delete"], got["active_after_delete"]) == ("none", "inactive")


def test_systemd_unit_fails_over_between_two_systemd_hosts(
    installed: Build, tmp_path: Path
) -> None:
    """Two containers under their own service managers, on a bridge of the test's own:
    server1's unit made a systemd-kit resource and extended to server2; a power cut of
    server1 (its PID 1 killed) and server2's systemd runs the unit, the cluster shows
    it in service there. The extend is refused while the unit is enabled at boot on
    server2 (195108) and succeeds once its administrator disabled it."""
    acc = Account("sfgui", secrets.token_urlsafe(12))
    seen: dict[str, str] = {}

    def gui() -> None:
        seen.update(look_at_unit(tmp_path, BRIDGE, "https://10.77.0.2:7443", acc, UNIT))

    pair = boot_pair(tmp_path, gui_password=acc.password, while_up=gui)
    s1, s2 = pair.server1, pair.server2
    cli1 = (tmp_path / "server1/cli.txt").read_text() if s1 else pair.logs
    assert s1.get("done") == "yes", (s1, pair.logs)
    assert (s1["addr_rc"], s1["define_rc"], s1["start_rc"]) == ("0", "0", "0"), cli1
    assert s1["sees_server2"] == "0", cli1
    assert s1["create_rc"] == "0" and s1["enabled_after"] == "disabled", cli1
    assert s1["extend_enabled_rc"] == "1" and "195108" in cli1, cli1
    assert (s1["extend_rc"], s1["remote_copy"]) == ("0", "0"), cli1
    assert (s1["active_here"], s1["holder_before"]) == ("active", "server1"), s1
    journal2 = (tmp_path / "server2/journal.txt").read_text() if s2.get("done") else ""
    assert s2.get("done") == "yes", (s2, pair.logs)
    assert s2["start_rc"] == "0", journal2
    assert s2["enabled_at_start"] == "enabled", s2
    assert s2["active_before"] == "inactive", s2  # only server1 ran it before the cut
    assert s2["active_after"] == "active", journal2
    assert s2["enabled_here"] == "disabled"
    assert (s2["state_here"], s2["holder_after"]) == ("0", "server2"), s2
    assert s2["server1_alive"] == "no"
    took = float(s2["active_at"]) - pair.crashed_at
    print(f"power cut of server1 -> sf-demo.service active on server2: {took:.2f} s")
    assert 0 < took < 60
    events = json.loads((tmp_path / "server2/events.json").read_text())
    text = json.dumps(events)
    assert "sf-demo.service" in text and "server1" in text, text[-3000:]
    # The GUI, from the host's Chromium: the unit in service on server2, its parameters.
    assert s2["gui_account"] == "0", s2
    assert (seen["server2"], seen["js_errors"]) == ("ISP", ""), seen
    assert seen["server1"] != "ISP", seen
    assert "systemd" in seen["summary"] and UNIT in seen["summary"], seen["summary"]
    assert seen["restore_timeout"] == "90" or seen["restore_timeout"].startswith("90"), seen


def test_purge_leaves_nothing_behind(installed: Build) -> None:
    listed = run(["dpkg-query", "-L", "standfast"]).stdout.split("\n")
    files = [p for p in listed if p and not Path(p).is_dir()]
    assert "/usr/bin/standfast" in files
    r = run(["dpkg", "--purge", "standfast"], timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert installed_version() is None
    assert [p for p in files if os.path.lexists(p)] == []
    assert [str(p) for p in OWNED if os.path.lexists(p)] == []
    assert sorted(named_standfast() - installed.before) == []
