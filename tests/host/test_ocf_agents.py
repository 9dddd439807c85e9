"""The ocf kit against real agents: the Debian resource-agents package's
``ocf:heartbeat:Dummy`` and ``IPaddr2``, and the tests' own Probe agent (for every exit
code, the monitor depths and timeouts), each run as the kit runs them."""

from __future__ import annotations

import os
import time
from dataclasses import replace
from pathlib import Path

import pytest

from standfast.config.paths import Paths
from standfast.config.tunables import Tunables
from standfast.kits.base import ActionLog, CreateRequest, KitContext
from standfast.kits.ocf import OcfKit
from standfast.messages import StandfastError
from standfast.model.config import ClusterConfig
from standfast.model.resources import PropValue, Resource
from standfast.model.states import Switchback
from tests.support.ocf import PROBE, make_ocf_root

pytestmark = pytest.mark.root

KIT = OcfKit()


def ctx_for(tmp_path: Path, root: Path | None = None) -> KitContext:
    tunables = Tunables(SF_OCF_ROOT=str(root or "/usr/lib/ocf"))
    return KitContext("alpha", tunables, Paths.from_env({}, home=tmp_path), ActionLog())


def create(ctx: KitContext, tag: str, props: dict[str, PropValue]) -> Resource:
    req = CreateRequest("ocf", tag, None, Switchback.INTELLIGENT, props)
    plan = KIT.plan_create(ctx, req, ClusterConfig())
    assert plan.root == tag
    return plan.resources[0]


def test_dummy_start_monitor_recover_stop(tmp_path: Path) -> None:
    ctx = ctx_for(tmp_path)
    state = tmp_path / "dummy.state"
    res = create(ctx, "d1", {"agent": "ocf:heartbeat:Dummy", "state": str(state)})
    assert res.props == {"agent": "ocf:heartbeat:Dummy", "state": str(state), "recover": True}
    assert not state.exists()  # validate-all ran, nothing started
    KIT.restore(ctx, res)
    KIT.restore(ctx, res)  # idempotent
    assert state.exists()
    assert KIT.quick_check(ctx, res).ok and KIT.deep_check(ctx, res).ok
    state.unlink()  # the "process" dies
    bad = KIT.quick_check(ctx, res)
    assert not bad.ok and bad.code == "195013" and not bad.blocks_failover
    assert "OCF_NOT_RUNNING" in str(bad.params["meaning"])
    assert KIT.recover(ctx, res) and state.exists()
    KIT.remove(ctx, res)
    KIT.remove(ctx, res)  # idempotent: OCF_NOT_RUNNING / success on a stopped one
    assert not state.exists() and not KIT.quick_check(ctx, res).ok
    assert not KIT.recover(ctx, replace(res, props={**res.props, "recover": False}))


@pytest.mark.parametrize(
    ("props", "code"),
    [
        ({"agent": "ocf:heartbeat:Dummy", "nosuch": "1"}, "190012"),
        ({"agent": "ocf:heartbeat:IPaddr2"}, "190013"),  # ip is required
        ({"agent": "ocf:heartbeat:IPaddr2", "ip": "10.9.9.9", "arp_count": "x"}, "190011"),
        ({"agent": "ocf:heartbeat:IPaddr2", "ip": "10.9.9.9", "lvs_support": "2"}, "190011"),
        ({"agent": "ocf:heartbeat:Dummy", "timeout_start": "-1"}, "190011"),
        ({"agent": "heartbeat:Dummy"}, "195001"),
        ({"agent": "ocf:heartbeat:NoSuchAgent"}, "195002"),
        ({"state": "/tmp/x"}, "190013"),  # no agent
        # Dummy's validate-all: the state file's directory must be writable.
        ({"agent": "ocf:heartbeat:Dummy", "state": "/nonexistent/dir/s"}, "195010"),
        # IPaddr2's validate-all: not an IP address.
        ({"agent": "ocf:heartbeat:IPaddr2", "ip": "not-an-ip"}, "195010"),
    ],
)
def test_bad_parameters_are_refused_before_anything_runs(
    tmp_path: Path, props: dict[str, PropValue], code: str
) -> None:
    with pytest.raises(StandfastError) as exc:
        create(ctx_for(tmp_path), "bad", props)
    assert exc.value.code == code, exc.value.text("en")


def test_agent_schema_for_forms(tmp_path: Path) -> None:
    schema = KIT.agent_schema(ctx_for(tmp_path), "ocf:heartbeat:IPaddr2")
    names = {p["name"]: p for p in schema["properties"]}  # type: ignore[index, union-attr]
    assert names["ip"]["required"] is True and names["arp_count"]["type"] == "int"
    assert names["arp_count"]["default"] == "5" and "timeout_start" in names
    assert "ocf:heartbeat:IPaddr2" in KIT.agents(ctx_for(tmp_path))


