"""Lab setup: the guest kernel, its module tree, the initramfs and the guest init.

Everything is cached under one directory (default :data:`DEFAULT_CACHE_DIR`) and
:func:`setup` is idempotent: a second call finds the files in place and returns at
once.  The guests boot Debian's own kernel (``linux-image-6.1.0-*-amd64``) under
qemu/TCG with the host's root file system shared read-only over 9p and a tmpfs
overlay on top, so every guest runs the very same binaries as the host.

Layout of the cache directory::

    debs/                     downloaded kernel package
    kernel/                   dpkg -x of it (boot/vmlinuz-*, lib/modules/VERSION)
    initramfs.cpio.gz         busybox initramfs (loads modules, mounts, switch_root)
    guest/init                first program of the real root (runs busybox init)
    guest/inittab             busybox init's table: sysinit + respawned agent
    guest/setup.sh            hostname, NIC addresses, pseudo file systems, rpcbind
    guest/agent.py            the control agent (copy of standfast/lab/agent.py)
    image.json                what was built (kernel version, paths)
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from standfast.lab.defaults import DEFAULT_CACHE_DIR as DEFAULT_CACHE_DIR
from standfast.messages import render

#: Debian packages the lab needs on the host (qemu without its recommends).
APT_PACKAGES: tuple[str, ...] = (
    "qemu-system-x86",
    "busybox-static",
    "cpio",
    "kmod",
    "nfs-common",
    "nfs-ganesha",
    "nfs-ganesha-vfs",
    "rpcbind",
)

#: Modules the initramfs loads (with their dependencies, computed by modprobe).
INITRAMFS_MODULES: tuple[str, ...] = (
    "virtio_pci",
    "virtio_console",
    "virtio_net",
    "9pnet_virtio",
    "9p",
    "overlay",
)

BUSYBOX = Path("/bin/busybox")
QEMU = Path("/usr/bin/qemu-system-x86_64")

#: The 9p mount tags used by the initramfs.
ROOT_TAG = "hostroot"
MODULES_TAG = "kmods"
#: Name of the virtio-serial port the agent serves.
CONTROL_PORT_NAME = "standfast.ctl"
#: Control ports per guest (``standfast.ctl``, ``standfast.ctl.1`` ...): qemu serves
#: one host client per port, so each host process takes a port of its own.
CONTROL_PORTS = 4

_IMAGE_FORMAT = 6


class SetupError(RuntimeError):
    """Lab setup failed (a package, the kernel or the initramfs could not be made)."""


@dataclass(frozen=True)
class LabImage:
    """What the guests boot: paths inside the cache directory."""

    cache_dir: Path
    version: str
    kernel: Path
    initrd: Path
    #: Directory shared as the guest's ``/lib/modules`` (holds ``VERSION/``).
    modules_dir: Path
    guest_dir: Path

    @property
    def guest_init(self) -> Path:
        return self.guest_dir / "init"

    @property
    def agent(self) -> Path:
        return self.guest_dir / "agent.py"


def _run(argv: Sequence[str], timeout: float, *, cwd: Path | None = None) -> str:
    try:
        proc = subprocess.run(
            list(argv),
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive", "LC_ALL": "C"},
        )
    except subprocess.TimeoutExpired as exc:
        raise SetupError(f"{argv[0]} timed out after {timeout:.0f} s") from exc
    except OSError as exc:
        raise SetupError(f"cannot run {argv[0]}: {exc}") from exc
    if proc.returncode != 0:
        raise SetupError(
            f"{' '.join(argv)} failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}"
        )
    return proc.stdout


def _packages_missing(packages: Sequence[str]) -> list[str]:
    missing: list[str] = []
    for pkg in packages:
        try:
            proc = subprocess.run(
                ["dpkg-query", "-W", "-f=${Status}", pkg],
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            missing.append(pkg)
            continue
        if proc.returncode != 0 or "install ok installed" not in proc.stdout:
            missing.append(pkg)
    return missing


def install_packages(packages: Sequence[str] = APT_PACKAGES, timeout: float = 900.0) -> None:
    """``apt-get install`` whatever of *packages* is not installed yet."""
    missing = _packages_missing(packages)
    if not missing:
        return
    # Wait for another apt/dpkg run to release its lock instead of failing at once.
    lock_wait = ["-o", f"DPkg::Lock::Timeout={int(timeout / 2)}"]
    install = ["apt-get", *lock_wait, "install", "-y", "--no-install-recommends", *missing]
    try:
        _run(install, timeout)
    except SetupError:
        _run(["apt-get", *lock_wait, "update"], timeout)
        _run(install, timeout)


def kernel_package_name(timeout: float = 120.0) -> str:
    """The versioned kernel package ``linux-image-amd64`` depends on."""
    out = _run(["apt-cache", "depends", "linux-image-amd64"], timeout)
    for line in out.splitlines():
        line = line.strip()
        if line.startswith("Depends:"):
            name = line.split(":", 1)[1].strip()
            if name.startswith("linux-image-") and name.endswith("-amd64"):
                return name
    raise SetupError("no linux-image-*-amd64 dependency of linux-image-amd64 found")


def _fetch_kernel(cache_dir: Path, timeout: float) -> str:
    """Download and unpack the kernel package; return the kernel version."""
    kernel_root = cache_dir / "kernel"
    existing = sorted((kernel_root / "lib" / "modules").glob("*")) if kernel_root.exists() else []
    for moddir in existing:
        if (kernel_root / "boot" / f"vmlinuz-{moddir.name}").exists():
            return moddir.name
    package = kernel_package_name()
    debs = cache_dir / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    try:
        _run(["apt-get", "download", package], timeout, cwd=debs)
    except SetupError:
        _run(["apt-get", "update"], timeout)
        _run(["apt-get", "download", package], timeout, cwd=debs)
    candidates = sorted(debs.glob(f"{package}_*.deb"))
    if not candidates:
        raise SetupError(f"apt-get download {package} left no .deb in {debs}")
    tmp = Path(tempfile.mkdtemp(prefix="kernel.", dir=cache_dir))
    try:
        _run(["dpkg-deb", "-x", str(candidates[-1]), str(tmp)], timeout)
        versions = [p.name for p in (tmp / "lib" / "modules").glob("*")]
        if len(versions) != 1:
            raise SetupError(f"unexpected module trees in {package}: {versions}")
        if kernel_root.exists():
            shutil.rmtree(kernel_root)
        tmp.rename(kernel_root)
        # The unpacked tree is what is kept; the package itself is not needed again.
        for deb in candidates:
            deb.unlink(missing_ok=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return versions[0]


def module_load_order(kernel_root: Path, version: str, names: Sequence[str]) -> list[Path]:
    """Module files to insmod, dependencies first, without duplicates or built-ins."""
    order: list[Path] = []
    for name in names:
        out = _run(["modprobe", "-d", str(kernel_root), "-S", version, "--show-depends", name], 60)
        for line in out.splitlines():
            parts = line.split()
            if len(parts) >= 2 and parts[0] == "insmod":
                path = Path(parts[1])
                if path not in order:
                    order.append(path)
    return order


_INITRAMFS_INIT = """#!/bin/busybox sh
# Standfast lab initramfs: load modules, mount the host root over 9p read-only with a
# tmpfs overlay on top, mount the kernel's module tree, switch_root to the guest init.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in $(cat /modules.list); do insmod /modules/$m || echo "initramfs: insmod $m failed"; done
mkdir -p /lower /rw /newroot
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144,cache=loose @ROOT_TAG@ /lower \\
  || { echo "initramfs: cannot mount @ROOT_TAG@"; poweroff -f; }
