"""The resource model: tags, priorities, hierarchies as DAGs, start/stop order."""

from __future__ import annotations

import pytest

from standfast.messages import StandfastError
from standfast.model.config import (
    AddDependency,
    AddResource,
    ClusterConfig,
    DeleteDependency,
    DeleteResource,
    UpdateResource,
    op_from_dict,
    op_to_dict,
)
from standfast.model.resources import Dependency, Resource
from standfast.model.states import State, Switchback
from standfast.model.tags import parse_state, parse_switchback, validate_priority, validate_tag


def code_of(exc: pytest.ExceptionInfo[StandfastError]) -> str:
    return exc.value.code


@pytest.mark.parametrize(
    "tag", ["app1", "test-on-server1", "tmp/mnt-on-tom", "a.b_c-d/e", "x" * 256]
)
def test_valid_tags(tag: str) -> None:
    assert validate_tag(tag) == tag


@pytest.mark.parametrize(
    ("tag", "code"),
    [
        ("", "190004"),
        ("x" * 257, "190003"),
        ("has space", "190001"),
        ("semi;colon", "190001"),
        (".hidden", "190002"),
        ("/abs", "190002"),
        ("ü", "190001"),
    ],
)
def test_invalid_tags(tag: str, code: str) -> None:
    with pytest.raises(StandfastError) as exc:
        validate_tag(tag)
    assert code_of(exc) == code


@pytest.mark.parametrize("p", [0, 1000, -5])
def test_priority_range(p: int) -> None:
    with pytest.raises(StandfastError) as exc:
        validate_priority(p)
    assert code_of(exc) == "190005"
    assert validate_priority(1) == 1 and validate_priority(999) == 999


def test_switchback_and_state_parsing() -> None:
    assert parse_switchback("Automatic") is Switchback.AUTOMATIC
    assert parse_state("isp") is State.ISP
    with pytest.raises(StandfastError) as exc:
        parse_switchback("sometimes")
    assert code_of(exc) == "190014"
    assert State.ISU.in_service and not State.OSF.in_service


def res(
    tag: str,
    server: str = "s1",
    kit: str = "app",
    rid: str | None = None,
    priority: int = 1,
    equiv: str = "",
) -> Resource:
    return Resource(server=server, tag=tag, kit=kit, id=rid or tag, priority=priority, equiv=equiv)


def build(*tags: str, deps: tuple[tuple[str, str], ...] = ()) -> ClusterConfig:
    ops: list[object] = [AddResource(res(t)) for t in tags]
    ops += [AddDependency(Dependency("s1", p, c)) for p, c in deps]
    return ClusterConfig().apply(ops)  # type: ignore[arg-type]


def test_start_order_children_first_and_stop_order_parents_first() -> None:
    # app -> fs -> dev ; app -> ip
    cfg = build("app", "fs", "dev", "ip", deps=(("app", "fs"), ("fs", "dev"), ("app", "ip")))
    g = cfg.graph("s1")
    order = g.start_order({"app", "fs", "dev", "ip"})
    assert order.index("dev") < order.index("fs") < order.index("app")
    assert order.index("ip") < order.index("app")
    assert g.stop_order({"app", "fs", "dev", "ip"}) == list(reversed(order))
    assert g.roots() == ["app"]
    assert g.hierarchy("dev") == {"app", "fs", "dev", "ip"}
    assert g.descendants("app") == {"fs", "dev", "ip"}
    assert g.ancestors("dev") == {"fs", "app"}


def test_cycle_is_refused_and_config_unchanged() -> None:
    cfg = build("a", "b", "c", deps=(("a", "b"), ("b", "c")))
    with pytest.raises(StandfastError) as exc:
        cfg.apply([AddDependency(Dependency("s1", "c", "a"))])
    assert code_of(exc) == "190007"
    with pytest.raises(StandfastError) as exc:
        cfg.apply([AddDependency(Dependency("s1", "a", "a"))])
    assert code_of(exc) == "190007"
    with pytest.raises(StandfastError) as exc:
        cfg.apply([AddDependency(Dependency("s1", "a", "b"))])
    assert code_of(exc) == "190008"
    assert len(cfg.dependencies) == 2


