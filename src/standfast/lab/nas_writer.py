#!/usr/bin/python3
"""The lab's writer application: appends a line to a file on the NAS mount every
0.2 s, so an observer outside the cluster can tell from the file alone where the
application ran and when.  Standard library only (runs with Debian's python3 in the
guests); the app kit's restore/remove/quick_check commands call it.

usage: nas_writer.py start|stop|check|run FILE [NAME]

* ``start``: start ``run`` in the background (own session, stdio on /dev/null) and
  return at once; nothing to do if it already runs.
* ``stop``: SIGTERM it, SIGKILL after a few seconds (it may be blocked on a hung NFS
  mount: NFS waits are killable), remove the pid file.  Succeeds if it is not running.
* ``check``: exit 0 while it runs (never touches the NAS, so a hung NAS cannot hang it).
* ``run``: the loop itself.

Each line: ``<unix time, 6 decimals> <server> <sequence number> <pid>``; the server
comes from ``STANDFAST_SERVER`` (the app kit sets it) or the host name.  The pid
file is ``/run/standfast-writer-NAME.pid`` (NAME defaults to ``writer``).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time

INTERVAL = 0.2
STOP_WAIT = 5.0
_running = True


def _pid_file(name: str) -> str:
    return f"/run/standfast-writer-{name}.pid"


def _alive_pid(name: str) -> int | None:
    """The writer's pid if it runs (the pid file names a live ``nas_writer run``)."""
    try:
        with open(_pid_file(name)) as f:
            pid = int(f.read().strip())
    except (OSError, ValueError):
        return None
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmdline = f.read().split(b"\0")
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None
    if state == "Z" or b"run" not in cmdline or not any(b"nas_writer" in a for a in cmdline):
        return None
    return pid


def _stop(signum: int, frame: object) -> None:
    global _running
    _running = False


def run(path: str, name: str) -> int:
    server = os.environ.get("STANDFAST_SERVER") or socket.gethostname()
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    seq = 0
    while _running:
        seq += 1
        line = f"{time.time():.6f} {server} {seq} {os.getpid()}\n".encode()
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)
        time.sleep(INTERVAL)
    return 0


def start(path: str, name: str) -> int:
    if _alive_pid(name) is not None:
        return 0
    proc = subprocess.Popen(
        [sys.executable, "-I", os.path.abspath(__file__), "run", path, name],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd="/",
        start_new_session=True,
    )
    tmp = _pid_file(name) + ".tmp"
    with open(tmp, "w") as f:
        f.write(f"{proc.pid}\n")
    os.replace(tmp, _pid_file(name))
    # Return once the first line is written (or the writer died), within a bound.
    deadline = time.monotonic() + 10.0
    size0 = _size(path)
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            print(f"writer exited with status {proc.returncode}", file=sys.stderr)
            return 1
        if _size(path) > size0:
            return 0
        time.sleep(0.05)
    return 0


def _size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return -1


def stop(name: str) -> int:
    pid = _alive_pid(name)
    if pid is not None:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            if _alive_pid(name) != pid:
                break
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
            deadline = time.monotonic() + STOP_WAIT
            while time.monotonic() < deadline and _alive_pid(name) == pid:
                time.sleep(0.05)
        if _alive_pid(name) == pid:
            print(f"writer {pid} did not stop", file=sys.stderr)
            return 1
    with contextlib.suppress(FileNotFoundError):
        os.unlink(_pid_file(name))
    return 0


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[0] not in ("start", "stop", "check", "run"):
        print(__doc__, file=sys.stderr)
        return 64
    action, path = argv[0], argv[1]
    name = argv[2] if len(argv) > 2 else "writer"
    if action == "run":
        return run(path, name)
    if action == "start":
        return start(path, name)
    if action == "stop":
        return stop(name)
    return 0 if _alive_pid(name) is not None else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
