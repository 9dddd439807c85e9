#!/usr/bin/python3
"""Standfast lab control agent: runs inside a guest, standard library only.

It serves the virtio-serial ports named ``standfast.ctl`` and ``standfast.ctl.N`` (one
per host process: qemu takes one host client per port) with newline-delimited JSON.
Requests (one object per line, each with a unique ``id``):

* ``{"id", "ping": true}`` -> ``{"id", "pong": true, "pid", "hostname", "uptime"}``
* ``{"id", "argv": [...], "timeout": s, "env"?: {...}, "stdin"?: str, "cwd"?: str}``
  -> ``{"id", "returncode", "stdout", "stderr", "timed_out"}``.  The argv runs
  without a shell in its own session; at the timeout the whole session is killed.
* ``{"id", "spawn": [...], "log": path, "env"?: {...}, "cwd"?: str}``
  -> ``{"id", "pid"}``: a long-running background process, output to *log*.
* ``{"id", "signal": pid, "signum": n}`` -> ``{"id", "ok": bool, "error"?}``.

Every request runs in its own thread, so a command stuck on a hung NFS mount blocks
nothing else.  Failures are answered with ``{"id", "error": text}``.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import Any

PORT_NAME = "standfast.ctl"
MAX_OUTPUT = 1 << 20
KILL_GRACE = 5.0

_write_locks: dict[int, threading.Lock] = {}
_children: dict[int, subprocess.Popen[bytes]] = {}
_children_lock = threading.Lock()


def log(text: str) -> None:
    print(f"standfast agent: {text}", file=sys.stderr, flush=True)


def find_ports(name: str = PORT_NAME) -> list[str]:
    """Device nodes of the virtio-serial ports called *name* or *name*.N."""
    base = "/sys/class/virtio-ports"
    try:
        ports = sorted(os.listdir(base))
    except OSError:
        ports = []
    found = []
    for port in ports:
        try:
            with open(os.path.join(base, port, "name")) as f:
                pname = f.read().strip()
        except OSError:
            continue
        if pname == name or pname.startswith(name + "."):
            found.append("/dev/" + port)
    if not found and os.path.exists("/dev/virtio-ports/" + name):
        found.append("/dev/virtio-ports/" + name)
    if not found:
        raise FileNotFoundError(f"no virtio-serial port named {name}")
    return found


def send(fd: int, message: dict[str, Any]) -> None:
    data = (json.dumps(message, separators=(",", ":")) + "\n").encode()
    with _write_locks[fd]:
        view = memoryview(data)
        while view:
            try:
                n = os.write(fd, view)
            except InterruptedError:
                continue
            except OSError:
                return  # host not connected: the reply is lost, the host will retry
            view = view[n:]


def _decode(data: bytes | None) -> str:
    if not data:
        return ""
    if len(data) > MAX_OUTPUT:
        data = data[:MAX_OUTPUT] + b"\n[output truncated]\n"
    return data.decode("utf-8", errors="replace")


def _env(extra: object) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
    env.setdefault("HOME", "/root")
    env.setdefault("LANG", "C.UTF-8")
    if isinstance(extra, dict):
        env.update({str(k): str(v) for k, v in extra.items()})
    return env


def run_command(req: dict[str, Any]) -> dict[str, Any]:
    argv = [str(a) for a in req["argv"]]
    timeout = float(req.get("timeout") or 60.0)
    stdin = req.get("stdin")
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=_env(req.get("env")),
            cwd=req.get("cwd") or "/",
            start_new_session=True,
        )
    except OSError as exc:
        code = 127 if isinstance(exc, FileNotFoundError) else 126
        return {
            "returncode": code,
            "stdout": "",
            "stderr": f"{argv[0]}: {exc}\n",
            "timed_out": False,
        }
    timed_out = False
    data = stdin.encode() if isinstance(stdin, str) else None
    try:
        out, err = proc.communicate(data, timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        with contextlib.suppress(OSError):
            os.killpg(proc.pid, signal.SIGKILL)
        try:
            out, err = proc.communicate(timeout=KILL_GRACE)
        except subprocess.TimeoutExpired:
            # Stuck in the kernel (or a descendant holds the pipes): do not wait.
            out, err = b"", b""
            threading.Thread(target=proc.wait, daemon=True).start()
    return {
        "returncode": proc.returncode,
        "stdout": _decode(out),
        "stderr": _decode(err),
        "timed_out": timed_out,
    }


def spawn(req: dict[str, Any]) -> dict[str, Any]:
    argv = [str(a) for a in req["spawn"]]
    log = str(req.get("log") or "/dev/null")
    with open(log, "ab", buffering=0) as out:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=_env(req.get("env")),
            cwd=req.get("cwd") or "/",
            start_new_session=True,
        )
    with _children_lock:
        _children[proc.pid] = proc

    def reap() -> None:
        proc.wait()
        with _children_lock:
            _children.pop(proc.pid, None)

    threading.Thread(target=reap, daemon=True).start()
    return {"pid": proc.pid}


def handle(fd: int, req: dict[str, Any]) -> None:
    rid = req.get("id")
    try:
        if req.get("ping"):
            with open("/proc/uptime") as f:
                uptime = float(f.read().split()[0])
            reply: dict[str, Any] = {
                "pong": True,
                "pid": os.getpid(),
                "hostname": socket.gethostname(),
                "uptime": uptime,
            }
        elif "argv" in req:
            reply = run_command(req)
        elif "spawn" in req:
            reply = spawn(req)
        elif "signal" in req:
            try:
                os.kill(int(req["signal"]), int(req.get("signum", signal.SIGTERM)))
                reply = {"ok": True}
            except OSError as exc:
                reply = {"ok": False, "error": str(exc)}
        else:
            reply = {"error": "unknown request"}
    except Exception as exc:  # report every failure to the host, never die of one
        reply = {"error": f"{type(exc).__name__}: {exc}"}
    reply["id"] = rid
    send(fd, reply)


def serve(path: str) -> None:
    fd = os.open(path, os.O_RDWR)
    _write_locks[fd] = threading.Lock()
    buf = b""
    connected: bool | None = None
    while True:
        try:
            chunk = os.read(fd, 65536)
        except InterruptedError:
            continue
        if not chunk:
            # The host side is not connected: drop any partial request and wait.
            if connected is not False:
                log(f"{path}: host side not connected")
                connected = False
            buf = b""
            time.sleep(0.1)
            continue
        if not connected:
            log(f"{path}: host side connected")
            connected = True
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            line = line.strip()
            if not line:
                continue
            try:
                req = json.loads(line)
            except ValueError:
                continue
            if not isinstance(req, dict):
                continue
            threading.Thread(target=handle, args=(fd, req), daemon=True).start()


def main() -> None:
    deadline = time.monotonic() + 60.0
    while True:
        try:
            paths = find_ports()
            break
        except FileNotFoundError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    threads = []
    for path in paths:
        log(f"serving {path}")
        t = threading.Thread(target=serve, args=(path,), daemon=True)
        t.start()
        threads.append(t)
    for t in threads:
        t.join()  # the ports are served for good; init respawns the agent if one dies


if __name__ == "__main__":
    main()
