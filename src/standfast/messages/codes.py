"""Names for the message codes the cluster communication layer logs by constant.

The catalogue texts (English and Japanese) live in :mod:`standfast.messages`; this module
only names the codes so the cluster code can log them as ``f"{code}: text"``.
"""

from __future__ import annotations

from typing import Final

KEY_PERMISSIONS: Final = "191001"
"""The cluster key file is readable by group/others, not a regular file, or not ours."""
KEY_TOO_SHORT: Final = "191002"
"""The cluster key is shorter than the minimum length."""
FORGED_MESSAGE: Final = "191003"
"""A datagram failed authentication (bad signature, malformed, wrong cluster)."""
WRONG_PROTOCOL: Final = "191013"
"""A datagram or frame of another cluster protocol version (an incompatible release)."""
REPLAYED_MESSAGE: Final = "191004"
"""A datagram was a replay or its timestamp was outside the allowed skew."""
PATH_DEAD: Final = "191005"
"""A communication path to a peer went DEAD."""
PATH_ALIVE: Final = "191006"
"""A communication path to a peer became ALIVE."""
SERVER_FAILED: Final = "191007"
"""Every communication path to a peer is DEAD: the peer is considered failed."""
SERVER_LEFT: Final = "198205"
"""Every path to a peer that said it was stopping is DEAD: it left (engine/leave.py)."""
KEY_INVALID: Final = "191008"
"""The cluster key file is missing, unreadable, or not valid base64."""
HEARTBEAT_BIND_FAILED: Final = "191009"
"""A heartbeat socket could not be bound to its local address and port."""
KEY_RELOADED: Final = "191022"
"""The cluster keys in use changed (a rotation step, or SIGHUP after an edit)."""
KEY_RELOAD_FAILED: Final = "191025"
"""The key file could not be read again (SIGHUP); the keys in use are kept."""

__all__ = [
    "FORGED_MESSAGE",
    "HEARTBEAT_BIND_FAILED",
    "KEY_INVALID",
    "KEY_PERMISSIONS",
    "KEY_RELOADED",
    "KEY_RELOAD_FAILED",
    "KEY_TOO_SHORT",
    "PATH_ALIVE",
    "PATH_DEAD",
    "REPLAYED_MESSAGE",
    "SERVER_FAILED",
    "WRONG_PROTOCOL",
]