def probe(tmp_path: Path) -> tuple[KitContext, Resource, Path]:
    root = make_ocf_root(tmp_path / "ocf", probe=True)
    ctx = ctx_for(tmp_path, root)
    d = tmp_path / "behave"
    d.mkdir()
    res = create(ctx, "p1", {"agent": PROBE, "dir": str(d), "count": "7"})
    return ctx, res, d


def test_environment_and_check_levels(tmp_path: Path) -> None:
    ctx, res, d = probe(tmp_path)
    KIT.restore(ctx, res)
    env = dict(line.split("=", 1) for line in (d / "env.start").read_text().splitlines())
    assert env["OCF_ROOT"] == str(tmp_path / "ocf")
    assert env["OCF_RESOURCE_INSTANCE"] == "p1" and env["OCF_RESKEY_count"] == "7"
    assert env["OCF_RESKEY_CRM_meta_timeout"] == "10000"  # the agent's start timeout
    assert "OCF_RESKEY_recover" not in env  # the kit's own properties stay its own
    assert KIT.quick_check(ctx, res).ok and (d / "env.monitor.0").exists()
    assert KIT.deep_check(ctx, res).ok and (d / "env.monitor.20").exists()


@pytest.mark.parametrize(
    ("code", "message", "blocks"),
    [("1", "195011", False), ("5", "195015", False), ("6", "195014", True)],
)
def test_exit_codes_of_start_and_monitor(
    tmp_path: Path, code: str, message: str, blocks: bool
) -> None:
    ctx, res, d = probe(tmp_path)
    (d / "start.rc").write_text(code)
    with pytest.raises(StandfastError) as exc:
        KIT.restore(ctx, res)
    assert exc.value.code == message and f"probe: start exits {code}" in exc.value.text("en")
    (d / "start.rc").unlink()
    KIT.restore(ctx, res)
    (d / "monitor.rc").write_text(code)
    result = KIT.quick_check(ctx, res)
    assert not result.ok and result.blocks_failover is blocks
    assert result.code == ("195014" if blocks else "195013")


def test_degraded_monitor_is_in_service_with_a_warning(tmp_path: Path) -> None:
    ctx, res, d = probe(tmp_path)
    KIT.restore(ctx, res)
    (d / "monitor.rc").write_text("190")
    assert KIT.quick_check(ctx, res).ok
    assert [n.code for n in ctx.log.notices] == ["195016"]


def test_each_action_is_bounded_by_its_timeout(tmp_path: Path) -> None:
    ctx, res, d = probe(tmp_path)
    (d / "start.sleep").write_text("30")
    quick = replace(res, props={**res.props, "timeout_start": 0.5, "timeout_monitor": 0.5})
    with pytest.raises(StandfastError) as exc:
        KIT.restore(ctx, quick)
    assert exc.value.code == "195012" and exc.value.params["seconds"] == "0.5"
    (d / "start.sleep").unlink()
    KIT.restore(ctx, quick)
    (d / "monitor.sleep").write_text("30")
    result = KIT.quick_check(ctx, quick)
    assert not result.ok and result.code == "195012"
    reap_killed_orphans()


def reap_killed_orphans() -> None:
    """The agents' killed ``sleep`` children were re-parented to this test process (a
    child subreaper, see conftest) and are zombies now; reap them as init would. Only
    zombies are reaped: a live one is still a leak for the sweep to report."""
    deadline = time.monotonic() + 5.0
    files = Path("/proc/self/task").glob("*/children")
    for pid in [int(word) for f in files for word in f.read_text().split()]:
        while time.monotonic() < deadline:
            stat = Path(f"/proc/{pid}/stat").read_text()
            if stat.rsplit(")", 1)[1].split()[0] == "Z":
                os.waitpid(pid, 0)
                break
            time.sleep(0.05)


def test_extend_refused_where_the_agent_is_missing(tmp_path: Path) -> None:
    ctx, res, _ = probe(tmp_path)
    KIT.can_extend(ctx, res)  # installed here
    bare = make_ocf_root(tmp_path / "bare", probe=False)
    target = ctx_for(tmp_path, bare)
    with pytest.raises(StandfastError) as exc:
        KIT.can_extend(target, res)
    assert exc.value.code == "195002"
    assert "Cannot access OCF agent ocf:standfast-test:Probe" in exc.value.text("en")
