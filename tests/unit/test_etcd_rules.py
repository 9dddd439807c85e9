"""quorum etcd, the pure parts: the settings and their refusals, quorum from the lease
(and on_loss keep), the gate's arbiter rule, placement passing over a live peer
without a lease."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from tests.unit.test_gate import BASE, RESTORE
from tests.unit.test_placement import config, view

from standfast.cluster.definition import definition_from_dict
from standfast.cluster.etcd_settings import parse_etcd
from standfast.cluster.quorum import (
    QuorumConfig,
    QuorumInput,
    QuorumMode,
    WitnessView,
    decide_quorum,
)
from standfast.engine.gate import Verdict, gate
from standfast.engine.placement import Placement, PlacementKind, place
from standfast.messages import StandfastError

GOOD: dict[str, Any] = {
    "endpoints": ["https://10.0.0.1:2379", "https://etcd-2.example.com:2379"],
    "ca": "/etc/standfast/ca.pem",
    "cert": "/etc/standfast/client.pem",
    "key": "/etc/standfast/client.key",
    "prefix": "/standfast/prod",
    "ttl": 4,
    "timeout": 0.5,
}


def test_good_settings_and_their_timing() -> None:
    s = parse_etcd(GOOD)
    assert [e.target for e in s.endpoints] == ["10.0.0.1:2379", "etcd-2.example.com:2379"]
    assert (s.renew_every, s.release_budget, s.on_loss) == (1.0, 2.0, "release")
    assert s.holder_key("E-1") == b"/standfast/prod/holders/E-1"
    assert parse_etcd({"endpoints": ["http://[::1]:2379"]}).endpoints[0].target == "[::1]:2379"


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"endpoints": []}, "endpoints must be a list"),
        ({"endpoints": ["10.0.0.1:2379"]}, "use https://HOST:PORT"),
        ({"endpoints": ["https://10.0.0.1:99999"]}, "port"),
        ({"endpoints": ["https://a b:2379"]}, "neither an address nor a name"),
        ({"endpoints": ["https://10.0.0.1:2379", "https://10.0.0.1:2379"]}, "listed twice"),
        ({"endpoints": ["https://10.0.0.1:2379", "http://10.0.0.2:2379"]}, "mix"),
        ({"ttl": 1}, "ttl 1"),
        ({"ttl": 4.5}, "ttl 4.5"),
        ({"ttl": True}, "ttl True"),
        ({"timeout": 1.0}, "must be below ttl / 4"),
        ({"timeout": 0}, "more than 0"),
        ({"on_loss": "stay"}, "release or keep"),
        ({"prefix": "standfast"}, "must start with /"),
        ({"prefix": "/standfast/"}, "not end with /"),
        ({"cert": "client.pem"}, "absolute path"),
        ({"key": ""}, "go together"),
    ],
)
def test_bad_settings_are_refused_with_193001(change: dict[str, Any], words: str) -> None:
    with pytest.raises(StandfastError) as caught:
        parse_etcd({**GOOD, **change})
    assert caught.value.code == "193001" and words in str(caught.value.params["reason"])


def definition(**top: Any) -> dict[str, Any]:
    return {
        "name": "c",
        "servers": {
            "s1": {"addresses": {"net1": "10.0.0.11"}},
            "s2": {"addresses": {"net1": "10.0.0.12"}},
        },
        **top,
    }


def test_the_definition_takes_quorum_etcd_and_refuses_a_stray_or_misspelt_section() -> None:
    d = definition_from_dict(definition(quorum="etcd", etcd=GOOD))
    assert d.quorum == "etcd" and d.to_dict()["etcd"] == GOOD
    with pytest.raises(StandfastError) as caught:
        definition_from_dict(definition(quorum="majority", etcd=GOOD))
    assert caught.value.code == "193001"
    with pytest.raises(StandfastError) as caught:
        definition_from_dict(definition(quorum="etcd"))
    assert caught.value.code == "193001"
    with pytest.raises(StandfastError) as caught:
        definition_from_dict(definition(quorum="etcd", etcd={**GOOD, "tll": 4}))
    assert caught.value.code == "193028" and "ttl" in str(caught.value.params["hint"])


def etcd_quorum(view: WitnessView | None, peers: set[str], *, keep: bool = False) -> bool:
    config = QuorumConfig(QuorumMode.ETCD, ("s1", "s2", "s3"), keep_on_arbiter_loss=keep)
    given = QuorumInput("s1", frozenset(peers), view, now=100.0)
    return decide_quorum(config, given).has_quorum


def test_quorum_is_the_lease_and_keep_needs_every_server() -> None:
    valid = WitnessView(reachable=True, granted=True, valid_until=101.0)
    lapsed = WitnessView(reachable=True, granted=True, valid_until=99.0)
    gone = WitnessView(reachable=False, granted=False)
    assert etcd_quorum(valid, set())  # alone, but the lease lives: the lease decides
    assert not etcd_quorum(lapsed, {"s2", "s3"})  # every peer, but no lease
    assert not etcd_quorum(None, {"s2", "s3"})
    assert not etcd_quorum(gone, {"s2", "s3"})  # release (the default)
    assert etcd_quorum(gone, {"s2", "s3"}, keep=True)
    assert not etcd_quorum(gone, {"s2"}, keep=True)  # one server not counted
    # keep is for an etcd nobody reaches: reachable without a lease is a lost lease.
    refused = WitnessView(reachable=True, granted=False)
    assert not etcd_quorum(refused, {"s2", "s3"}, keep=True)


def test_the_gate_waits_while_another_server_holds_the_key() -> None:
    held = replace(BASE, arbiter_holders={"E-app": "s1"})
    d = gate(RESTORE, config(), held)
    assert (d.verdict, d.rule, d.previous) == (Verdict.WAIT, "arbiter", "s1")
    for holders in ({}, {"E-app": "s2"}, {"E-fs": "s1"}):
        d = gate(RESTORE, config(), replace(BASE, arbiter_holders=holders))
        assert (d.verdict, d.rule) == (Verdict.GO, "go"), holders


def test_placement_passes_over_a_live_peer_without_a_lease() -> None:
    # s1 (best priority) is alive but holds no lease: s2 restores instead.
    v = view("s2", {"s1", "s2", "s3"}, {}, without_quorum=frozenset({"s1"}))
    assert place(v) == [Placement(PlacementKind.RESTORE, "E-app", "app", "s2")]
    assert place(view("s2", {"s1", "s2", "s3"}, {})) == []
