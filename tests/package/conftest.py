"""The Debian package tier: build the real .deb, install it with dpkg on this machine,
check what it installed, purge it and check nothing is left.

Needs root and the tools scripts/bootstrap installs (dpkg-dev, debhelper, python3-venv,
lintian, logrotate, systemd-analyze, systemd-nspawn). Run it alone, under the
integration lock: it installs into /usr, /etc and /lib of this machine.
``STANDFAST_DEB=path`` reuses a package built before instead of building one.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILD_TIMEOUT = 900.0
#: What the package owns outright; none of it may exist before the install or after
#: the purge.
OWNED = (
    Path("/usr/lib/standfast"),
    Path("/usr/bin/standfast"),
    Path("/etc/default/standfast"),
    Path("/etc/default/standfast-witness"),
    Path("/etc/logrotate.d/standfast"),
    Path("/etc/pam.d/standfast"),
    Path("/lib/systemd/system/standfast.service"),
    Path("/lib/systemd/system/standfast-witness.service"),
    Path("/usr/share/doc/standfast"),
    Path("/usr/share/bash-completion/completions/standfast"),
    Path("/var/lib/standfast"),
    Path("/var/log/standfast"),
)
#: Where a leftover would be; searched for anything named *standfast*.
SEARCHED = ("/usr", "/etc", "/lib", "/var/lib", "/var/log", "/run", "/opt", "/srv")
TOOLS = (
    "dpkg-buildpackage",
    "dh",
    "lintian",
    "logrotate",
    "systemd-analyze",
    "systemd-nspawn",
    "man",
)


def run(
    argv: list[str],
    *,
    timeout: float = 120.0,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """A command with a deadline, its output captured as text."""
    return subprocess.run(
        argv, capture_output=True, text=True, timeout=timeout, check=False, env=env, cwd=cwd
    )


def named_standfast() -> set[str]:
    """Every path under SEARCHED whose name contains 'standfast' (the dpkg database,
    which dpkg itself keeps, excepted)."""
    found: set[str] = set()
    for top in SEARCHED:
        for dirpath, dirnames, filenames in os.walk(top):
            if dirpath.startswith(("/proc", "/sys", "/var/lib/dpkg")):
                dirnames[:] = []
                continue
            for name in (*dirnames, *filenames):
                if "standfast" in name:
                    found.add(os.path.join(dirpath, name))
    return found


def installed_version() -> str | None:
    r = run(["dpkg-query", "-W", "-f=${Status} ${Version}", "standfast"])
    if r.returncode != 0 or not r.stdout.startswith("install ok installed"):
        return None
    return r.stdout.split()[-1]


@dataclass
class Build:
    deb: Path
    seconds: float
    version: str
    #: Paths named *standfast* before the install (another tier's, the lab's cache).
    before: set[str] = field(default_factory=set)


@pytest.fixture(scope="session")
def build(tmp_path_factory: pytest.TempPathFactory) -> Build:
    if os.geteuid() != 0:
        pytest.fail("the package tier installs into the system: run it as root")
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        pytest.fail(f"missing build or check tools {missing}: run scripts/bootstrap")
    version = run(
        ["dpkg-parsechangelog", "-l", str(ROOT / "packaging/debian/changelog"), "-SVersion"]
    ).stdout.strip()
    given = os.environ.get("STANDFAST_DEB")
    if given:
        return Build(Path(given), 0.0, version)
    out = tmp_path_factory.mktemp("deb")
    began = time.monotonic()
    r = run([str(ROOT / "packaging/build-deb"), str(out)], timeout=BUILD_TIMEOUT)
    seconds = time.monotonic() - began
    assert r.returncode == 0, r.stderr[-4000:]
    deb = Path(r.stdout.strip().splitlines()[-1])
    assert deb.is_file(), r.stdout
    print(f"package built in {seconds:.0f} s: {deb}")
    return Build(deb, seconds, version)


@pytest.fixture(scope="module")
def installed(build: Build) -> Iterator[Build]:
    """The package installed with dpkg -i into a clean state; purged afterwards if a
    test did not already purge it."""
    if installed_version() is not None:
        # Left by an interrupted run of this tier: start from a clean state.
        assert run(["dpkg", "--purge", "standfast"]).returncode == 0
    present = [str(p) for p in OWNED if p.exists() or p.is_symlink()]
    assert present == [], f"not a clean state: {present}"
    before = named_standfast()
    r = run(["dpkg", "-i", str(build.deb)], timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    try:
        build.before = before
        yield build
    finally:
        if installed_version() is not None:
            run(["dpkg", "--purge", "standfast"], timeout=300)


def free_tcp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
