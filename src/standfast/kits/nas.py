"""The NAS kit: an NFS export (device resource) and its mount point (file system).

Creating a NAS hierarchy on a server takes a file system that is already
NFS-mounted there and puts it under protection: a ``nas`` device resource for
the export (id ``IP:/export``) and a ``filesys`` resource for the mount point
that depends on it. The cluster then owns the mount, so its /etc/fstab entry is
removed (and put back when the hierarchy is deleted).
"""

from __future__ import annotations

import contextlib
import os
import zlib
from collections.abc import Mapping
from typing import ClassVar

from standfast.host import fstab, mounts, nfs_client, system
from standfast.host.mountops import mount as do_mount
from standfast.host.probe import probe_mount_point
from standfast.host.starved import HostStarved, starved
from standfast.host.unmount import KillPolicy, UnmountReport, unmount_without_hanging
from standfast.kits.base import (
    CheckResult,
    CreatePlan,
    CreateRequest,
    Kit,
    KitContext,
    require_tag_free,
)
from standfast.kits.nfs_source import (
    NfsSource,
    default_filesys_tag,
    device_id,
    parse_source,
    remount_options,
    semantics_explicit,
)
from standfast.kits.schema import PropertySpec
from standfast.messages import StandfastError
from standfast.model.config import ClusterConfig
from standfast.model.resources import Dependency, PropValue, Resource
from standfast.model.tags import validate_tag
from standfast.nfs.checks import AccessResult, check_export_access, null_call, resolve_host
from standfast.nfs.errors import NfsCheckError

NFS_TYPES = ("nfs", "nfs4")


def _mount_table(ctx: KitContext) -> list[mounts.MountEntry]:
    try:
        return mounts.read_mountinfo(ctx.paths.mountinfo)
    except OSError as exc:
        if starved(exc):  # this daemon is short of descriptors: no verdict on the mount
            raise HostStarved(str(ctx.paths.mountinfo), exc) from exc
        raise StandfastError("107008", server=ctx.server) from None


def check_mount_point_free(path: str, ctx: KitContext) -> None:
    """104901-104903: a mount point given for a server must be absolute, unmounted,
    and empty or absent."""
    if not path.startswith("/"):
        raise StandfastError("104902", mount_point=path)
    if mounts.find_mount(path, _mount_table(ctx)) is not None:
        raise StandfastError("104901", mount_point=path)
    if os.path.isdir(path) and os.listdir(path):
        raise StandfastError("104903", mount_point=path)


def _kill_policy(ctx: KitContext) -> KillPolicy:
    t = ctx.tunables
    return KillPolicy(term_wait=t.SF_UMOUNT_TERM_WAIT, kill=t.SF_UMOUNT_KILL)


def _report_unmount(ctx: KitContext, mount_point: str, report: UnmountReport) -> None:
    if report.signalled:
        by_signal: dict[str, list[str]] = {}
        for s in report.signalled:
            by_signal.setdefault(s.signal, []).append(f"{s.pid} ({s.comm})")
        for sig, pids in by_signal.items():
            ctx.log.add("190412", mount_point=mount_point, signal=sig, pids=", ".join(pids))
    if report.method in ("force", "lazy"):
        ctx.log.add("190413", mount_point=mount_point, method=report.method)


