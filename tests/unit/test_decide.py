"""The engine's per-cycle decisions, from snapshots."""

from __future__ import annotations

import pytest

from standfast.config.tunables import Tunables
from standfast.engine.decide import Decision, DecisionKind, Snapshot, decide
from standfast.kits.base import CheckResult
from standfast.model.config import AddDependency, AddResource, ClusterConfig, SetMaintenance
from standfast.model.resources import Dependency, Resource
from standfast.model.states import State

CFG = ClusterConfig().apply(
    [
        AddResource(Resource(server="s1", tag="fs", kit="filesys", id="/m")),
        AddResource(Resource(server="s1", tag="dev", kit="nas", id="1.2.3.4:/e")),
        AddResource(Resource(server="s1", tag="app", kit="app", id="app")),
        AddDependency(Dependency("s1", "fs", "dev")),
    ]
)


def snap(**kw: object) -> Snapshot:
    base: dict[str, object] = dict(
        now=100.0,
        server="s1",
        config=CFG,
        states={"fs": State.ISP, "dev": State.ISP, "app": State.OSU},
        next_quick={"fs": 50.0, "dev": 150.0},
        next_deep={"fs": 500.0, "dev": 500.0},
        busy=frozenset(),
    )
    base.update(kw)
    return Snapshot(**base)  # type: ignore[arg-type]


def test_due_checks_only_for_isp_and_not_busy() -> None:
    assert decide(snap(), Tunables()) == [Decision(DecisionKind.CHECK, "fs")]
    assert decide(snap(busy=frozenset({"fs"})), Tunables()) == []
    assert decide(snap(next_deep={"fs": 1.0, "dev": 500.0}), Tunables()) == [
        Decision(DecisionKind.DEEP_CHECK, "fs")
    ]


def test_failure_recover_first_then_policy() -> None:
    fail = {"fs": CheckResult.bad("190408", nas_access=True)}
    s = snap(failures=fail, recover_capable=frozenset({"fs"}))
    assert decide(s, Tunables())[0] == Decision(DecisionKind.RECOVER, "fs", "190408")
    tried = snap(failures=fail, recover_capable=frozenset({"fs"}), recovery_tried=frozenset({"fs"}))
    assert decide(tried, Tunables())[0].kind is DecisionKind.FAIL_HIERARCHY
    halt = decide(tried, Tunables(LKNASERROR="halt"))
    assert halt == [Decision(DecisionKind.HALT, "fs", "190408")]


def test_non_nas_failure_never_halts() -> None:
    s = snap(failures={"app": CheckResult.bad("190417")})
    assert decide(s, Tunables(LKNASERROR="halt"))[0] == Decision(
        DecisionKind.FAIL_HIERARCHY, "app", "190417"
    )


def test_one_failure_decision_per_hierarchy() -> None:
    s = snap(
        failures={
            "fs": CheckResult.bad("190408", nas_access=True),
            "dev": CheckResult.bad("190407", nas_access=True),
        }
    )
    kinds = [d for d in decide(s, Tunables()) if d.kind is DecisionKind.FAIL_HIERARCHY]
    assert len(kinds) == 1 and kinds[0].tag == "dev"


def test_configuration_error_skips_local_recovery() -> None:
    # An OCF agent's OCF_ERR_CONFIGURED: restarting in place cannot mend it.
    fail = {"app": CheckResult(False, "195014", {}, blocks_failover=True)}
    s = snap(failures=fail, recover_capable=frozenset({"app"}))
    assert decide(s, Tunables())[0] == Decision(DecisionKind.FAIL_HIERARCHY, "app", "195014")


# -- maintenance mode (docs/maintenance.md): no checks, no failure handled -------------

EQ = ClusterConfig().apply(
    [
        AddResource(Resource(server="s1", tag="fs", kit="filesys", id="/m", equiv="fs@s1")),
        AddResource(Resource(server="s1", tag="dev", kit="nas", id="1.2.3.4:/e", equiv="dev@s1")),
        AddResource(Resource(server="s1", tag="app", kit="app", id="app", equiv="app@s1")),
        AddDependency(Dependency("s1", "fs", "dev")),
    ]
)
BOTH_DUE = dict(
    states={"fs": State.ISP, "dev": State.ISP, "app": State.ISP},
    next_quick={"fs": 50.0, "dev": 50.0, "app": 50.0},
    next_deep={"fs": 500.0, "dev": 500.0, "app": 500.0},
)
APP_FAILED = {"app": CheckResult.bad("190417")}


@pytest.mark.parametrize(
    ("ops", "failures", "expected"),
    [
        # Nothing in maintenance: every due check, the failure handled.
        ([], {}, [("check", "app"), ("check", "dev"), ("check", "fs")]),
        ([], APP_FAILED, [("fail_hierarchy", "app"), ("check", "dev"), ("check", "fs")]),
        # Cluster-wide: nothing at all, the failure waits.
        ([SetMaintenance(True)], {}, []),
        ([SetMaintenance(True)], APP_FAILED, []),
        # One hierarchy (by its root): its root and its child skip, the other runs.
        ([SetMaintenance(True, "fs@s1")], {}, [("check", "app")]),
        ([SetMaintenance(True, "app@s1")], APP_FAILED, [("check", "dev"), ("check", "fs")]),
        # A child's equivalency is no hierarchy: nothing skips.
        (
            [SetMaintenance(True, "dev@s1")],
            {},
            [("check", "app"), ("check", "dev"), ("check", "fs")],
        ),
        # On then off: as before.
        (
            [SetMaintenance(True), SetMaintenance(False)],
            {},
            [("check", "app"), ("check", "dev"), ("check", "fs")],
        ),
    ],
)
def test_maintenance_skips_checks_and_failures(
    ops: list[SetMaintenance], failures: dict[str, CheckResult], expected: list[tuple[str, str]]
) -> None:
    s = snap(config=EQ.apply(ops), failures=failures, **BOTH_DUE)
    assert [(str(d.kind), d.tag) for d in decide(s, Tunables())] == expected
