"""The campaign's hands on a netns lab (``standfast.lab.netns.NetCluster``): faults
that can overlap, operator actions that run beside them, and what the campaign
observes, each with a deadline. Every fault and its end is written to a timeline with
the wall clock (the ledger's clock), so a finding can be read against the faults.

Contracts:

- ``power_cut`` kills the server's daemon and every process in its network namespace
  by PID, then records the death of its applications: each application whose marker
  says it runs there gets a ``powercut`` ledger record and its marker is removed (a
  real power cut leaves nothing running; the lab's ``ledger_app`` is a marker file,
  which a killed process would not remove).
- ``stop`` is a clean stop (SIGTERM, in a thread: the daemon hands its hierarchies
  over first and exits within seconds); the applications stop only if the daemon
  stops them, so the ledger judges the hand-over. ``restart`` waits for it.
- Link faults count: a link goes down at the first fault that takes it and comes back
  when the last one ends.
- ``restart`` and operator actions run in threads (they take seconds); ``heal_all``
  waits for them (bounded), then resumes every hung daemon, restarts every daemon the
  campaign cut, and brings every link up.
"""

from __future__ import annotations

import fcntl
import math
import os
import signal
import subprocess
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench.chaos_plan import APPS, NETS, Fault
from standfast.lab.netns import NetCluster

CLI_TIMEOUT = 15.0  # the CLI's own --timeout for an operator action
START_TIMEOUT = 30.0


@dataclass
class OpResult:
    fault: Fault
    started: float
    ended: float = 0.0
    exit: int | None = None
    output: str = ""

    def first_line(self) -> str:
        """The answer's first line of text (a table's frame lines skipped)."""
        for ln in self.output.splitlines():
            if ln.strip() and not ("\u2500" <= ln.strip()[0] <= "\u257f"):
                return ln.strip()
        return ""