class NasDeviceKit(Kit):
    name = "nas"
    description = "An NFS export on a NAS device or NFS server (id IP:/export)"
    schema: ClassVar[tuple[PropertySpec, ...]] = (
        PropertySpec(
            "nfs_server", "str", "IP address of the NFS server", required=True, mutable=False
        ),
        PropertySpec(
            "export", "str", "Exported path on the NFS server", required=True, mutable=False
        ),
        PropertySpec("host_name", "str", "Host name the export was first mounted by", ""),
    )

    def plan_create(self, ctx: KitContext, req: CreateRequest, config: ClusterConfig) -> CreatePlan:
        """Given a mount point, the whole NAS hierarchy (as the guide's wizard does);
        given ``IP:/export``, the device alone, for applications that use the NAS
        without a protected mount."""
        rid = req.id or ""
        if rid.startswith("/") or not rid:
            return FilesysKit().plan_create(ctx, req, config)
        source = parse_source(rid)
        if not source.is_ip:
            raise StandfastError("107004", device=rid)
        tag = validate_tag(req.tag or _free_device_tag(config, ctx.server, rid))
        require_tag_free(config, ctx.server, tag, self.name, rid)
        dev = self.local_resource(
            ctx,
            req,
            tag,
            rid,
            {"nfs_server": source.host, "export": source.export, "host_name": ""},
        )
        return CreatePlan((dev,), (), tag)

    def restore(self, ctx: KitContext, resource: Resource) -> None:
        result = self._access(ctx, resource)
        if not result.ok:
            notice = result.notice()
            if notice is not None:
                ctx.log.add(notice.code, **notice.params)
            raise StandfastError("107005", tag=resource.tag, server=ctx.server)

    def remove(self, ctx: KitContext, resource: Resource) -> None:
        """Nothing to stop: the NAS itself is not ours to protect."""

    def quick_check(self, ctx: KitContext, resource: Resource) -> CheckResult:
        host = str(resource.props["nfs_server"])
        timeout = ctx.tunables.SF_NFS_RPC_TIMEOUT
        try:
            null_call(host, timeout=timeout)
        except NfsCheckError as exc:
            return CheckResult.bad(
                "190407",
                nas_access=True,
                nfs_server=host,
                seconds=f"{timeout:g}",
                reason=str(exc),
            )
        return CheckResult.good()

    def deep_check(self, ctx: KitContext, resource: Resource) -> CheckResult:
        return self._access(ctx, resource)

    def can_extend(self, ctx: KitContext, resource: Resource) -> None:
        """On the target: the export must be accessible from this server's addresses."""
        result = self._access(ctx, resource)
        if not result.ok:
            raise StandfastError(result.code, **result.params)

    def _access(self, ctx: KitContext, resource: Resource) -> CheckResult:
        host = str(resource.props["nfs_server"])
        export = str(resource.props["export"])
        timeout = ctx.tunables.SF_NFS_RPC_TIMEOUT
        access = check_export_access(
            host,
            export,
            [a.address for a in system.local_addresses()],
            [ctx.server, system.hostname()],
            timeout=timeout,
        )
        if access.result is AccessResult.OK:
            return CheckResult.good()
        if access.result is AccessResult.AUTH_HUNG:
            return CheckResult.bad(
                "107013", nas_access=True, ip=host, export=export, server=ctx.server
            )
        if access.result in (AccessResult.SERVER_DOWN, AccessResult.SERVER_HUNG):
            return CheckResult.bad(
                "190407", nas_access=True, nfs_server=host, seconds=f"{timeout:g}"
            )
        return CheckResult.bad(
            "107012", nas_access=True, export=f"{host}:{export}", server=ctx.server
        )


