"""Lab guests: real Linux servers under qemu (TCG), driven through the control agent.

A :class:`Guest` boots the cached lab image (see :mod:`standfast.lab.image`) with one
virtio NIC per lab network (a host TAP on that network's bridge), a serial console
logged to a file and a virtio-serial control port served by
:mod:`standfast.lab.agent`.  The host side of that port is a UNIX socket; one
:class:`ControlChannel` multiplexes concurrent requests over it by id.

A guest can be re-attached from another process (``Guest(..., pid=PID)``): only
the socket path and the pid are needed to drive it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from standfast.lab.channel import AgentTimeout, ControlChannel, GuestError, GuestGone
from standfast.lab.image import (
    CONTROL_PORT_NAME,
    CONTROL_PORTS,
    MODULES_TAG,
    QEMU,
    ROOT_TAG,
    LabImage,
)
from standfast.lab.state import proc_start_time, process_alive
from standfast.messages import render

#: Extra time the host waits for a reply beyond the command's own timeout.
REPLY_MARGIN = 15.0


@dataclass(frozen=True)
class Nic:
    """One guest NIC: which lab network, through which host TAP on which bridge."""

    network: str
    bridge: str
    tap: str
    mac: str
    #: ``A.B.C.D/NN`` inside the guest.
    address: str

    @property
    def ip(self) -> str:
        return self.address.split("/", 1)[0]

    def to_json(self) -> dict[str, str]:
        return {
            "network": self.network,
            "bridge": self.bridge,
            "tap": self.tap,
            "mac": self.mac,
            "address": self.address,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Nic:
        return cls(
            network=str(data["network"]),
            bridge=str(data["bridge"]),
            tap=str(data["tap"]),
            mac=str(data["mac"]),
            address=str(data["address"]),
        )


@dataclass(frozen=True)
class ExecResult:
    returncode: int | None
    stdout: str
    stderr: str
    timed_out: bool

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out


@dataclass(frozen=True)
class Share:
    """A host directory the guest mounts read-only over 9p at the same path."""

    tag: str
    path: str

    def to_json(self) -> dict[str, str]:
        return {"tag": self.tag, "path": self.path}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Share:
        return cls(tag=str(data["tag"]), path=str(data["path"]))


@dataclass
class Guest:
    """One lab server: a qemu process plus its agent channel."""

    name: str
    image: LabImage
    nics: Sequence[Nic]
    run_dir: Path
    memory_mb: int = 512
    cpus: int = 1
    pid: int | None = None
    start_time: int | None = None
    #: Control ports of the running qemu (guests booted by older labs have one).
    ports: int = 1
    #: Host directories hidden in the guest by its own mounts (a checkout under /tmp).
    shares: Sequence[Share] = ()
    _channel: ControlChannel | None = field(default=None, repr=False)
    _proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def control_socket(self) -> Path:
        return self.run_dir / f"{self.name}.ctl"

    def control_sockets(self, ports: int | None = None) -> list[Path]:
        """Host sockets of the control ports: ``NAME.ctl``, ``NAME.ctl.1`` ..."""
        base = self.control_socket
        return [base] + [base.with_name(f"{base.name}.{i}") for i in range(1, ports or self.ports)]

    @property
    def console_log(self) -> Path:
        return self.run_dir / f"{self.name}.console.log"

    @property
    def channel(self) -> ControlChannel:
        if self._channel is None:
            self._channel = ControlChannel(self.control_sockets(), alive=self.running)
        return self._channel

    def nic(self, network: str) -> Nic:
        for nic in self.nics:
            if nic.network == network:
                return nic
        raise KeyError(f"{self.name} has no NIC on network {network!r}")

    def kernel_cmdline(self) -> str:
        words = [
            "console=ttyS0",
            "panic=-1",
            "loglevel=4",
            "tsc=unstable",
            "net.ifnames=0",
            f"sf.hostname={self.name}",
        ]
        words += [f"sf.nic={n.network},{n.mac},{n.address}" for n in self.nics]
        words += [f"sf.share={sh.tag},{sh.path}" for sh in self.shares]
        return " ".join(words)

    def qemu_argv(self) -> list[str]:
        argv = [
            str(QEMU),
            "-name",
            f"standfast-{self.name}",
            "-accel",
            "tcg",
            "-machine",
            "q35",
            "-cpu",
            "max",
            "-smp",
            str(self.cpus),
            "-m",
            str(self.memory_mb),
            "-display",
            "none",
            "-vga",
            "none",
            "-nodefaults",
            "-no-user-config",
            "-no-reboot",
            "-kernel",
            str(self.image.kernel),
            "-initrd",
            str(self.image.initrd),
            "-append",
            self.kernel_cmdline(),
            "-serial",
            f"file:{self.console_log}",
            "-monitor",
            "none",
            "-fsdev",
            "local,id=r,path=/,security_model=passthrough,readonly=on,multidevs=remap",
            "-device",
            f"virtio-9p-pci,fsdev=r,mount_tag={ROOT_TAG}",
            "-fsdev",
            f"local,id=m,path={self.image.modules_dir},security_model=passthrough,readonly=on",
            "-device",
            f"virtio-9p-pci,fsdev=m,mount_tag={MODULES_TAG}",
            "-device",
            "virtio-serial-pci",
        ]
        for i, sock in enumerate(self.control_sockets(CONTROL_PORTS)):
            name = CONTROL_PORT_NAME if i == 0 else f"{CONTROL_PORT_NAME}.{i}"
            argv += [
                "-chardev",
                f"socket,path={sock},server=on,wait=off,id=ctl{i}",
                "-device",
                f"virtserialport,chardev=ctl{i},name={name}",
            ]
        for i, share in enumerate(self.shares):
            argv += [
                "-fsdev",
                f"local,id=s{i},path={share.path},security_model=passthrough,readonly=on",
                "-device",
                f"virtio-9p-pci,fsdev=s{i},mount_tag={share.tag}",
            ]
        for i, nic in enumerate(self.nics):
            argv += [
                "-netdev",
                f"tap,id=n{i},ifname={nic.tap},script=no,downscript=no",
                "-device",
                f"virtio-net-pci,netdev=n{i},mac={nic.mac},romfile=",
            ]
        return argv

    def start(self) -> int:
        """Start qemu (the TAPs must exist); returns its pid.  Does not wait for boot."""
        if self.running():
            raise GuestError(f"{self.name} is already running (pid {self.pid})")
        longest = self.control_sockets(CONTROL_PORTS)[-1]
        if len(str(longest)) > 100:
            raise GuestError(f"control socket path too long for AF_UNIX: {longest}")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.close()
        for sock in self.control_sockets(CONTROL_PORTS):
            sock.unlink(missing_ok=True)
        self.ports = CONTROL_PORTS
        with open(self.run_dir / f"{self.name}.qemu.log", "ab") as log:
            self._proc = subprocess.Popen(
                self.qemu_argv(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.pid = self._proc.pid
        self.start_time = proc_start_time(self.pid)
        return self.pid

    def running(self) -> bool:
        if self.pid is None:
            return False
        if self._proc is not None and self._proc.poll() is not None:
            return False
        return process_alive(self.pid, self.start_time)

    def _request(self, msg: Mapping[str, Any], timeout: float) -> dict[str, Any]:
        """One agent request; fails at once (190901) when the qemu is not running.

        The channel drops a connection that stayed silent through a whole deadline
        (the agent enforces every command's own timeout, so such a silence means the
        connection is bad) and reconnects on the next call.
        """
        try:
            return self.channel.request(msg, timeout)
        except GuestGone:
            raise GuestGone(render("190901", server=self.name, pid=self.pid)) from None

    def ping(self, timeout: float = 5.0) -> dict[str, Any]:
        return self._request({"ping": True}, timeout)

    def wait_ready(self, timeout: float = 120.0) -> float:
        """Wait until the agent answers a ping; returns the seconds waited."""
        t0 = time.monotonic()
        deadline = t0 + timeout
        last: BaseException | None = None
        while time.monotonic() < deadline:
            if not self.running():
                raise GuestError(f"{self.name} exited during boot; see {self.console_log}")
            try:
                self.ping(timeout=min(3.0, max(0.1, deadline - time.monotonic())))
                return time.monotonic() - t0
            except GuestError as exc:
                last = exc
                if isinstance(exc, AgentTimeout):
                    # Reconnect: a fresh connection makes qemu tell the guest again
                    # that the host side is open.
                    self.close()
                else:
                    time.sleep(0.2)
        raise AgentTimeout(f"{self.name} not ready within {timeout:.0f} s ({last})")

    def exec(
        self,
        argv: Sequence[str],
        timeout: float = 60.0,
        *,
        env: Mapping[str, str] | None = None,
        stdin: str | None = None,
        cwd: str | None = None,
    ) -> ExecResult:
        """Run *argv* in the guest (no shell); the agent kills it after *timeout* s."""
        msg: dict[str, Any] = {"argv": list(argv), "timeout": timeout}
        if env is not None:
            msg["env"] = dict(env)
        if stdin is not None:
            msg["stdin"] = stdin
        if cwd is not None:
            msg["cwd"] = cwd
        reply = self._request(msg, timeout + REPLY_MARGIN)
        if "returncode" not in reply:
            raise GuestError(f"agent error: {reply.get('error', reply)}")
        rc = reply["returncode"]
        return ExecResult(
            returncode=None if rc is None else int(rc),
            stdout=str(reply.get("stdout", "")),
            stderr=str(reply.get("stderr", "")),
            timed_out=bool(reply.get("timed_out", False)),
        )

    def spawn(
        self,
        argv: Sequence[str],
        log: str = "/dev/null",
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        timeout: float = 30.0,
    ) -> int:
        """Start a long-running process in the guest; returns its pid in the guest."""
        msg: dict[str, Any] = {"spawn": list(argv), "log": log}
        if env is not None:
            msg["env"] = dict(env)
        if cwd is not None:
            msg["cwd"] = cwd
        reply = self._request(msg, timeout)
        if "pid" not in reply:
            raise GuestError(f"spawn failed: {reply.get('error', reply)}")
        return int(reply["pid"])

    def kill(self, guest_pid: int, signum: int = signal.SIGTERM, timeout: float = 10.0) -> bool:
        """Send *signum* to a process in the guest; False if it does not exist."""
        reply = self._request({"signal": guest_pid, "signum": int(signum)}, timeout)
        return bool(reply.get("ok"))

    def _signal_qemu(self, signum: int) -> None:
        if self.pid is not None and self.running():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signum)

    def _wait_exit(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc is not None:
                try:
                    self._proc.wait(timeout=max(0.0, min(0.1, deadline - time.monotonic())))
                    return True
                except subprocess.TimeoutExpired:
                    continue
            if not self.running():
                return True
            time.sleep(0.05)
        return not self.running()

    def crash(self, timeout: float = 10.0) -> None:
        """Power cut: SIGKILL qemu and wait (up to *timeout* s) until every one of its
        threads is gone, so its TAP devices are free for a new qemu (190902 if not)."""
        self.close()
        self._signal_qemu(signal.SIGKILL)
        if not self._wait_exit(timeout):
            raise GuestError(render("190902", server=self.name, pid=self.pid, seconds=timeout))

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the guest: SIGTERM qemu (no disks to flush), SIGKILL after *timeout*."""
        self.close()
        self._signal_qemu(signal.SIGTERM)
        if not self._wait_exit(timeout):
            self.crash(timeout)

    def close(self) -> None:
        """Drop the control connection (the guest keeps running)."""
        if self._channel is not None:
            self._channel.close()
            self._channel = None


def start_all(
    guests: Sequence[Guest],
    timeout: float = 180.0,
    *,
    on_start: Callable[[Guest], None] | None = None,
) -> dict[str, float]:
    """Start every guest at once, wait until all agents answer; seconds per guest.

    *on_start* is called right after each qemu starts (to record its pid).
    """
    t0 = time.monotonic()
    for g in guests:
        g.start()
        if on_start is not None:
            on_start(g)
    times: dict[str, float] = {}
    errors: dict[str, BaseException] = {}

    def wait(g: Guest) -> None:
        try:
            g.wait_ready(max(1.0, timeout - (time.monotonic() - t0)))
            times[g.name] = time.monotonic() - t0
        except GuestError as exc:
            errors[g.name] = exc

    threads = [threading.Thread(target=wait, args=(g,), daemon=True) for g in guests]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout + 5.0)
    if errors or len(times) != len(guests):
        raise GuestError(f"guests not ready: {errors or 'timed out'}")
    return times


__all__ = [
    "REPLY_MARGIN",
    "AgentTimeout",
    "ExecResult",
    "Guest",
    "GuestError",
    "GuestGone",
    "Nic",
    "Share",
    "start_all",
]
