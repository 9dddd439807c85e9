"""``simulate`` from snapshots: the pure what-if over placement and the gate."""

from __future__ import annotations

from dataclasses import replace

import pytest
from tests.unit.test_placement import view

from standfast.engine.gate import GateFacts
from standfast.engine.simulate import Fault, simulate
from standfast.engine.snapshot import QuorumStatus
from standfast.messages import StandfastError
from standfast.model.states import State

SERVERS = ("s1", "s2", "s3")


def snap(held: dict[str, State], **kw: object):  # type: ignore[no-untyped-def]
    v = view("s2", {"s1", "s2", "s3"}, held)
    return replace(
        v, servers=SERVERS, quorum_status=QuorumStatus(True, 3, 2, "majority"), clustered=True, **kw
    )


def outcome(result: list, tag: str = "app"):  # type: ignore[no-untyped-def,type-arg]
    return next(o for o in result if o.tag == tag)


def test_failure_of_the_holder_moves_it_to_the_next_priority() -> None:
    o = outcome(simulate(snap({"s1": State.ISP}), None, Fault.FAIL, "s1"))
    assert (o.before, o.after, o.action) == (("s1",), ("s2",), "fails over")


def test_fencing_is_named_when_configured() -> None:
    facts = GateFacts(now=0.0, local="s2", fencing=True, last_holder={"E-app": "s1"})
    o = outcome(simulate(snap({"s1": State.ISP}), facts, Fault.FAIL, "s1"))
    assert o.fence == "s1" and o.after == ("s2",)


def test_failure_of_a_backup_changes_nothing() -> None:
    o = outcome(simulate(snap({"s1": State.ISP}), None, Fault.FAIL, "s3"))
    assert (o.after, o.action) == (("s1",), "stays")


def test_losing_majority_leaves_it_down() -> None:
    # s1 holds it, s3 is already gone: if s1 fails too, s2 alone has no quorum.
    v = snap({"s1": State.ISP})
    v = replace(v, alive=frozenset({"s1", "s2"}), states={k: v.states[k] for k in ("s1", "s2")})
    o = outcome(simulate(v, None, Fault.FAIL, "s1"))
    assert (o.after, o.action, o.wait) == ((), "stays down", "quorum")


def test_an_app_hierarchy_ignores_a_nas_fault() -> None:
    o = outcome(simulate(snap({"s1": State.ISP}), None, Fault.NAS, "s1"))
    assert o.action == "stays"


def test_unknown_server_is_refused() -> None:
    with pytest.raises(StandfastError) as e:
        simulate(snap({}), None, Fault.FAIL, "nosuch")
    assert e.value.code == "193002"


def test_in_maintenance_a_failure_moves_nothing() -> None:
    from standfast.model.config import SetMaintenance

    held = {"s1": State.ISP}
    cfg = snap(held).config.apply([SetMaintenance(True)])
    o = outcome(simulate(snap(held, config=cfg), None, Fault.FAIL, "s1"))
    assert (o.before, o.after, o.action) == (("s1",), (), "stays down")
    assert "maintenance" in o.reason


def test_standby_of_the_holder_moves_it() -> None:
    from standfast.model.config import SetStandby

    held = {"s1": State.ISP}
    cfg = snap(held).config.apply([SetStandby("s1", True)])
    o = outcome(simulate(snap(held, config=cfg), None, Fault.FAIL, "s3"))
    assert (o.before, o.after, o.action) == (("s1",), ("s2",), "moves off s1")
