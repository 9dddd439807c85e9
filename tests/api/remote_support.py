"""Real accounts and real daemons serving the remote API, for API and GUI tests.

Accounts are made with ``useradd``/``chpasswd`` and groups with ``groupadd``; only what
was made here is removed afterwards. Daemons are started by this module and stopped by
their PID.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from standfast.lab.netns import NetCluster, Server

GROUPS = {
    "administrator": "standfast-admin",
    "operator": "standfast-operator",
    "guest": "standfast-guest",
}


def _run(*argv: str, input_text: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(argv), input=input_text, capture_output=True, text=True, timeout=30, check=False
    )


@dataclass
class Account:
    name: str
    password: str
    role: str  # administrator, operator, guest, or "" (in no Standfast group)


@dataclass
class Accounts:
    """One real local account per role, plus one in no Standfast group."""

    prefix: str = "sft"
    users: dict[str, Account] = field(default_factory=dict)
    made_groups: list[str] = field(default_factory=list)

    def create(self) -> Accounts:
        for group in GROUPS.values():
            if _run("getent", "group", group).returncode != 0:
                r = _run("groupadd", group)
                assert r.returncode == 0, r.stderr
                self.made_groups.append(group)
        suffix = secrets.token_hex(3)
        for role in ("administrator", "operator", "guest", ""):
            name = f"{self.prefix}{(role or 'none')[:5]}{suffix}"
            password = "Pw-" + secrets.token_urlsafe(12)
            argv = ["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin"]
            if role:
                argv += ["--groups", GROUPS[role]]
            r = _run(*argv, name)
            assert r.returncode == 0, r.stderr
            self.users[role or "none"] = Account(name, password, role)
            r = _run("chpasswd", input_text=f"{name}:{password}\n")
            assert r.returncode == 0, r.stderr
        return self

    def remove(self) -> None:
        for acc in self.users.values():
            _run("userdel", acc.name)
        for group in self.made_groups:
            _run("groupdel", group)

    def __getitem__(self, role: str) -> Account:
        return self.users[role]


@contextlib.contextmanager
def accounts() -> Iterator[Accounts]:
    acc = Accounts()
    try:
        yield acc.create()
    finally:
        acc.remove()


def remote_env(port: int, ttl: float | None = None, host: str = "0.0.0.0") -> dict[str, str]:
    env = {"STANDFAST_REMOTE_LISTEN": f"{host}:{port}"}
    if ttl is not None:
        env["STANDFAST_SESSION_TTL"] = str(ttl)
    return env


def daemon_argv() -> list[str]:
    """The real daemon (it serves the remote API as ``STANDFAST_REMOTE_LISTEN`` says)."""
    return [sys.executable, "-m", "standfast", "daemon"]


def wait_https(
    url: str, timeout: float = 20.0, proc: subprocess.Popen[bytes] | None = None
) -> None:
    """Until the remote API answers (401 to an anonymous whoami)."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"daemon exited with {proc.returncode}")
        try:
            r = httpx.get(url + "/api/v1/whoami", verify=False, timeout=2.0)
            if r.status_code == 401:
                return
            last = r.status_code
        except httpx.TransportError as exc:
            last = exc
        time.sleep(0.1)
    raise TimeoutError(f"remote API at {url} did not answer: {last}")


@dataclass
class RemoteDaemon:
    """One lone daemon (no cluster) serving the remote API on loopback."""

    home: Path
    port: int
    ttl: float | None = None
    server: str = "server1"
    proc: subprocess.Popen[bytes] | None = None
    extra_env: dict[str, str] = field(default_factory=dict)
    defaults: str = ""

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def socket(self) -> Path:
        return self.home / "run" / "standfast.sock"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            STANDFAST_HOME=str(self.home),
            STANDFAST_SERVER=self.server,
            STANDFAST_FSTAB=str(self.home / "fstab"),
            LANG="C.UTF-8",
        )
        env.pop("STANDFAST_DEFAULTS", None)
        env.update(remote_env(self.port, self.ttl, host="127.0.0.1"))
        env.update(self.extra_env)
        return env

    def start(self) -> RemoteDaemon:
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "defaults").write_text(self.defaults)
        (self.home / "fstab").touch()
        self.proc = subprocess.Popen(
            daemon_argv(),
            env=self.env(),
            stdout=open(self.home / "daemon.out", "ab"),  # noqa: SIM115
            stderr=subprocess.STDOUT,
        )
        try:
            wait_https(self.url, proc=self.proc)
        except (RuntimeError, TimeoutError) as exc:
            self.stop()
            raise RuntimeError(f"{exc}: {(self.home / 'daemon.out').read_text()[-3000:]}") from None
        return self

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)

    def client(self, lang: str = "en") -> httpx.Client:
        return httpx.Client(
            base_url=self.url, verify=False, timeout=30.0, headers={"accept-language": lang}
        )

    def login(self, acc: Account) -> str:
        with self.client() as c:
            r = c.post("/api/v1/login", json={"username": acc.name, "password": acc.password})
        assert r.status_code == 200, r.text
        return str(r.json()["token"])


def bearer(token: str) -> dict[str, Any]:
    return {"authorization": f"Bearer {token}"}


REMOTE_PORT = 7443


@dataclass
class RemoteNetCluster(NetCluster):
    """The netns cluster, each daemon also serving the remote API and the GUI, on
    REMOTE_PORT unless ``ports`` gives a server another; ``start`` returns once it
    answers over HTTPS."""

    ports: dict[str, int] = field(default_factory=dict)

    def port(self, server: str) -> int:
        return self.ports.get(server, REMOTE_PORT)

    def env(self, srv: Server) -> dict[str, str]:
        env = super().env(srv)
        env.update(remote_env(self.port(srv.name)))
        return env

    def start(self, server: str, timeout: float = 20.0) -> None:
        super().start(server, timeout)
        wait_https(self.url(server), timeout=timeout, proc=self.servers[server].proc)

    def url(self, server: str) -> str:
        return f"https://{self.servers[server].addresses['net1']}:{self.port(server)}"
