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
import json
import os
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from standfast.lab.image import CONTROL_PORT_NAME, MODULES_TAG, QEMU, ROOT_TAG, LabImage
from standfast.lab.state import proc_start_time, process_alive

#: Extra time the host waits for a reply beyond the command's own timeout.
REPLY_MARGIN = 15.0


class GuestError(RuntimeError):
    """A guest could not be started or driven."""


class AgentTimeout(GuestError):
    """The agent did not answer in time."""


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


class _Pending:
    def __init__(self) -> None:
        self.event = threading.Event()
        self.reply: dict[str, Any] | None = None
        self.error: BaseException | None = None


class ControlChannel:
    """Host end of the agent's virtio-serial port (a qemu chardev UNIX socket).

    Thread-safe: many requests may be outstanding; replies are matched by id.  The
    connection is (re)opened lazily, so a lost connection costs one failed call.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._pending: dict[str, _Pending] = {}

    def _connect(self, timeout: float) -> socket.socket:
        with self._lock:
            if self._sock is not None:
                return self._sock
            deadline = time.monotonic() + timeout
            while True:
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.settimeout(max(0.1, min(2.0, deadline - time.monotonic())))
                try:
                    sock.connect(str(self.path))
                    break
                except OSError as exc:
                    sock.close()
                    if time.monotonic() >= deadline:
                        raise GuestError(f"cannot connect to {self.path}: {exc}") from exc
                    time.sleep(0.1)
            sock.settimeout(None)
            # A newline first: the agent drops any partial line a former client left.
            sock.sendall(b"\n")
            self._sock = sock
            threading.Thread(target=self._reader, args=(sock,), daemon=True).start()
            return sock

    def _reader(self, sock: socket.socket) -> None:
        buf = b""
        error: BaseException = GuestError("control connection closed")
        try:
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    try:
                        msg = json.loads(line)
                    except ValueError:
                        continue  # a fragment of a reply meant for a former client
                    if not isinstance(msg, dict):
                        continue
                    with self._lock:
                        pending = self._pending.pop(str(msg.get("id")), None)
                    if pending is not None:
                        pending.reply = msg
                        pending.event.set()
        except OSError as exc:
            error = GuestError(f"control connection lost: {exc}")
        with self._lock:
            if self._sock is sock:
                self._sock = None
            waiting = list(self._pending.values())
            self._pending.clear()
        for p in waiting:
            p.error = error
            p.event.set()
        sock.close()

    def request(self, message: Mapping[str, Any], timeout: float) -> dict[str, Any]:
        """Send one request and wait up to *timeout* s for its reply."""
        deadline = time.monotonic() + timeout
        sock = self._connect(timeout)
        rid = uuid.uuid4().hex
        pending = _Pending()
        data = (json.dumps({**message, "id": rid}) + "\n").encode()
        with self._lock:
            self._pending[rid] = pending
        try:
            sock.settimeout(max(0.1, deadline - time.monotonic()))
            sock.sendall(data)
        except OSError as exc:
            with self._lock:
                self._pending.pop(rid, None)
            self.close()
            raise GuestError(f"cannot send to the agent: {exc}") from exc
        if not pending.event.wait(max(0.0, deadline - time.monotonic())):
            with self._lock:
                self._pending.pop(rid, None)
            raise AgentTimeout(f"no reply from the agent on {self.path} within {timeout:.1f} s")
        if pending.error is not None:
            raise GuestError(str(pending.error)) from pending.error
        assert pending.reply is not None
        reply = pending.reply
        if "error" in reply and "returncode" not in reply and "ok" not in reply:
            raise GuestError(f"agent error: {reply['error']}")
        return reply

    def close(self) -> None:
        with self._lock:
            sock, self._sock = self._sock, None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


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
    _channel: ControlChannel | None = field(default=None, repr=False)
    _proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def control_socket(self) -> Path:
        return self.run_dir / f"{self.name}.ctl"

    @property
    def console_log(self) -> Path:
        return self.run_dir / f"{self.name}.console.log"

    @property
    def channel(self) -> ControlChannel:
        if self._channel is None:
            self._channel = ControlChannel(self.control_socket)
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
            "-chardev",
            f"socket,path={self.control_socket},server=on,wait=off,id=ctl",
            "-device",
            f"virtserialport,chardev=ctl,name={CONTROL_PORT_NAME}",
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
        if len(str(self.control_socket)) > 100:
            raise GuestError(f"control socket path too long for AF_UNIX: {self.control_socket}")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.control_socket.unlink(missing_ok=True)
        self.close()
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
        try:
            return self.channel.request(msg, timeout)
        except AgentTimeout:
            # The agent enforces the command's own timeout, so a missing reply means
            # the connection is bad: reconnect on the next call.
            self.close()
            raise

    def ping(self, timeout: float = 5.0) -> dict[str, Any]:
        return self.channel.request({"ping": True}, timeout)

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
        reply = self.channel.request({"signal": guest_pid, "signum": int(signum)}, timeout)
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
        """Power cut: SIGKILL qemu and wait until it is gone."""
        self.close()
        self._signal_qemu(signal.SIGKILL)
        if not self._wait_exit(timeout):
            raise GuestError(f"{self.name} (pid {self.pid}) did not die")

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