mount -t tmpfs -o mode=0755,size=256m tmpfs /rw
mkdir -p /rw/upper /rw/work
mount -t overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work overlay /newroot \\
  || { echo "initramfs: cannot mount the overlay"; poweroff -f; }
mkdir -p /newroot/usr/lib/modules
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144 @MODULES_TAG@ \\
  /newroot/usr/lib/modules || echo "initramfs: cannot mount @MODULES_TAG@"
mount --move /dev /newroot/dev
umount /proc /sys
exec switch_root /newroot @GUEST_INIT@
"""

_GUEST_INIT = """#!/bin/busybox sh
# Standfast lab guest: PID 1 on the overlay root.  busybox init reaps orphans and
# respawns the control agent; its table is written here, in the guest's own /etc.
printf '%s\\n' \
  '::sysinit:/bin/sh @SETUP@' \
  '::respawn:/usr/bin/python3 -u @AGENT@' \
  '::ctrlaltdel:/bin/busybox poweroff -f' > /etc/inittab
exec /bin/busybox init
"""

_GUEST_SETUP = r"""#!/bin/sh
# Standfast lab guest setup (busybox init's sysinit step).
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
mountpoint -q /proc || mount -t proc proc /proc
mountpoint -q /sys || mount -t sysfs sysfs /sys
mountpoint -q /dev || mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs -o mode=0755 tmpfs /run
mount -t tmpfs -o mode=1777 tmpfs /tmp
mkdir -p /run/lock /run/rpcbind /run/standfast /var/lib/nfs/sm /var/lib/nfs/sm.bak
rm -f /etc/mtab; ln -s /proc/self/mounts /etc/mtab
name=standfast-guest
nics=
for word in $(cat /proc/cmdline); do
  case "$word" in
    sf.hostname=*) name="${word#sf.hostname=}" ;;
    sf.nic=*) nics="$nics ${word#sf.nic=}" ;;
  esac
