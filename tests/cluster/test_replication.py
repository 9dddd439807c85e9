"""Configuration replication: a server that was down catches up; two servers that
changed the configuration while cut off converge on one version, deterministically."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from standfast.lab.netns import NetCluster, dump, net_cluster

pytestmark = [pytest.mark.root, pytest.mark.daemon]


def config_of(c: NetCluster, server: str) -> dict[str, object]:
    data: dict[str, object] = c.api(server, "GET", "/v1/config")
    return data


def wait_same_config(c: NetCluster, servers: list[str], timeout: float) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        configs = [config_of(c, s) for s in servers]
        if all(cfg == configs[0] for cfg in configs):
            return configs[0]
        time.sleep(0.1)
    raise AssertionError(f"configurations differ: {configs}\n{dump(c)}")


def test_a_returning_server_catches_up(tmp_path: Path) -> None:
    with net_cluster(tmp_path / "c", count=3, tag="r", defaults="") as c:
        c.start_all()
        time.sleep(c.settle_seconds())
        c.cli("server1", "resource", "create", "--kit", "app", "--tag", "app", *c.app_props("app"))
        c.stop("server3")
        c.cli("server1", "resource", "extend", "app", "--target", "server2")
        c.cli("server1", "resource", "set", "app", "--prop", "check_timeout=7")
        c.start("server3")
        cfg = wait_same_config(c, ["server1", "server2", "server3"], timeout=10)
        tags = {(r["server"], r["tag"]) for r in cfg["resources"]}  # type: ignore[index,union-attr]
        assert tags == {("server1", "app"), ("server2", "app")}
        shown = c.api("server3", "GET", "/v1/config")
        props = next(r["props"] for r in shown["resources"] if r["server"] == "server1")
        assert props["check_timeout"] == 7.0


def test_changes_made_apart_converge(tmp_path: Path) -> None:
    with net_cluster(tmp_path / "c", count=2, tag="s", defaults="", quorum="none") as c:
        c.start_all()
        time.sleep(c.settle_seconds())
        c.cli(
            "server1", "resource", "create", "--kit", "app", "--tag", "base", *c.app_props("base")
        )
        wait_same_config(c, ["server1", "server2"], timeout=5)
        c.cut("server2", "net1")
        c.cut("server2", "net2")
        time.sleep(2.5)  # both sides see the other failed
        c.cli("server1", "resource", "create", "--kit", "app", "--tag", "one", *c.app_props("one"))
        c.cli("server2", "resource", "create", "--kit", "app", "--tag", "two", *c.app_props("two"))
        v1 = config_of(c, "server1")
        v2 = config_of(c, "server2")
        assert v1["version"] == v2["version"] and v1 != v2  # the same version, apart
        c.heal("server2", "net1")
        c.heal("server2", "net2")
        final = wait_same_config(c, ["server1", "server2"], timeout=10)
        assert final in (v1, v2)
        loser = "server2" if final == v1 else "server1"
        assert "193016" in c.servers[loser].log_file.read_text()