class FilesysKit(Kit):
    name = "filesys"
    description = "An NFS-mounted file system (id = mount point) on top of a NAS device"
    supports_recover = True
    schema: ClassVar[tuple[PropertySpec, ...]] = (
        PropertySpec("source", "str", "What is mounted: IP:/export", required=True, mutable=False),
        PropertySpec("fstype", "choice", "File system type", "nfs", choices=NFS_TYPES),
        PropertySpec("options", "str", "Mount options, comma separated", ""),
        PropertySpec(
            "fstab_lines", "str", "The /etc/fstab lines removed at create, put back at delete", ""
        ),
    )

    # -- create --------------------------------------------------------------

    def plan_create(self, ctx: KitContext, req: CreateRequest, config: ClusterConfig) -> CreatePlan:
        mount_point = req.id or str(req.props.get("mount_point", ""))
        if not mount_point:
            raise StandfastError("107006")
        if not mount_point.startswith("/"):
            raise StandfastError("104902", mount_point=mount_point)
        mount_point = mount_point.rstrip("/") or "/"
        entry = mounts.find_mount(mount_point, _mount_table(ctx))
        if entry is None or entry.fstype not in NFS_TYPES:
            raise StandfastError("190402", mount_point=mount_point, server=ctx.server)
        if not entry.source:
            raise StandfastError("107007", server=ctx.server)
        source = parse_source(entry.source)
        try:
            table = fstab.read_fstab(ctx.paths.fstab)
        except OSError:
            table = []
        same_fs = [e for e in table if e.spec == entry.source]
        if len(same_fs) > 1:
            raise StandfastError(
                "190401", export=entry.source, count=len(same_fs), fstab=ctx.paths.fstab
            )
        own_lines = [e for e in table if e.file.rstrip("/") == mount_point]
        options = remount_options(entry.options, entry.super_options)
        asked = [o for e in own_lines for o in e.mntops] or options
        if not semantics_explicit(asked):
            ctx.log.add("190404", mount_point=mount_point, options=",".join(asked))

        fs_tag = validate_tag(req.tag or default_filesys_tag(mount_point, ctx.server))
        host_name = ""
        if not source.is_ip:
            host_name = source.host
            source = self._remount_by_ip(ctx, mount_point, source, entry.fstype, options)

        dev_id = device_id(source)
        existing_dev = next(
            (
                r
                for r in config.resources.values()
                if r.server == ctx.server and r.kit == "nas" and r.id == dev_id
            ),
            None,
        )
        if any(
            r.server == ctx.server
            and (r.tag == fs_tag or (r.kit == self.name and r.id == mount_point))
            for r in config.resources.values()
        ):
            raise StandfastError("000014", tag=fs_tag)
        fs = self.local_resource(
            ctx,
            req,
            fs_tag,
            mount_point,
            {
                "source": str(source),
                "fstype": entry.fstype,
                "options": ",".join(options),
                "fstab_lines": "\n".join(e.raw for e in own_lines),
            },
        )
        if existing_dev is not None:
            # Active/active setups share one export device between mount points.
            dev = existing_dev
            new: tuple[Resource, ...] = (fs,)
        else:
            dev_tag = _free_device_tag(config, ctx.server, dev_id)
            dev = NasDeviceKit().local_resource(
                ctx,
                req,
                dev_tag,
                dev_id,
                {"nfs_server": source.host, "export": source.export, "host_name": host_name},
            )
            new = (dev, fs)
        return CreatePlan(new, (Dependency(ctx.server, fs.tag, dev.tag),), fs.tag)

    def _remount_by_ip(
        self,
        ctx: KitContext,
        mount_point: str,
        source: NfsSource,
        fstype: str,
        options: list[str],
    ) -> NfsSource:
        timeout = ctx.tunables.SF_NFS_RPC_TIMEOUT
        try:
            addresses = resolve_host(source.host, timeout=timeout)
        except NfsCheckError as exc:
            ctx.log.add("190419", host=source.host, reason=exc)
            raise StandfastError("107002", nfs_server=source.host, server=ctx.server) from None
        active = None
        for addr in addresses:
            try:
                null_call(str(addr), timeout=timeout)
            except NfsCheckError:
                continue
            active = str(addr)
            break
        if active is None:
            raise StandfastError("107003", nfs_server=source.host, server=ctx.server)
        ctx.log.add("190403", mount_point=mount_point, host=source.host, ip=active)
        by_ip = source.with_host(active)
        report = unmount_without_hanging(
            mount_point, policy=_kill_policy(ctx), timeout=ctx.tunables.LKNFSTIMEOUT
        )
        _report_unmount(ctx, mount_point, report)
        if not report.ok:
            raise StandfastError("190415", mount_point=mount_point, reason=_failure(report))
        self._mount(ctx, str(by_ip), mount_point, fstype, options)
        return by_ip

    def props_for_copy(self, props: Mapping[str, PropValue]) -> dict[str, PropValue]:
        # The fstab lines were removed on the template server only: a copy never puts
        # them into another server's fstab at delete.
        return {**props, "fstab_lines": ""}

    def can_extend(self, ctx: KitContext, resource: Resource) -> None:
        """On the target: its mount point must be absolute, not mounted, and empty or
        absent (104901-104903), and the kit must be able to make mount points there
        (107011, checked with a temporary one as the guide's kit does)."""
        check_mount_point_free(resource.id, ctx)
        temp = f"/tmp/nas_mntpt.{os.getpid()}"
        try:
            os.makedirs(temp, exist_ok=True)
        except OSError as exc:
            raise StandfastError(
                "107011", dir=temp, server=ctx.server, reason=exc.strerror
            ) from None
        with contextlib.suppress(OSError):
            os.rmdir(temp)

    def after_create(self, ctx: KitContext, resource: Resource) -> None:
        if not str(resource.props.get("fstab_lines", "")):
            return
        ctx.log.line("Removing /etc/fstab entry")
        change = fstab.remove_entries(
            ctx.paths.fstab,
            lambda e: e.file.rstrip("/") == resource.id,
            backup_dir=ctx.paths.fstab_backups,
        )
        ctx.log.add("190405", mount_point=resource.id, backup=change.backup)

    def delete(self, ctx: KitContext, resource: Resource) -> None:
        lines = [ln for ln in str(resource.props.get("fstab_lines", "")).splitlines() if ln]
        if lines:
            ctx.log.add("190406", mount_point=resource.id)
            fstab.add_lines(ctx.paths.fstab, lines)

    # -- actions -------------------------------------------------------------

    def _mount(
        self, ctx: KitContext, source: str, mount_point: str, fstype: str, options: list[str]
    ) -> None:
        try:
            os.makedirs(mount_point, exist_ok=True)
        except OSError as exc:
            raise StandfastError(
                "107011", dir=mount_point, server=ctx.server, reason=exc.strerror
            ) from None
        result = do_mount(
            source,
            mount_point,
            fstype=fstype,
            options=options,
            timeout=ctx.tunables.LKNFSTIMEOUT,
        )
        if result.timed_out or result.returncode != 0:
            reason = "timed out" if result.timed_out else result.stderr.strip()
            raise StandfastError("190414", source=source, mount_point=mount_point, reason=reason)

    def prepare(self, ctx: KitContext, resource: Resource) -> list[str]:
        """The NFS client modules loaded, rpc.statd running when the options lock, the
        mount point made (host/nfs_client.py): a standby's first mount after boot then
        waits for none of them."""
        options = [o for o in str(resource.props.get("options", "")).split(",") if o]
        fstype = str(resource.props.get("fstype", "nfs"))
        steps = nfs_client.prepare_client(resource.id, fstype, options)
        failed = [s.error for s in steps if s.error]
        if failed:
            raise StandfastError(
                "190422", tag=resource.tag, server=ctx.server, reason="; ".join(failed)
            )
        return [s.done for s in steps if s.done]

    def restore(self, ctx: KitContext, resource: Resource) -> None:
        source = str(resource.props["source"])
        entry = mounts.find_mount(resource.id, _mount_table(ctx))
        if entry is not None:
            if entry.source == source:
                return  # already mounted: restore is idempotent
            raise StandfastError("104901", mount_point=resource.id)
        options = [o for o in str(resource.props.get("options", "")).split(",") if o]
        self._mount(ctx, source, resource.id, str(resource.props.get("fstype", "nfs")), options)

    def remove(self, ctx: KitContext, resource: Resource) -> None:
        report = unmount_without_hanging(
            resource.id, policy=_kill_policy(ctx), timeout=ctx.tunables.LKNFSTIMEOUT
        )
        _report_unmount(ctx, resource.id, report)
        if not report.ok:
            raise StandfastError("190415", mount_point=resource.id, reason=_failure(report))

    def quick_check(self, ctx: KitContext, resource: Resource) -> CheckResult:
        source = str(resource.props["source"])
        entry = mounts.find_mount(resource.id, _mount_table(ctx))
        if entry is None or entry.source != source:
            return CheckResult.bad(
                "190409", mount_point=resource.id, source=source, server=ctx.server
            )
        t = ctx.tunables
        probe = probe_mount_point(
            resource.id,
            syscall_timeout=float(t.LKNFSSYSCALLTO),
            overall_timeout=float(t.LKNFSTIMEOUT),
            tries=3,
        )
        if not probe.ok:
            return CheckResult.bad(
                "190408",
                nas_access=True,
                mount_point=resource.id,
                call="stat",
                seconds=t.LKNFSSYSCALLTO,
                attempt=probe.attempts,
                tries=3,
            )
        return CheckResult.good()

    def recover(self, ctx: KitContext, resource: Resource) -> bool:
        """Remount in place: always for a missing mount (the guide's local recovery of
        a host-name mount); after a NAS access failure only when SF_NAS_LOCAL_RECOVERY."""
        entry = mounts.find_mount(resource.id, _mount_table(ctx))
        mounted_right = entry is not None and entry.source == str(resource.props["source"])
        if mounted_right and not ctx.tunables.SF_NAS_LOCAL_RECOVERY:
            return False
        ctx.log.add("190416", tag=resource.tag, mount_point=resource.id)
        if entry is not None:
            report = unmount_without_hanging(
                resource.id,
                policy=KillPolicy(term_wait=0.0, kill=False, signal_users=False),
                timeout=float(ctx.tunables.LKNFSSYSCALLTO),
            )
            if not report.ok:
                return False
        try:
            self.restore(ctx, resource)
        except StandfastError as exc:
            ctx.log.add(exc.code, **exc.params)
            return False
        return self.quick_check(ctx, resource).ok


