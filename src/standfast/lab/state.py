"""The lab's state file: every bridge, TAP and process the lab made.

The file (``state.json`` in the lab directory, default :data:`DEFAULT_LAB_DIR`) is
written *before* each thing is made, so a ``down`` from any other process, even after
a crash half-way through ``up``, removes exactly what the lab made and nothing else.
Processes are recorded with their start time so a recycled pid is never signalled.
Updates hold an exclusive ``flock`` on ``state.lock``.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from standfast.lab import network
from standfast.lab.defaults import DEFAULT_LAB_DIR as DEFAULT_LAB_DIR

STATE_FILE = "state.json"
LOCK_FILE = "state.lock"
FORMAT = 1


def proc_start_time(pid: int) -> int | None:
    """Start time of *pid* in clock ticks (field 22 of /proc/PID/stat), None if gone.

    A zombie counts as gone only once all its threads are: a killed multi-threaded
    process (qemu) shows its main thread as a zombie while the others still exit,
    and only the last one closes the process's files (its TAP devices, say).
    """
    try:
        data = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = data.rsplit(")", 1)[1].split()
    if fields[0] in ("Z", "X"):
        try:
            threads = [t for t in os.listdir(f"/proc/{pid}/task") if t != str(pid)]
        except OSError:
            threads = []
        if not threads:
            return None
    return int(fields[19])


def process_alive(pid: int, start_time: int | None = None) -> bool:
    """True while *pid* runs (and, if given, still has the recorded start time)."""
    now = proc_start_time(pid)
    if now is None:
        return False
    return start_time is None or now == start_time


@dataclass
class ProcessRecord:
    pid: int
    start_time: int | None
    kind: str
    name: str

    def alive(self) -> bool:
        return process_alive(self.pid, self.start_time)

    def to_json(self) -> dict[str, Any]:
        return {
            "pid": self.pid,
            "start_time": self.start_time,
            "kind": self.kind,
            "name": self.name,
        }


@dataclass
class LabState:
    """What the lab made, plus free-form details (``info``) for other processes."""

    bridges: list[str] = field(default_factory=list)
    taps: list[str] = field(default_factory=list)
    netns: list[str] = field(default_factory=list)
    processes: list[ProcessRecord] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)

    def add_bridge(self, name: str) -> None:
        if name not in self.bridges:
            self.bridges.append(name)

    def add_tap(self, name: str) -> None:
        if name not in self.taps:
            self.taps.append(name)

    def add_netns(self, name: str) -> None:
        if name not in self.netns:
            self.netns.append(name)

    def add_process(self, pid: int, kind: str, name: str) -> ProcessRecord:
        self.processes = [p for p in self.processes if p.pid != pid]
        rec = ProcessRecord(pid, proc_start_time(pid), kind, name)
        self.processes.append(rec)
        return rec

    def forget_process(self, pid: int) -> None:
        self.processes = [p for p in self.processes if p.pid != pid]

    def find_process(self, kind: str, name: str) -> ProcessRecord | None:
        """The newest live record of *kind* and *name*, else the newest record (a
        process that died unseen must not hide the one started after it)."""
        found = [p for p in self.processes if p.kind == kind and p.name == name]
        alive = [p for p in found if p.alive()]
        newest = alive or found
        return newest[-1] if newest else None

    def forget_dead(self, kind: str, name: str) -> None:
        """Drop the records of *kind* and *name* whose process is gone."""
        self.processes = [
            p for p in self.processes if not (p.kind == kind and p.name == name and not p.alive())
        ]

    def empty(self) -> bool:
        return not (self.bridges or self.taps or self.netns or self.processes)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "bridges": self.bridges,
            "taps": self.taps,
            "netns": self.netns,
            "processes": [p.to_json() for p in self.processes],
            "info": self.info,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LabState:
        return cls(
            bridges=[str(b) for b in data.get("bridges", [])],
            taps=[str(t) for t in data.get("taps", [])],
            netns=[str(n) for n in data.get("netns", [])],
            processes=[
                ProcessRecord(
                    pid=int(p["pid"]),
                    start_time=None if p.get("start_time") is None else int(p["start_time"]),
                    kind=str(p["kind"]),
                    name=str(p["name"]),
                )
                for p in data.get("processes", [])
            ],
            info=dict(data.get("info", {})),
        )


def load(lab_dir: Path) -> LabState:
    """The recorded state (empty when there is none)."""
    try:
        data = json.loads((lab_dir / STATE_FILE).read_text())
    except FileNotFoundError:
        return LabState()
    return LabState.from_json(data)


def save(lab_dir: Path, state: LabState) -> None:
    lab_dir.mkdir(parents=True, exist_ok=True)
    tmp = lab_dir / (STATE_FILE + ".tmp")
    tmp.write_text(json.dumps(state.to_json(), indent=2) + "\n")
    os.replace(tmp, lab_dir / STATE_FILE)


@contextlib.contextmanager
def locked(lab_dir: Path, timeout: float = 30.0) -> Iterator[LabState]:
    """Load the state under an exclusive lock; save it when the block ends."""
    lab_dir.mkdir(parents=True, exist_ok=True)
    with open(lab_dir / LOCK_FILE, "a+") as lock:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"lab state {lab_dir} is locked") from None
                time.sleep(0.05)
        try:
            state = load(lab_dir)
            yield state
            save(lab_dir, state)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _wait_gone(rec: ProcessRecord, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not rec.alive():
            return True
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(rec.pid, os.WNOHANG)  # reap it if it is our own child
        time.sleep(0.05)
    return not rec.alive()


def stop_process(rec: ProcessRecord, timeout: float = 5.0) -> None:
    """SIGCONT + SIGTERM, then SIGKILL: only if *rec* still names the same process."""
    if not rec.alive():
        return
    for signum in (signal.SIGCONT, signal.SIGTERM):
        with contextlib.suppress(ProcessLookupError):
            os.kill(rec.pid, signum)
    if _wait_gone(rec, timeout):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(rec.pid, signal.SIGKILL)
    _wait_gone(rec, timeout)


#: Order in which ``teardown`` stops recorded processes.
KIND_ORDER = ("daemon", "qemu", "ganesha", "rpcbind")


def teardown(lab_dir: Path, timeout: float = 10.0) -> LabState:
    """Stop every recorded process, delete every recorded TAP, bridge and netns.

    Returns what was removed.  The state file is left empty (not deleted) so
    the lab directory's other files (logs, console output) stay for inspection.
    """
    removed = LabState()
    with locked(lab_dir) as state:
        order = {k: i for i, k in enumerate(KIND_ORDER)}
        for rec in sorted(state.processes, key=lambda p: order.get(p.kind, -1)):
            stop_process(rec, timeout)
            removed.processes.append(rec)
        for tap in state.taps:
            with contextlib.suppress(network.NetworkError):
                network.delete_link(tap)
            removed.taps.append(tap)
        for bridge in state.bridges:
            with contextlib.suppress(network.NetworkError):
                network.delete_link(bridge)
            removed.bridges.append(bridge)
        for ns in state.netns:
            with contextlib.suppress(network.NetworkError):
                network.delete_netns(ns)
            removed.netns.append(ns)
        leftovers = [n for n in [*state.taps, *state.bridges] if network.link_exists(n)]
        leftovers += [n for n in state.netns if network.netns_exists(n)]
        alive = [p for p in state.processes if p.alive()]
        state.taps = [t for t in state.taps if t in leftovers]
        state.bridges = [b for b in state.bridges if b in leftovers]
        state.netns = [n for n in state.netns if n in leftovers]
        state.processes = alive
        if not alive and not leftovers:
            state.info = {}
    if leftovers or alive:
        raise RuntimeError(f"lab teardown left {leftovers} and pids {[p.pid for p in alive]}")
    return removed