done
hostname "$name"
echo "$name" > /etc/hostname
printf '127.0.0.1\tlocalhost\n127.0.1.1\t%s\n' "$name" > /etc/hosts
ip link set lo up
# sf.nic=NAME,MAC,ADDRESS/PREFIX: rename the interface with that MAC to NAME, address it.
for nic in $nics; do
  ifname="${nic%%,*}"; rest="${nic#*,}"; mac="${rest%%,*}"; addr="${rest#*,}"
  for dev in /sys/class/net/*; do
    if [ "$(cat "$dev/address")" = "$mac" ]; then
      cur="${dev##*/}"
      ip link set dev "$cur" down
      [ "$cur" = "$ifname" ] || ip link set dev "$cur" name "$ifname"
      ip addr add "$addr" dev "$ifname"
      ip link set dev "$ifname" up
    fi
  done
done
# sf.share=TAG,PATH: a host directory that the guest's own /tmp or /run hides (a
# checkout and its virtual environment there), mounted read-only at the same path.
for word in $(cat /proc/cmdline); do
  case "$word" in
    sf.share=*)
      share="${word#sf.share=}"; tag="${share%%,*}"; dir="${share#*,}"
      mkdir -p "$dir"
      mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144,cache=loose "$tag" "$dir" \
        || echo "guest setup: cannot mount $tag at $dir"
      ;;
  esac
done
rpcbind -w >/dev/null 2>&1 || echo "guest setup: rpcbind failed"
echo "standfast guest $name ready for the agent"
"""


def _write_if_changed(path: Path, text: str, mode: int = 0o644) -> None:
    if path.exists() and path.read_text() == text:
        if (path.stat().st_mode & 0o777) != mode:
            path.chmod(mode)
        return
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.chmod(mode)
    tmp.replace(path)


def write_guest_files(guest_dir: Path) -> None:
    """(Re)write the guest's init, setup script and agent; cheap when unchanged."""
    guest_dir.mkdir(parents=True, exist_ok=True)
    agent_src = Path(__file__).with_name("agent.py")
    _write_if_changed(guest_dir / "agent.py", agent_src.read_text(), 0o755)
    _write_if_changed(guest_dir / "setup.sh", _GUEST_SETUP, 0o755)
    _write_if_changed(
        guest_dir / "init",
        _GUEST_INIT.replace("@SETUP@", str(guest_dir / "setup.sh")).replace(
            "@AGENT@", str(guest_dir / "agent.py")
        ),
        0o755,
    )


def _cpio_newc(entries: list[tuple[str, int, bytes]]) -> bytes:
    """A cpio archive in newc format: (name, mode, data) entries, then the trailer."""
    out = bytearray()
    ino = 1
    for name, mode, data in [*entries, ("TRAILER!!!", 0, b"")]:
        namez = name.encode() + b"\0"
        fields = (
            ino,
            mode,
            0,
            0,
            1 if not (mode & 0o040000) else 2,
            0,
            len(data),
            0,
            0,
            0,
            0,
            len(namez),
            0,
        )
        out += b"070701" + b"".join(b"%08X" % f for f in fields)
        out += namez
        out += b"\0" * ((-len(out)) % 4)
        out += data
        out += b"\0" * ((-len(out)) % 4)
        ino += 1
    return bytes(out)


def build_initramfs(
    kernel_root: Path, version: str, guest_init: Path, dest: Path, modules: Sequence[str]
) -> None:
    """Write a gzip'd newc initramfs with busybox, the module files and /init."""
    order = module_load_order(kernel_root, version, modules)
    entries: list[tuple[str, int, bytes]] = []
    for d in ("bin", "dev", "proc", "sys", "modules", "lower", "rw", "newroot"):
        entries.append((d, 0o040755, b""))
    entries.append(("bin/busybox", 0o100755, BUSYBOX.read_bytes()))
    names: list[str] = []
    for i, path in enumerate(order):
        data = path.read_bytes()
        name = path.name
        if name.endswith(".xz"):
            import lzma

            data = lzma.decompress(data)
            name = name[: -len(".xz")]
        elif name.endswith(".zst"):
            raise SetupError(f"zstd-compressed module {path} is not supported")
        fname = f"{i:02d}-{name}"
        names.append(fname)
        entries.append((f"modules/{fname}", 0o100644, data))
    entries.append(("modules.list", 0o100644, ("\n".join(names) + "\n").encode()))
    init = (
        _INITRAMFS_INIT.replace("@ROOT_TAG@", ROOT_TAG)
        .replace("@MODULES_TAG@", MODULES_TAG)
        .replace("@GUEST_INIT@", str(guest_init))
    )
    entries.append(("init", 0o100755, init.encode()))
    tmp = dest.with_name(dest.name + ".tmp")
    tmp.write_bytes(gzip.compress(_cpio_newc(entries), compresslevel=6))
    tmp.replace(dest)