@dataclass
class Lab:
    c: NetCluster
    timeline: list[tuple[float, str]] = field(default_factory=list)
    hangs: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    deaths: list[str] = field(default_factory=list)
    ops: list[OpResult] = field(default_factory=list)
    down_links: Counter[tuple[str, str]] = field(default_factory=Counter)
    cut_power: set[str] = field(default_factory=set)
    stopped: set[str] = field(default_factory=set)  # cleanly stopped, to be started
    hung: set[str] = field(default_factory=set)
    _threads: dict[str, threading.Thread] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def note(self, text: str) -> None:
        with self._lock:
            self.timeline.append((time.time(), text))

    # -- process faults ------------------------------------------------------------------

    def _alive(self, server: str) -> bool:
        proc = self.c.servers[server].proc
        return proc is not None and proc.poll() is None

    def _await_restart(self, server: str) -> None:
        for name in (f"stop-{server}", f"start-{server}"):
            t = self._threads.get(name)
            if t is not None:
                t.join(START_TIMEOUT)

    def stop(self, server: str) -> None:
        self._await_restart(server)
        if not self._alive(server):
            self._died(server, "before the stop")
            return
        self.stopped.add(server)
        self.note(f"SIGTERM {server}'s daemon (a clean stop)")

        def run() -> None:
            began = time.monotonic()
            self.c.stop(server)  # bounded: SIGKILL after 15 s
            proc = self.c.servers[server].proc
            rc = None if proc is None else proc.returncode
            self.note(f"{server}'s daemon stopped in {time.monotonic() - began:.2f} s (exit {rc})")
            if rc != 0:
                self.deaths.append(f"{server}: a clean stop ended with exit status {rc}")

        t = threading.Thread(target=run, name=f"stop-{server}", daemon=True)
        self._threads[t.name] = t
        t.start()

    def power_cut(self, server: str) -> None:
        self._await_restart(server)
        if not self._alive(server):
            self._died(server, "before the power cut")
        self.c.crash(server)
        self._sweep(server)
        now = time.time()
        self.cut_power.add(server)
        gone = []
        for app in APPS:
            marker = self.c.ledger.with_name(f"{app}.{server}.up")
            if marker.exists():
                marker.unlink()
                gone.append(app)
                self._ledger(now, server, app, "powercut")
        self.note(f"power cut {server}" + (f" (its {', '.join(gone)} died)" if gone else ""))

    def _sweep(self, server: str) -> None:
        """SIGKILL every process left in the server's namespace (children of the daemon)."""
        ns = self.c.servers[server].ns
        r = subprocess.run(
            ["ip", "netns", "pids", ns], capture_output=True, text=True, timeout=10, check=False
        )
        for word in r.stdout.split():
            try:
                os.kill(int(word), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                continue

    def _ledger(self, ts: float, server: str, app: str, action: str) -> None:
        with open(self.c.ledger, "a", encoding="utf-8") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            f.write(f"{ts:.6f} {server} {app} {action}\n")
            f.flush()
            os.fsync(f.fileno())

    def restart(self, server: str) -> None:
        def run() -> None:
            try:
                self.c.start(server, timeout=START_TIMEOUT)
                self.note(f"{server} restarted (its API answers)")
            except (RuntimeError, TimeoutError) as exc:
                self._died(server, f"restart failed: {str(exc).strip()[-300:]}")

        self._await_restart(server)
        self.cut_power.discard(server)
        self.stopped.discard(server)
        self.note(f"restart {server}")
        t = threading.Thread(target=run, name=f"start-{server}", daemon=True)
        self._threads[f"start-{server}"] = t
        t.start()

    def hang(self, server: str) -> None:
        self._await_restart(server)
        if not self._alive(server):
            self._died(server, "before the hang")
            return
        self.c.hang(server)
        self.hung.add(server)
        self.hangs.setdefault(server, []).append((time.time(), math.inf))
        self.note(f"SIGSTOP {server}'s daemon")

    def resume(self, server: str) -> None:
        if server not in self.hung:
            return
        if self._alive(server):
            self.c.unhang(server)
        self.hung.discard(server)
        h0, _ = self.hangs[server][-1]
        self.hangs[server][-1] = (h0, time.time())
        self.note(f"SIGCONT {server}'s daemon")

    def _died(self, server: str, when: str) -> None:
        proc = self.c.servers[server].proc
        rc = None if proc is None else proc.poll()
        text = f"{server}: daemon not running {when} (exit status {rc})"
        self.deaths.append(text)
        self.note(text)

    # -- links ---------------------------------------------------------------------------

    def cut(self, links: list[tuple[str, str]]) -> None:
        for link in links:
            self.down_links[link] += 1
            if self.down_links[link] == 1:
                self.c.cut(*link)
        self.note("cut " + ", ".join(f"{s}:{n}" for s, n in links))

    def heal(self, links: list[tuple[str, str]]) -> None:
        for link in links:
            self.down_links[link] -= 1
            if self.down_links[link] == 0:
                self.c.heal(*link)
        self.note("heal " + ", ".join(f"{s}:{n}" for s, n in links))

    # -- operator actions ----------------------------------------------------------------

    def operator(self, f: Fault) -> None:
        if f.kind == "in-service":
            args = ["resource", "in-service", f.tag]
        else:
            args = ["resource", "set", f.tag, "--prop", f"check_timeout={f.value}"]
        res = OpResult(f, time.time())
        self.ops.append(res)
        self.note(f"{f.server}: standfast {' '.join(args)}")

        def run() -> None:
            try:
                r = self.c.cli(
                    f.server,
                    "--timeout",
                    str(CLI_TIMEOUT),
                    *args,
                    check=False,
                    timeout=CLI_TIMEOUT + 10,
                )
                res.exit, res.output = r.returncode, (r.stderr or r.stdout).strip()
            except subprocess.TimeoutExpired:
                res.exit, res.output = -1, "no answer within the CLI's deadline"
            res.ended = time.time()
            self.note(f"{f.server}: {' '.join(args)} -> exit {res.exit} {res.first_line()[:160]}")

        t = threading.Thread(target=run, name=f"op-{len(self.ops)}", daemon=True)
        self._threads[t.name] = t
        t.start()

    # -- the end of a schedule -------------------------------------------------------------

    def heal_all(self) -> None:
        """Everything back: bounded waits for actions in flight, then resume, restart and
        bring every link up."""
        deadline = time.monotonic() + CLI_TIMEOUT + 15
        for t in list(self._threads.values()):
            t.join(max(0.0, deadline - time.monotonic()))
        for server in sorted(self.hung):
            self.resume(server)
        for server in sorted(self.cut_power | self.stopped):
            self.restart(server)
        for server in self.c.servers:
            for net in NETS:
                self.down_links[(server, net)] = 0
                self.c.heal(server, net)
        for name, t in list(self._threads.items()):
            if name.startswith("start-"):
                t.join(START_TIMEOUT)
        self.note("healed: every daemon running, every link up")

    def power_off_all(self) -> None:
        """The lab's end: every daemon and everything it started, killed by PID."""
        for server in self.c.servers:
            if self._alive(server):
                self.c.crash(server)
            self._sweep(server)

    # -- what the campaign observes -----------------------------------------------------

    def in_service(self) -> dict[str, list[str]]:
        """Per application, the servers whose status shows it ISP or ISU (a server that
        does not answer within 3 s counts as showing nothing)."""
        out: dict[str, list[str]] = {a: [] for a in APPS}
        for server in self.c.running():
            try:
                states = self._states(server)
            except (httpx.HTTPError, OSError, KeyError, ValueError):
                continue
            for app in APPS:
                if states.get(app) in ("ISP", "ISU"):
                    out[app].append(server)
        return out

    def _states(self, server: str) -> dict[str, str]:
        status = self.c.api(server, "GET", "/v1/status", timeout=3)
        return {h["tag"]: h["state"] for h in status["hierarchies"]}

    def log_texts(self) -> dict[str, str]:
        out = {}
        for name, srv in self.c.servers.items():
            parts = []
            for path in (srv.log_file, srv.home / "daemon.out"):
                if path.exists():
                    parts.append(path.read_text(errors="replace"))
            out[name] = "\n".join(parts)
        return out

    def ledger_text(self) -> str:
        return Path(self.c.ledger).read_text()
