"""Quorum rules (pure) and the split-brain invariant as a property."""

from __future__ import annotations

import re
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from standfast.cluster.quorum import (
    QuorumConfig,
    QuorumConfigError,
    QuorumInput,
    QuorumMode,
    QuorumStatus,
    WitnessView,
    decide_quorum,
    validate_timing,
)
from standfast.messages import CATALOGUE, lookup, render
from standfast.messages.quorum_codes import BAD_QUORUM_CONFIG, QUORUM_FIELDS, QUORUM_MESSAGES

GRANTED = WitnessView(reachable=True, granted=True, detail="granted")
REFUSED = WitnessView(reachable=True, granted=False, detail="refused", holder=("s2",))
UNREACHABLE = WitnessView(reachable=False, granted=False, detail="timeout")


def decide(
    config: QuorumConfig, local: str, peers: set[str], witness: WitnessView | None = None
) -> QuorumStatus:
    return decide_quorum(config, QuorumInput(local, frozenset(peers), witness))


def test_majority_of_three() -> None:
    cfg = QuorumConfig(QuorumMode.MAJORITY, ("s1", "s2", "s3"))
    assert decide(cfg, "s1", {"s2", "s3"}).has_quorum
    two = decide(cfg, "s1", {"s2"})
    assert two.has_quorum and (two.votes_present, two.votes_needed) == (2, 2)
    alone = decide(cfg, "s3", set())
    assert not alone.has_quorum and (alone.votes_present, alone.votes_needed) == (1, 2)


def test_weighted_votes() -> None:
    cfg = QuorumConfig(QuorumMode.MAJORITY, ("s1", "s2", "s3"), votes={"s1": 3})
    assert cfg.total_votes == 5 and cfg.votes_needed == 3
    assert decide(cfg, "s1", set()).has_quorum  # 3 of 5
    assert not decide(cfg, "s2", {"s3"}).has_quorum  # 2 of 5


def test_unknown_peers_count_nothing_and_unknown_local_has_no_quorum() -> None:
    cfg = QuorumConfig(QuorumMode.MAJORITY, ("s1", "s2", "s3"))
    assert not decide(cfg, "s1", {"intruder", "x"}).has_quorum
    status = decide(cfg, "s9", {"s1", "s2", "s3"})
    assert not status.has_quorum and status.votes_present == 0


def test_two_servers_with_tcp_witness() -> None:
    cfg = QuorumConfig(QuorumMode.TCP_WITNESS, ("s1", "s2"))
    assert cfg.total_votes == 3 and cfg.votes_needed == 2
    # Seeing the peer is enough, whatever the witness says.
    for view in (None, GRANTED, REFUSED, UNREACHABLE):
        assert decide(cfg, "s1", {"s2"}, view).has_quorum
    # Alone: only with the witness's grant.
    alone = decide(cfg, "s1", set(), GRANTED)
    assert alone.has_quorum and alone.witness_counted and alone.votes_present == 2
    for view in (None, REFUSED, UNREACHABLE):
        status = decide(cfg, "s1", set(), view)
        assert not status.has_quorum and not status.witness_counted


def test_expired_grant_is_not_counted() -> None:
    cfg = QuorumConfig(QuorumMode.TCP_WITNESS, ("s1", "s2"))
    view = WitnessView(True, True, "granted", ("s1",), valid_until=100.0)
    assert decide_quorum(cfg, QuorumInput("s1", frozenset(), view, now=99.9)).has_quorum
    late = decide_quorum(cfg, QuorumInput("s1", frozenset(), view, now=100.1))
    assert not late.has_quorum and "expired" in late.reason
    # A refusal that claims to be granted-but-unreachable never counts.
    assert not decide(cfg, "s1", set(), WitnessView(False, True)).has_quorum


def test_storage_witness_lease_holder_has_the_vote() -> None:
    cfg = QuorumConfig(QuorumMode.STORAGE_WITNESS, ("s1", "s2"), loss_action="halt")
    holder = WitnessView(True, True, "renewed", ("s1",))
    other = WitnessView(True, False, "held by s1", ("s1",))
    assert decide(cfg, "s1", set(), holder).has_quorum
    assert not decide(cfg, "s2", set(), other).has_quorum


