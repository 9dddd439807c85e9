"""Start a real Standfast daemon in a private directory and drive it with the real CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx


@dataclass
class Daemon:
    home: Path
    server: str = "server1"
    defaults: str = ""
    extra_env: Mapping[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def socket(self) -> Path:
        return self.home / "run" / "standfast.sock"

    @property
    def log_file(self) -> Path:
        return self.home / "log" / "standfast.log"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            STANDFAST_HOME=str(self.home),
            STANDFAST_SERVER=self.server,
            STANDFAST_FSTAB=str(self.home / "fstab"),
            LANG="C.UTF-8",
            COLUMNS="200",
            # Lone test daemons share the host's network: no HTTPS listener each.
            STANDFAST_REMOTE_LISTEN="off",
        )
        env.pop("STANDFAST_DEFAULTS", None)
        env.update(self.extra_env)
        return env

    def start(self, timeout: float = 20.0) -> Daemon:
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "defaults").write_text(self.defaults)
        fstab = self.home / "fstab"
        if not fstab.exists():
            fstab.write_text("")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "standfast", "daemon"],
            env=self.env(),
            stdout=open(self.home / "daemon.out", "ab"),  # noqa: SIM115
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"daemon exited: {(self.home / 'daemon.out').read_text()}")
            if self.socket.exists():
                try:
                    self.api("GET", "/v1/status", timeout=2.0)
                    return self
                except httpx.TransportError:
                    pass
            time.sleep(0.05)
        raise TimeoutError("daemon did not start")

    def stop(self, timeout: float = 10.0) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(5)

    def api(self, method: str, path: str, json_body: Any = None, timeout: float = 30.0) -> Any:
        transport = httpx.HTTPTransport(uds=str(self.socket))
        with httpx.Client(transport=transport, base_url="http://sf", timeout=timeout) as c:
            return c.request(method, path, json=json_body).json()

    def cli(self, *args: str, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "standfast", *args],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def cli_json(self, *args: str) -> Any:
        r = self.cli(*args, "--json")
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)

    def states(self) -> dict[str, str]:
        out: dict[str, str] = {}

        def walk(n: dict[str, Any]) -> None:
            out[n["tag"]] = n["state"]
            for c in n["children"]:
                walk(c)

        for h in self.api("GET", "/v1/status")["hierarchies"]:
            walk(h)
        return out

    def wait_state(self, tag: str, state: str, timeout: float) -> float:
        """Seconds until ``tag`` reaches ``state``; raises on timeout."""
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            if self.states().get(tag) == state:
                return time.monotonic() - start
            time.sleep(0.05)
        raise AssertionError(f"{tag} not {state} within {timeout}s: {self.states()}")
