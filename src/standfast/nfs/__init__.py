"""NFS protocol-level checks (portmapper, NFS NULL, MOUNT EXPORT/MNT) with deadlines.

Pure Python over stdlib sockets; synchronous (run them in worker threads). Nothing
here touches the kernel NFS client, so a hung NAS gives a timeout, never a hang.
"""

from standfast.nfs.checks import (
    AccessResult,
    Export,
    ExportAccess,
    IPAddress,
    MountAuth,
    check_export_access,
    client_allowed,
    export_list,
    get_port,
    mount_authorized,
    null_call,
    resolve_host,
)
from standfast.nfs.errors import NfsCheckError, NfsProtocolError, NfsTimeout, NfsUnreachable

__all__ = [
    "AccessResult",
    "Export",
    "ExportAccess",
    "IPAddress",
    "MountAuth",
    "NfsCheckError",
    "NfsProtocolError",
    "NfsTimeout",
    "NfsUnreachable",
    "check_export_access",
    "client_allowed",
    "export_list",
    "get_port",
    "mount_authorized",
    "null_call",
    "resolve_host",
]