def test_mode_none_always_has_quorum() -> None:
    cfg = QuorumConfig(QuorumMode.NONE, ("s1", "s2"))
    status = decide(cfg, "s2", set())
    assert status.has_quorum and status.votes_needed == 0


def test_tie_breaker_decides_an_exact_half() -> None:
    cfg = QuorumConfig(QuorumMode.MAJORITY, ("s1", "s2", "s3", "s4"), tie_breaker="s1")
    with_tb = decide(cfg, "s2", {"s1"})
    assert with_tb.has_quorum and with_tb.tie_break
    assert not decide(cfg, "s3", {"s4"}).has_quorum
    two = QuorumConfig(QuorumMode.MAJORITY, ("s1", "s2"), tie_breaker="s2")
    assert decide(two, "s2", set()).has_quorum and not decide(two, "s1", set()).has_quorum
    no_tb = QuorumConfig(QuorumMode.MAJORITY, ("s1", "s2", "s3", "s4"))
    assert not decide(no_tb, "s1", {"s2"}).has_quorum


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"mode": "majority", "servers": ("s1", "s2")}, "never fails over"),
        ({"mode": "majority", "servers": ()}, "no servers"),
        ({"mode": "majority", "servers": ("s1", "s1", "s2")}, "twice"),
        ({"mode": "majority", "servers": ("s1", "-rf", "s2")}, "not valid"),
        ({"mode": "majority", "servers": ("s1", "a b", "s2")}, "not valid"),
        ({"mode": "quorate", "servers": ("s1", "s2", "s3")}, "unknown mode"),
        ({"mode": "majority", "servers": ("s1", "s2", "s3"), "votes": {"s4": 1}}, "unknown"),
        ({"mode": "majority", "servers": ("s1", "s2", "s3"), "votes": {"s1": 0}}, "votes"),
        ({"mode": "majority", "servers": ("s1", "s2", "s3"), "votes": {"s1": True}}, "votes"),
        ({"mode": "majority", "servers": ("s1", "s2", "s3"), "loss_action": "reboot"}, "action"),
        ({"mode": "tcp_witness", "servers": ("s1",)}, "at least two"),
        ({"mode": "tcp_witness", "servers": ("s1", "s2"), "witness_votes": 2}, "not fewer"),
        ({"mode": "tcp_witness", "servers": ("s1", "s2"), "witness_votes": 0}, "witness"),
        ({"mode": "majority", "servers": ("s1", "s2", "s3"), "tie_breaker": "s1"}, "even"),
        ({"mode": "majority", "servers": ("s1", "s2", "s3", "s4"), "tie_breaker": "x"}, "not a"),
        ({"mode": "none", "servers": ("s1", "s2"), "tie_breaker": "s1"}, "mode none"),
    ],
)
def test_bad_configurations_are_refused_with_a_code(
    kwargs: dict[str, object], fragment: str
) -> None:
    with pytest.raises(QuorumConfigError) as info:
        QuorumConfig(**kwargs)  # type: ignore[arg-type]
    assert info.value.code == BAD_QUORUM_CONFIG
    assert fragment in info.value.reason


def test_small_clusters_that_are_allowed() -> None:
    QuorumConfig(QuorumMode.MAJORITY, ("s1",))  # one server: trivially quorate
    QuorumConfig(QuorumMode.MAJORITY, ("s1", "s2"), allow_no_failover=True)
    QuorumConfig(QuorumMode.TCP_WITNESS, ("s1", "s2"))
    cfg = QuorumConfig("storage_witness", ("s1", "s2"))  # type: ignore[arg-type]
    assert cfg.mode is QuorumMode.STORAGE_WITNESS
    assert dict(cfg.votes) == {"s1": 1, "s2": 1}


def test_timing_rule() -> None:
    validate_timing(check_interval=2, io_timeout=3, ttl=8)
    with pytest.raises(QuorumConfigError, match="192061"):
        validate_timing(check_interval=2, io_timeout=3, ttl=7.9)
    with pytest.raises(QuorumConfigError):
        validate_timing(check_interval=0, io_timeout=3, ttl=10)


# --------------------------------------------------------------------------- property

NAMES = [f"s{i}" for i in range(1, 8)]


