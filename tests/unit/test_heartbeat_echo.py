"""The heartbeat's round-trip fields: sent back as they came, refused when malformed."""

from __future__ import annotations

import pytest

from standfast.cluster.auth import Malformed
from standfast.cluster.heartbeat_wire import heartbeat_body, parse_heartbeat


def test_send_time_and_echo_round_trip_through_the_body() -> None:
    body = heartbeat_body("net1", 7, 0.3, {}, {}, sent=12.5, echo=(10.0, 0.125))
    beat = parse_heartbeat(body)
    assert (beat.sent, beat.echo) == (12.5, (10.0, 0.125))
    plain = parse_heartbeat(heartbeat_body("net1", 7, 0.3, {}, {}))
    assert (plain.sent, plain.echo) == (None, None)  # a peer that sends none


@pytest.mark.parametrize(
    "bad",
    [{"t": "soon"}, {"t": True}, {"t": float("nan")}, {"echo": [1.0]}, {"echo": "x"},
     {"echo": [1.0, None]}],
)  # fmt: skip
def test_a_malformed_time_is_refused(bad: dict[str, object]) -> None:
    body = {**heartbeat_body("net1", 7, 0.3, {}, {}), **bad}
    with pytest.raises(Malformed):
        parse_heartbeat(body)
