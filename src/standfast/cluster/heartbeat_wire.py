"""What a heartbeat datagram carries (the body of a sealed ``"heartbeat"`` envelope).

Body fields: ``"net"`` (the comm path's network name), ``"inc"`` (the sender's
incarnation), ``"interval"`` (its send interval, seconds), ``"view"`` (``{peer: {network:
"ALIVE" | "DEAD"}}``, the sender's own path states) and ``"payload"`` (a JSON object of
at most :data:`MAX_PAYLOAD_BYTES` bytes for higher layers). Everything here is pure:
bad input raises :class:`~standfast.cluster.auth.Malformed` (received bodies) or
ValueError (a payload to send) and changes nothing.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Final

from standfast.cluster.auth import JSONObject, JSONValue, Malformed
from standfast.cluster.comm_paths import PathState

HEARTBEAT_TYPE: Final = "heartbeat"
MAX_PAYLOAD_BYTES: Final = 32768  # leaves room in a 64 KiB datagram for the envelope


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """A received heartbeat's body, checked."""

    network: str
    incarnation: int
    view: dict[str, dict[str, PathState]]
    payload: JSONObject
    # Round trips: when the sender sent this (its own monotonic clock), and the echo of
    # the receiver's last such time with how long the sender held it before this send.
    sent: float | None = None
    echo: tuple[float, float] | None = None


def heartbeat_body(
    network: str,
    incarnation: int,
    interval: float,
    view: JSONValue,
    payload: JSONObject,
    sent: float | None = None,
    echo: tuple[float, float] | None = None,
) -> JSONObject:
    """The body to seal for one path's heartbeat. ``sent`` and ``echo`` measure round
    trips on the sender's own clock: the peer sends ``sent`` back as ``echo[0]`` with
    ``echo[1]`` the seconds it held it, so round trip = now - echo[0] - echo[1]."""
    body: JSONObject = {
        "net": network,
        "inc": incarnation,
        "interval": interval,
        "view": view,
        "payload": payload,
    }
    if sent is not None:
        body["t"] = sent
    if echo is not None:
        body["echo"] = [echo[0], echo[1]]
    return body


def _seconds(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise Malformed(f"heartbeat time {value!r} is not a number")
    return float(value)


def parse_heartbeat(body: JSONObject) -> Heartbeat:
    """Check a received body; raises Malformed when a field is missing or wrong."""
    net = body.get("net")
    inc = body.get("inc")
    view_raw = body.get("view")
    payload = body.get("payload", {})
    if not isinstance(net, str) or isinstance(inc, bool) or not isinstance(inc, int):
        raise Malformed("heartbeat lacks its network or incarnation")
    if not isinstance(view_raw, dict) or not isinstance(payload, dict):
        raise Malformed("heartbeat view or payload is not an object")
    view: dict[str, dict[str, PathState]] = {}
    for peer, nets in view_raw.items():
        if not isinstance(nets, dict):
            raise Malformed("heartbeat view entry is not an object")
        entry: dict[str, PathState] = {}
        for network, state in nets.items():
            if state not in (PathState.ALIVE.value, PathState.DEAD.value):
                raise Malformed(f"heartbeat view holds unknown state {state!r}")
            entry[network] = PathState(state)
        view[peer] = entry
    sent = _seconds(body["t"]) if "t" in body else None
    echo_raw = body.get("echo")
    echo = None
    if echo_raw is not None:
        if not isinstance(echo_raw, list) or len(echo_raw) != 2:
            raise Malformed("heartbeat echo is not [time, held]")
        echo = (_seconds(echo_raw[0]), _seconds(echo_raw[1]))
    return Heartbeat(net, inc, view, payload, sent, echo)


def checked_payload(payload: JSONObject) -> JSONObject:
    """A private copy of a payload to send; ValueError unless it is a JSON object of at
    most :data:`MAX_PAYLOAD_BYTES` bytes."""
    if not isinstance(payload, dict):
        raise ValueError("heartbeat payload must be a JSON object")
    try:
        text = json.dumps(payload, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"heartbeat payload is not JSON-serialisable: {exc}") from None
    if len(text) > MAX_PAYLOAD_BYTES:
        raise ValueError(f"heartbeat payload is {len(text)} bytes, more than {MAX_PAYLOAD_BYTES}")
    copied: JSONObject = json.loads(text)
    return copied


__all__ = [
    "HEARTBEAT_TYPE",
    "MAX_PAYLOAD_BYTES",
    "Heartbeat",
    "checked_payload",
    "heartbeat_body",
    "parse_heartbeat",
]
