"""Arbitration on etcd (``"quorum": "etcd"``) among real daemons and a real
three-member etcd cluster (Debian's etcd, TLS with client certificates), each member
and each server in its own network namespace. The observer is the application's own
ledger: nothing may run on two servers at once in any of the faults."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from standfast.lab.etcd_lab import EtcdLab
from standfast.lab.netns import NetCluster, dump, net_cluster

pytestmark = [pytest.mark.root, pytest.mark.daemon]

DEFAULTS = "SF_QUICKCHECK_INTERVAL=0.5\n"
TTL = 3


@contextmanager
def etcd_cluster(
    tmp_path: Path, tag: str, *, ttl: int = TTL, on_loss: str = "release"
) -> Iterator[tuple[NetCluster, EtcdLab]]:
    work = tmp_path / "c"
    prefix = f"sfc{tag}"
    lab = EtcdLab(work / "etcd", prefix, f"{prefix}br1")
    extra: dict[str, Any] = {"etcd": lab.settings(ttl=ttl, timeout=0.5, on_loss=on_loss)}
    with net_cluster(
        work, count=2, tag=tag, defaults=DEFAULTS, quorum="etcd", definition_extra=extra
    ) as c:
        try:
            lab.up()
            c.start_all()
            time.sleep(c.settle_seconds())
            c.cli(
                "server1", "resource", "create", "--kit", "app", "--tag", "app", *c.app_props("app")
            )
            c.cli("server1", "resource", "extend", "app", "--target", "server2")
            yield c, lab
        finally:
            lab.down()


def etcd_of(c: NetCluster, server: str) -> dict[str, Any]:
    return dict(c.api(server, "GET", "/v1/status")["cluster"]["quorum"]["etcd"])


def quorum_of(c: NetCluster, server: str) -> bool:
    return bool(c.api(server, "GET", "/v1/status")["cluster"]["quorum"]["has_quorum"])


def wait_until(what: str, check: Any, timeout: float, c: NetCluster) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"{what} within {timeout} s\n{dump(c)}"
        time.sleep(0.1)


def never_on(c: NetCluster, server: str, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        assert c.states(server)["app"] != "ISP", dump(c)
        time.sleep(0.1)


def test_crash_takes_over_only_after_the_lease_expired_and_a_member_loss_changes_nothing(
    tmp_path: Path,
) -> None:
    with etcd_cluster(tmp_path, "ea") as (c, lab):
        assert c.where("app") == ["server1"]
        wait_until("server2 sees server1 hold app", lambda: etcd_of(c, "server2")["holders"]
                   == {"app": "server1"}, 5, c)  # fmt: skip
        # One etcd member lost: nothing changes (each server moves to another endpoint).
        lab.kill("etcd1")
        time.sleep(2 * TTL)
        assert c.where("app") == ["server1"], dump(c)
        assert quorum_of(c, "server1") and quorum_of(c, "server2")
        # The holder is powered off: server2 hears it fail after 1.5 s but waits for
        # the lease (last renewed at most ttl/4 before the crash) to expire in etcd.
        crashed = time.time()
        c.crash("server1")
        c.wait_for("app", "server2", timeout=TTL + 10)
        starts = [
            float(ln.split()[0])
            for ln in c.ledger.read_text().splitlines()
            if " server2 app start" in ln
        ]
        waited = starts[0] - crashed
        assert TTL - TTL / 4 - 0.3 <= waited <= TTL + 3.0, (waited, dump(c))
        assert c.overlaps("app", ignore={"server1": crashed}) == [], dump(c)
        assert etcd_of(c, "server2")["holders"] == {"app": "server2"}


def test_switchover_needs_no_ttl_and_cutting_the_holder_off_its_peers_moves_nothing(
    tmp_path: Path,
) -> None:
    ttl = 8  # long, so that a switchover that waited for it would show
    with etcd_cluster(tmp_path, "eb", ttl=ttl) as (c, _lab):
        began = time.monotonic()
        c.cli("server2", "resource", "in-service", "app")
        assert time.monotonic() - began < ttl / 2, dump(c)
        assert c.where("app") == ["server2"]
        wait_until("server1 sees server2 hold app", lambda: etcd_of(c, "server1")["holders"]
                   == {"app": "server2"}, 5, c)  # fmt: skip
        # server2 is cut off server1 but not off etcd: server1 declares it failed, yet
        # the lease decides: server2 keeps app, server1 never starts it.
        c.isolate("server2")
        never_on(c, "server1", ttl + 3.0)
        assert c.where("app") == ["server2"]
        gate = c.api("server1", "GET", "/v1/status")
        assert quorum_of(c, "server1") and quorum_of(c, "server2"), gate
        c.isolate("server2", cut=False)
        assert c.overlaps("app") == [], dump(c)


def test_cut_off_etcd_only_releases_before_the_ttl_and_the_peer_takes_over(
    tmp_path: Path,
) -> None:
    with etcd_cluster(tmp_path, "ec") as (c, lab):
        cut = time.time()
        c.block("server1", [m.address for m in lab.members.values()])
        c.wait_for("app", "server1", timeout=TTL + 2, state="OSU")
        c.wait_for("app", "server2", timeout=TTL + 10)
        assert not quorum_of(c, "server1")
        released = [
            float(ln.split()[0])
            for ln in c.ledger.read_text().splitlines()
            if " server1 app stop" in ln
        ]
        assert released and released[0] - cut < TTL, (released, cut, dump(c))
        assert c.overlaps("app") == [], dump(c)
        # cluster check says so: server2 reaches and may write to every member.
        ok = c.cli("server2", "cluster", "check", "--json", in_ns=True)
        rows = json.loads(ok.stdout)["etcd"]
        assert [r["ok"] for r in rows] == [True, True, True] and rows[0]["version"] == "3.4.23"
        bad = c.cli("server1", "cluster", "check", check=False, in_ns=True)
        assert bad.returncode == 1 and "199011: etcd check failed" in bad.stderr, bad
        assert all(f"{m.address}:2379" in bad.stderr for m in lab.members.values())
        c.block("server1", [m.address for m in lab.members.values()], cut=False)
        wait_until("server1 regains quorum", lambda: quorum_of(c, "server1"), TTL + 5, c)
        assert c.where("app") == ["server2"]


def test_an_etcd_partition_changes_nothing_and_etcd_lost_releases_by_default(
    tmp_path: Path,
) -> None:
    with etcd_cluster(tmp_path, "ed") as (c, lab):
        # etcd1, every server's first endpoint, is cut off the other members: it has no
        # leader and answers nothing in time; the servers move on to the majority.
        lab.isolate("etcd1")
        time.sleep(2 * TTL)
        assert c.where("app") == ["server1"], dump(c)
        assert quorum_of(c, "server1") and quorum_of(c, "server2"), dump(c)
        assert c.overlaps("app") == [], dump(c)
        lab.isolate("etcd1", cut=False)
        lab.kill("etcd1")
        lab.kill("etcd2")  # etcd has no quorum: no lease can be renewed anywhere
        c.wait_for("app", "server1", timeout=TTL + 4, state="OSU")
        never_on(c, "server2", 3.0)
        assert not quorum_of(c, "server1") and not quorum_of(c, "server2")
        lab.start("etcd1")
        lab.start("etcd2")
        wait_until("app back in service", lambda: c.where("app") != [], 30, c)
        assert c.overlaps("app") == [], dump(c)


def test_etcd_lost_keeps_what_runs_with_on_loss_keep_until_a_peer_is_lost(
    tmp_path: Path,
) -> None:
    with etcd_cluster(tmp_path, "ee", on_loss="keep") as (c, lab):
        for name in ("server1", "server2"):
            c.block(name, [m.address for m in lab.members.values()])
        time.sleep(2 * TTL)
        assert c.where("app") == ["server1"], dump(c)
        assert quorum_of(c, "server1") and quorum_of(c, "server2")
        # Cut from its peer too: it no longer counts every server and gives app up;
        # server2 cannot start it (no lease, no holder key) and waits.
        c.isolate("server1")
        c.wait_for("app", "server1", timeout=5, state="OSU")
        never_on(c, "server2", 3.0)
        # etcd back for server2: its new lease lets it take app over.
        c.block("server2", [m.address for m in lab.members.values()], cut=False)
        c.wait_for("app", "server2", timeout=TTL + 10)
        assert c.overlaps("app") == [], dump(c)
