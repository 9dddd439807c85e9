"""The built .deb and the Python distribution it is made from, before any install."""

from __future__ import annotations

import re
import tomllib
import zipfile
from pathlib import Path

import pytest

from tests.package.conftest import ROOT, Build, run

pytestmark = pytest.mark.root


#: The system tools the daemon runs (host/, kits/, api/tls.py) and their packages.
RUNTIME_DEPENDS = {
    "iproute2",  # ip addr, ip -j addr show (kits/ip.py)
    "iputils-arping",  # arping -D / -U (kits/ip.py)
    "iputils-ping",  # the conflict check without arping
    "mount",  # mount(8), umount(8) (host/mountops.py)
    "nfs-common",  # mount.nfs for the NAS kit's mounts
    "openssl",  # the HTTPS certificate (api/tls.py)
    "libpam0g",  # the GUI's login (pamela loads libpam with ctypes)
}
#: The lab's test bed, never required by a production install.
LAB_ONLY = {"qemu-system-x86", "nfs-ganesha", "nfs-ganesha-vfs", "rpcbind", "busybox-static"}


def field_names(text: str) -> set[str]:
    """Package names of a Depends-style field, without versions or alternatives."""
    return {re.split(r"[\s(]", alt.strip())[0] for alt in re.split(r"[,|]", text) if alt.strip()}


def control(deb: Path) -> dict[str, str]:
    r = run(["dpkg-deb", "-f", str(deb)])
    assert r.returncode == 0, r.stderr
    fields: dict[str, str] = {}
    key = ""
    for line in r.stdout.splitlines():
        if line[:1].isspace():
            fields[key] += "\n" + line
        else:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return fields


def contents(deb: Path) -> list[str]:
    r = run(["dpkg-deb", "-c", str(deb)])
    assert r.returncode == 0, r.stderr
    return [
        line.split(None, 5)[5].removeprefix(".").split(" -> ")[0] for line in r.stdout.splitlines()
    ]


def test_version_is_the_project_s(build: Build) -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert control(build.deb)["Version"] == project["version"] == build.version


def test_depends_on_the_tools_it_runs_and_not_on_the_lab(build: Build) -> None:
    fields = control(build.deb)
    depends = field_names(fields["Depends"])
    assert depends >= RUNTIME_DEPENDS | {"python3", "libc6"}
    assert not depends & LAB_ONLY
    assert field_names(fields.get("Suggests", "")) >= LAB_ONLY
    # The private environment's extension modules are built for this Python.
    assert "python3 (<< 3.12)" in fields["Depends"]


def test_conffiles_are_the_files_under_etc(build: Build) -> None:
    r = run(["dpkg-deb", "--ctrl-tarfile", str(build.deb)])
    assert r.returncode == 0
    files = contents(build.deb)
    under_etc = sorted(f for f in files if f.startswith("/etc/") and not f.endswith("/"))
    assert under_etc == [
        "/etc/default/standfast",
        "/etc/default/standfast-witness",
        "/etc/logrotate.d/standfast",
        "/etc/pam.d/standfast",
    ]
    info = run(["dpkg-deb", "-I", str(build.deb), "conffiles"])
    assert sorted(info.stdout.split()) == under_etc


def test_layout(build: Build) -> None:
    files = set(contents(build.deb))
    for path in (
        "/usr/bin/standfast",
        "/usr/lib/standfast/venv/bin/standfast",
        "/usr/lib/standfast/venv/pyvenv.cfg",
        "/lib/systemd/system/standfast.service",
        "/lib/systemd/system/standfast-witness.service",
        "/usr/share/man/man1/standfast.1.gz",
        "/usr/share/man/man1/standfast-witness.1.gz",
        "/usr/share/man/man1/standfast-daemon.1.gz",
        "/usr/share/bash-completion/completions/standfast",
        "/usr/share/doc/standfast/copyright",
    ):
        assert path in files, path
    # dh_installdocs compresses the larger documents.
    assert files & {"/usr/share/doc/standfast/install.md", "/usr/share/doc/standfast/install.md.gz"}
    # No bytecode (postinst makes it), no pip, no build tool, no activate scripts.
    assert not [f for f in files if "__pycache__" in f or f.endswith(".pyc")]
    venv_bin = {f.rsplit("/", 1)[1] for f in files if f.startswith("/usr/lib/standfast/venv/bin/")}
    assert not venv_bin & {"pip", "pip3", "activate", "click-man"}
    assert not [f for f in files if "/site-packages/pip/" in f or "click_man" in f]


def test_lintian_finds_no_error_or_warning(build: Build) -> None:
    r = run(["lintian", "--pedantic", "--fail-on", "none", str(build.deb)], timeout=300)
    bad = [line for line in r.stdout.splitlines() if line.startswith(("E:", "W:"))]
    assert bad == [], "\n".join(bad)


def test_copyright_names_every_bundled_distribution(build: Build, tmp_path: Path) -> None:
    assert run(["dpkg-deb", "-x", str(build.deb), str(tmp_path)]).returncode == 0
    text = (tmp_path / "usr/share/doc/standfast/copyright").read_text()
    assert "License: Apache-2.0" in text
    flat = text.replace("_", "-").lower()
    site = next((tmp_path / "usr/lib/standfast/venv/lib").glob("python3.*/site-packages"))
    for dist in site.glob("*.dist-info"):
        name = dist.name.removesuffix(".dist-info").rsplit("-", 1)[0]
        if name != "standfast":
            assert f"the authors of {name.replace('_', '-').lower()} " in flat, name


def test_wheel_metadata_has_the_spdx_licence_and_no_deprecation(tmp_path: Path) -> None:
    """The build backend's own output, verbose: no setuptools deprecation warning."""
    pip = ROOT / ".venv/bin/pip"
    r = run(
        [str(pip), "wheel", "--no-deps", "--no-cache-dir", "-v", "-w", str(tmp_path), str(ROOT)],
        timeout=300,
    )
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "deprecat" not in (r.stdout + r.stderr).lower()
    (wheel,) = tmp_path.glob("standfast-*.whl")
    with zipfile.ZipFile(wheel) as z:
        meta = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        text = z.read(meta).decode()
        licence = next(n for n in z.namelist() if n.endswith("licenses/LICENSE"))
        assert b"Apache License" in z.read(licence)
    assert "License-Expression: Apache-2.0" in text
    assert "License-File: LICENSE" in text
    assert (
        "Apache License\n                           Version 2.0" in (ROOT / "LICENSE").read_text()
    )


def test_maintainer_scripts_never_restart_the_daemon(build: Build) -> None:
    """Removal stops the units; installation and upgrade neither enable, stop nor
    restart them (a restart moves this server's hierarchies)."""

    def script(name: str) -> str:
        r = run(["dpkg-deb", "-I", str(build.deb), name])
        return r.stdout if r.returncode == 0 else ""

    prerm, postinst = script("prerm"), script("postinst")
    assert re.search(r'"\$1" = remove \].*\n\s*deb-systemd-invoke stop', prerm)
    assert "restart" not in postinst.replace("try-restart", "").split("#DEBHELPER#")[0]
    assert "deb-systemd-invoke restart" not in postinst
    assert script("preinst") == ""  # nothing stops the daemon before an upgrade
    assert "was-enabled" in postinst  # enabled again only if it was enabled before
