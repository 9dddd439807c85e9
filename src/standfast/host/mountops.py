"""mount(8) and umount(8), always through argv lists with a deadline."""

from __future__ import annotations

from collections.abc import Sequence

from standfast.host.commands import CommandResult, run, system_tool

# A missing tool is left to run(), which reports 127 with a clear message.
MOUNT_BIN = system_tool("mount") or "mount"
UMOUNT_BIN = system_tool("umount") or "umount"

#: umount(8) exit status meaning "mount failure" (busy, not mounted, ...).
_BUSY_WORDS = ("target is busy", "device is busy", "device or resource busy")
_NOT_MOUNTED_WORDS = ("not mounted", "no mount point specified")


def mount_argv(
    source: str, target: str, *, fstype: str | None, options: Sequence[str]
) -> list[str]:
    for opt in options:
        if not opt or "," in opt:
            raise ValueError(f"bad mount option (empty or with a comma): {opt!r}")
    argv = [MOUNT_BIN, "--no-canonicalize"]
    if fstype:
        argv += ["-t", fstype]
    if options:
        argv += ["-o", ",".join(options)]
    return [*argv, "--", source, target]


def mount(
    source: str,
    target: str,
    *,
    fstype: str | None,
    options: Sequence[str] = (),
    timeout: float,
) -> CommandResult:
    """``mount -t FSTYPE -o OPTIONS -- SOURCE TARGET`` with a deadline."""
    return run(mount_argv(source, target, fstype=fstype, options=options), timeout=timeout)


def umount_argv(
    target: str, *, force: bool = False, lazy: bool = False, internal_only: bool = False
) -> list[str]:
    # --no-canonicalize: umount must not stat the target (it may be a hung NFS
    # mount). -i: do not call umount.<type> helpers, which may talk to the server.
    argv = [UMOUNT_BIN, "--no-canonicalize"]
    if internal_only:
        argv.append("-i")
    if force:
        argv.append("-f")
    if lazy:
        argv.append("-l")
    return [*argv, "--", target]


def umount(
    target: str,
    *,
    timeout: float,
    force: bool = False,
    lazy: bool = False,
    internal_only: bool = False,
) -> CommandResult:
    """``umount [-f] [-l] -- TARGET`` with a deadline."""
    return run(
        umount_argv(target, force=force, lazy=lazy, internal_only=internal_only),
        timeout=timeout,
    )


def is_busy(result: CommandResult) -> bool:
    """True if umount failed because the mount is in use."""
    text = result.stderr.lower()
    return not result.ok and any(w in text for w in _BUSY_WORDS)


def is_not_mounted(result: CommandResult) -> bool:
    text = result.stderr.lower()
    return not result.ok and any(w in text for w in _NOT_MOUNTED_WORDS)