#: Guests mount their own file systems over these, hiding the host's files there.
_HIDDEN_IN_GUEST = ("/tmp", "/run", "/dev", "/proc", "/sys", "/var/run")


#: Of those, where a host directory can be shared with the guests at the same path.
_SHAREABLE = ("/tmp", "/run", "/dev/shm")


def hidden_in_guest(path: Path) -> str | None:
    """The guest mount that hides *path* (resolved), or None when guests see it."""
    resolved = path.resolve()
    for hidden in _HIDDEN_IN_GUEST:
        if resolved == Path(hidden) or resolved.is_relative_to(hidden):
            return hidden
    return None


def shares_for(paths: Sequence[Path]) -> list[str]:
    """Host directories to share with the guests so they see every one of *paths*
    (the lab's Python environment and package) at the same path: none for paths
    the root share shows.  One share per top directory under a hidden mount
    (``/tmp/x/.venv`` and ``/tmp/x/src`` give ``/tmp/x``).  Raises SetupError
    (190903) for a path that cannot be shared (under /proc, /sys, /dev) or whose
    name the guest's kernel command line cannot carry."""
    out: list[str] = []
    for path in paths:
        resolved = path.resolve()
        hidden = hidden_in_guest(resolved)
        if hidden is None:
            continue
        base = next((Path(b) for b in _SHAREABLE if resolved.is_relative_to(b)), None)
        bad = base is None or resolved == base or any(c in str(resolved) for c in " \t\n,\"'")
        if bad:
            raise SetupError(render("190903", path=str(path), hidden=hidden))
        assert base is not None
        top = base / resolved.relative_to(base).parts[0]
        if str(top) not in out:
            out.append(str(top))
    return out


def _check_cache_dir(cache_dir: Path) -> None:
    resolved = cache_dir.resolve()
    for hidden in _HIDDEN_IN_GUEST:
        if resolved == Path(hidden) or resolved.is_relative_to(hidden):
            raise SetupError(
                f"cache directory {cache_dir} is under {hidden}, which the guests cover "
                "with their own mounts; use a directory such as /var/cache/standfast/lab"
            )


def load_image(cache_dir: Path = DEFAULT_CACHE_DIR) -> LabImage:
    """The image made by :func:`setup`; raises :class:`SetupError` when there is none."""
    _check_cache_dir(cache_dir)
    meta_path = cache_dir / "image.json"
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, ValueError) as exc:
        raise SetupError(f"lab not set up in {cache_dir} (run lab setup)") from exc
    if meta.get("format") != _IMAGE_FORMAT:
        raise SetupError(f"lab image in {cache_dir} is outdated (run lab setup)")
    image = LabImage(
        cache_dir=cache_dir,
        version=str(meta["version"]),
        kernel=Path(meta["kernel"]),
        initrd=Path(meta["initrd"]),
        modules_dir=Path(meta["modules_dir"]),
        guest_dir=Path(meta["guest_dir"]),
    )
    for p in (image.kernel, image.initrd, image.modules_dir / image.version):
        if not p.exists():
            raise SetupError(f"lab image incomplete: {p} is missing (run lab setup)")
    write_guest_files(image.guest_dir)
    return image


def setup(
    cache_dir: Path = DEFAULT_CACHE_DIR,
    *,
    install: bool = True,
    timeout: float = 900.0,
) -> LabImage:
    """Install the packages and build the cached guest image; idempotent."""
    _check_cache_dir(cache_dir)
    if install:
        install_packages(APT_PACKAGES, timeout)
    try:
        return load_image(cache_dir)
    except SetupError:
        pass
    for tool in (BUSYBOX, QEMU):
        if not tool.exists():
            raise SetupError(f"{tool} is missing (install {', '.join(APT_PACKAGES)})")
    cache_dir.mkdir(parents=True, exist_ok=True)
    version = _fetch_kernel(cache_dir, timeout)
    kernel_root = cache_dir / "kernel"
    _run(["depmod", "-b", str(kernel_root), version], timeout)
    guest_dir = cache_dir / "guest"
    write_guest_files(guest_dir)
    initrd = cache_dir / "initramfs.cpio.gz"
    build_initramfs(kernel_root, version, guest_dir / "init", initrd, INITRAMFS_MODULES)
    meta = {
        "format": _IMAGE_FORMAT,
        "version": version,
        "kernel": str(kernel_root / "boot" / f"vmlinuz-{version}"),
        "initrd": str(initrd),
        "modules_dir": str(kernel_root / "lib" / "modules"),
        "guest_dir": str(guest_dir),
    }
    _write_if_changed(cache_dir / "image.json", json.dumps(meta, indent=2) + "\n")
    return load_image(cache_dir)
