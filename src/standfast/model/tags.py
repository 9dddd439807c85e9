"""Tag and priority rules (REQUIREMENTS section 1)."""

from __future__ import annotations

import re

from standfast.messages import StandfastError
from standfast.model.states import State, Switchback

TAG_MAX = 256
_TAG_CHARS = re.compile(r"[A-Za-z0-9_./-]+")
PRIORITY_MIN = 1
PRIORITY_MAX = 999


def validate_tag(tag: str) -> str:
    if not tag:
        raise StandfastError("190004")
    if len(tag) > TAG_MAX:
        raise StandfastError("190003", tag=tag[:40] + "...")
    if not _TAG_CHARS.fullmatch(tag):
        raise StandfastError("190001", tag=tag)
    if tag[0] in "./":
        raise StandfastError("190002", tag=tag)
    return tag


def validate_priority(priority: int) -> int:
    if not PRIORITY_MIN <= priority <= PRIORITY_MAX:
        raise StandfastError("190005", priority=priority)
    return priority


def parse_switchback(value: str) -> Switchback:
    try:
        return Switchback(value.lower())
    except ValueError:
        raise StandfastError("190014", value=value) from None


def parse_state(value: str) -> State:
    try:
        return State(value.upper())
    except ValueError:
        raise StandfastError("190020", value=value) from None