def test_duplicate_tag_or_id_refused_with_000014() -> None:
    cfg = build("a")
    with pytest.raises(StandfastError) as exc:
        cfg.apply([AddResource(res("a"))])
    assert code_of(exc) == "000014"
    with pytest.raises(StandfastError) as exc:
        cfg.apply([AddResource(res("b", rid="a"))])
    assert code_of(exc) == "000014"
    # The same tag on another server is another resource.
    assert cfg.apply([AddResource(res("a", server="s2"))]).version == cfg.version + 1


def test_priorities_unique_within_equivalency() -> None:
    cfg = ClusterConfig().apply([AddResource(res("a", equiv="E", priority=1))])
    with pytest.raises(StandfastError) as exc:
        cfg.apply([AddResource(res("a", server="s2", equiv="E", priority=1))])
    assert code_of(exc) == "190006"
    ok = cfg.apply([AddResource(res("a", server="s2", equiv="E", priority=10))])
    assert [r.server for r in ok.equivalents("E")] == ["s1", "s2"]


def test_delete_with_dependents_refused_and_missing_resource() -> None:
    cfg = build("a", "b", deps=(("a", "b"),))
    with pytest.raises(StandfastError) as exc:
        cfg.apply([DeleteResource("s1", "b")])
    assert code_of(exc) == "190015"
    after = cfg.apply([DeleteResource("s1", "a"), DeleteResource("s1", "b")])
    assert not after.resources and not after.dependencies
    with pytest.raises(StandfastError) as exc:
        cfg.apply([DeleteResource("s1", "zz")])
    assert code_of(exc) == "000019"
    with pytest.raises(StandfastError) as exc:
        cfg.apply([DeleteDependency(Dependency("s1", "b", "a"))])
    assert code_of(exc) == "190009"


def test_operations_round_trip_through_json_form() -> None:
    r = Resource(
        server="s1",
        tag="t",
        kit="app",
        id="i",
        switchback=Switchback.AUTOMATIC,
        priority=7,
        equiv="t@s1",
        props={"restore": "/bin/true", "n": 3},
    )
    for op in (
        AddResource(r),
        UpdateResource(r),
        DeleteResource("s1", "t"),
        AddDependency(Dependency("s1", "p", "c")),
        DeleteDependency(Dependency("s1", "p", "c")),
    ):
        assert op_from_dict(op_to_dict(op)) == op  # type: ignore[arg-type]


def test_a_server_with_more_states_than_a_heartbeat_carries_is_refused() -> None:
    """Every heartbeat reports the server's states: a configuration whose states could
    not fit is refused (190021) and nothing changes."""
    from standfast.model.config import STATE_REPORT_BUDGET, state_report_size

    def app(i: int, tag_len: int = 40) -> Resource:
        tag = f"a{i:05d}".ljust(tag_len, "x")
        return Resource("s1", tag, "app", tag, Switchback.INTELLIGENT, 1, equiv=tag)

    per = state_report_size([app(0)], "s1")
    fits = STATE_REPORT_BUDGET // per
    cfg = ClusterConfig().apply([AddResource(app(i)) for i in range(fits)])
    assert len(cfg.resources) == fits
    with pytest.raises(StandfastError) as exc:
        cfg.apply([AddResource(app(fits))])
    assert exc.value.code == "190021"
    assert exc.value.params["server"] == "s1" and exc.value.params["count"] == fits + 1
    # Another server has its own heartbeat and its own budget.
    other = Resource("s2", "b", "app", "b", Switchback.INTELLIGENT, 1, equiv="b")
    assert len(cfg.apply([AddResource(other)]).resources) == fits + 1


def test_graph_is_built_once_per_configuration() -> None:
    """The control loop asks for the graph several times a cycle: one configuration
    builds each server's graph once; a change (a new configuration) builds its own,
    and equality ignores the kept graphs."""
    cfg = build("app", "fs", deps=(("app", "fs"),))
    assert cfg.graph("s1") is cfg.graph("s1")
    changed = cfg.apply([AddResource(res("ip"))])
    assert set(changed.graph("s1").resources) == {"app", "fs", "ip"}
    assert set(cfg.graph("s1").resources) == {"app", "fs"}
    assert build("app", "fs", deps=(("app", "fs"),)) == cfg