def _failure(report: UnmountReport) -> str:
    failed = [f"{s.action}: {s.detail}" for s in report.steps if not s.ok]
    return "; ".join(failed[-2:]) or "unmount failed"


def _free_device_tag(config: ClusterConfig, server: str, dev_id: str) -> str:
    """``device-nas<number>`` as in the guide, stable for one export."""
    n = zlib.crc32(dev_id.encode()) % 90000 + 10000
    taken = {r.tag for r in config.resources.values() if r.server == server}
    while f"device-nas{n}" in taken:
        n += 1
    return f"device-nas{n}"


__all__ = ["FilesysKit", "NasDeviceKit", "check_mount_point_free"]


def mount_candidates(ctx: KitContext, config: ClusterConfig) -> list[dict[str, str]]:
    """The NFS file systems mounted on this server: what a NAS hierarchy can be created
    from, each with the root tag this kit gives it by default here and whether a file
    system resource already protects it. Reads the mount table only (never the mounts)."""
    entries = mounts.nfs_mounts(mounts.read_mountinfo(ctx.paths.mountinfo))
    protected = {
        r.id for r in config.resources.values() if r.server == ctx.server and r.kit == "filesys"
    }
    return [
        {
            "mount_point": e.mount_point,
            "source": e.source,
            "fstype": e.fstype,
            "protected": str(e.mount_point in protected).lower(),
            "default_tag": default_filesys_tag(e.mount_point, ctx.server),
        }
        for e in entries
    ]
