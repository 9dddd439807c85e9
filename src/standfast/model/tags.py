"""Tag and priority rules (REQUIREMENTS section 1).

Every function here either returns the checked value or raises a
:class:`StandfastError` with a catalogue code; no other exception escapes, whatever
the input (the unit tests check this with generated input).
"""

from __future__ import annotations

import re

from standfast.messages import StandfastError
from standfast.model.states import State, Switchback

TAG_MAX = 256
_TAG_CHARS = re.compile(r"[A-Za-z0-9_./-]+")
# "." and ".." as path segments: a client or proxy that normalizes URLs would resolve
# them, so `x/../db` could address `db`.
_DOT_SEGMENTS = frozenset({".", ".."})
PRIORITY_MIN = 1
PRIORITY_MAX = 999


def validate_tag(tag: str) -> str:
    """``tag`` when it is 1-256 of ``A-Z a-z 0-9 - _ . /``, does not start with ``.``
    or ``/`` and has no ``.`` or ``..`` path segment; else 190001-190004 or 190022."""
    if not isinstance(tag, str) or not tag:
        raise StandfastError("190004")
    if len(tag) > TAG_MAX:
        raise StandfastError("190003", tag=tag[:40] + "...")
    if not _TAG_CHARS.fullmatch(tag):
        raise StandfastError("190001", tag=tag)
    if tag[0] in "./":
        raise StandfastError("190002", tag=tag)
    if _DOT_SEGMENTS.intersection(tag.split("/")):
        raise StandfastError("190022", tag=tag)
    return tag


def validate_priority(priority: int) -> int:
    """``priority`` when it is a whole number 1-999 (not a boolean, which Python and
    JSON would otherwise count as 1); else 190005."""
    if isinstance(priority, bool) or not isinstance(priority, int):
        raise StandfastError("190005", priority=priority)
    if not PRIORITY_MIN <= priority <= PRIORITY_MAX:
        raise StandfastError("190005", priority=priority)
    return priority


def parse_switchback(value: str) -> Switchback:
    try:
        return Switchback(value.lower())
    except (ValueError, AttributeError):
        raise StandfastError("190014", value=value) from None


def parse_state(value: str) -> State:
    try:
        return State(value.upper())
    except (ValueError, AttributeError):
        raise StandfastError("190020", value=value) from None