@st.composite
def scenarios(
    draw: st.DrawFn,
) -> tuple[QuorumConfig, list[str], list[str], dict[str, set[str]], dict[str, WitnessView]]:
    n = draw(st.integers(1, 7))
    servers = NAMES[:n]
    mode = draw(
        st.sampled_from([QuorumMode.MAJORITY, QuorumMode.TCP_WITNESS, QuorumMode.STORAGE_WITNESS])
    )
    if mode is not QuorumMode.MAJORITY and n < 2:
        mode = QuorumMode.MAJORITY
    votes = {s: draw(st.integers(1, 3)) for s in servers}
    witness_votes = draw(st.integers(1, max(1, sum(votes.values()) - 1)))
    total = sum(votes.values()) + (witness_votes if mode is not QuorumMode.MAJORITY else 0)
    tie_breaker = draw(st.sampled_from([None, *servers])) if total % 2 == 0 else None
    try:
        config = QuorumConfig(
            mode,
            tuple(servers),
            votes=votes,
            witness_votes=witness_votes,
            tie_breaker=tie_breaker,
            allow_no_failover=True,
        )
    except QuorumConfigError:
        config = QuorumConfig(QuorumMode.MAJORITY, tuple(servers), allow_no_failover=True)
    side_a = [s for s in servers if draw(st.booleans())]
    side_b = [s for s in servers if s not in side_a]
    # Views: each server sees itself and any subset of the peers on its side (a
    # partition is consistent: nobody sees across it; views may lag inside a side).
    views: dict[str, set[str]] = {}
    for side in (side_a, side_b):
        for s in side:
            views[s] = {p for p in side if p != s and draw(st.booleans())}
    # The witness grants at most one side; each server may also fail to reach it or
    # hold an outdated refusal.
    granted_side = draw(st.sampled_from(["a", "b", None]))
    witness: dict[str, WitnessView] = {}
    for label, side in (("a", side_a), ("b", side_b)):
        for s in side:
            kind = draw(st.sampled_from(["answer", "unreachable", "none"]))
            if kind == "unreachable":
                witness[s] = UNREACHABLE
            elif kind == "answer":
                witness[s] = GRANTED if granted_side == label else REFUSED
    return config, side_a, side_b, views, witness


@settings(max_examples=2000, deadline=None)
@given(scenarios())
def test_at_most_one_side_of_a_partition_has_quorum(
    scenario: tuple[
        QuorumConfig, list[str], list[str], dict[str, set[str]], dict[str, WitnessView]
    ],
) -> None:
    config, side_a, side_b, views, witness = scenario

    def side_has_quorum(side: list[str]) -> bool:
        return any(decide(config, s, views[s], witness.get(s)).has_quorum for s in side)

    assert not (side_has_quorum(side_a) and side_has_quorum(side_b)), (side_a, side_b)


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 7), st.data())
def test_a_fully_connected_cluster_always_has_quorum(n: int, data: st.DataObject) -> None:
    servers = tuple(NAMES[:n])
    votes = {s: data.draw(st.integers(1, 3)) for s in servers}
    config = QuorumConfig(QuorumMode.MAJORITY, servers, votes=votes, allow_no_failover=True)
    for s in servers:
        assert decide(config, s, set(servers) - {s}, UNREACHABLE).has_quorum


# --------------------------------------------------------------------------- messages

JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_quorum_messages_are_in_the_catalogue() -> None:
    codes = [m.code for m in QUORUM_MESSAGES]
    assert len(codes) == len(set(codes))
    assert all(192001 <= int(c) <= 192099 for c in codes)
    assert set(codes) == set(QUORUM_FIELDS)
    for m in QUORUM_MESSAGES:
        assert CATALOGUE[m.code] is m
        assert JAPANESE.search(m.ja) and not JAPANESE.search(m.en)
        assert _fields(m.en) == _fields(m.ja) == QUORUM_FIELDS[m.code], m.code
        assert bool(m.action_en) == bool(m.action_ja)
        params = dict.fromkeys(QUORUM_FIELDS[m.code], "X")
        for lang in ("en", "ja"):
            assert "<" not in render(m.code, lang, **params)


def test_quorum_config_error_renders_in_both_languages() -> None:
    err = QuorumConfigError("a reason")
    assert str(err) == "192061: Bad quorum configuration: a reason"
    assert "クォーラム" in err.text("ja")
    assert lookup("192002").severity.value == "fatal"
