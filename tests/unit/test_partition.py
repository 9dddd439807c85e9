"""Agreed membership: a non-transitive cut leaves at most one side with a majority."""

from __future__ import annotations

from standfast.engine.partition import agreed_voters, choose_partition, still_counted

ALL = frozenset({"s1", "s2", "s3"})


def partitions(sees: dict[str, frozenset[str]]) -> dict[str, frozenset[str]]:
    """Every server's chosen partition, from whom each hears."""
    return {s: choose_partition(s, sees[s], {p: sees[p] for p in sees if p != s}) for s in sees}


def votes(sees: dict[str, frozenset[str]]) -> dict[str, int]:
    pts = partitions(sees)
    return {s: 1 + len(agreed_voters(s, pts[s], pts)) for s in sees}


def test_everyone_hears_everyone() -> None:
    sees = {s: ALL for s in ALL}
    assert set(partitions(sees).values()) == {ALL}
    assert votes(sees) == {"s1": 3, "s2": 3, "s3": 3}


def test_an_isolated_server_has_one_vote() -> None:
    sees = {"s1": frozenset({"s1", "s2"}), "s2": frozenset({"s1", "s2"}), "s3": frozenset({"s3"})}
    assert votes(sees) == {"s1": 2, "s2": 2, "s3": 1}


def test_non_transitive_cut_leaves_one_majority() -> None:
    # s1 and s3 no longer hear each other; both still hear s2 (the campaign's finding).
    sees = {
        "s1": frozenset({"s1", "s2"}),
        "s2": ALL,
        "s3": frozenset({"s2", "s3"}),
    }
    pts = partitions(sees)
    assert pts["s2"] == frozenset({"s1", "s2"})  # s2 is in one partition only
    v = votes(sees)
    majorities = [s for s in ("s1", "s3") if v[s] >= 2]
    assert majorities == ["s1"]


def test_the_choice_does_not_depend_on_who_asks_first() -> None:
    sees = {"s1": frozenset({"s1", "s2"}), "s2": ALL, "s3": frozenset({"s2", "s3"})}
    reported = {p: sees[p] for p in ("s1", "s3")}
    assert choose_partition("s2", ALL, reported) == choose_partition("s2", ALL, dict(reported))


def test_a_peer_without_a_report_is_left_out() -> None:
    assert choose_partition("s1", ALL, {"s2": ALL}) == frozenset({"s1", "s2"})


def test_still_counted_names_who_counts_a_server() -> None:
    pts = {"s2": ALL, "s1": frozenset({"s1", "s2"})}
    assert still_counted("s3", frozenset({"s1", "s2"}), pts) == frozenset({"s2"})
    assert still_counted("s3", frozenset({"s1"}), pts) == frozenset()


def test_a_returning_server_joins_without_displacing_a_member() -> None:
    # s2 and s3 ran together; s1 comes back and is heard by s2 before s3 hears it.
    sees_s2 = ALL
    reported = {"s1": ALL, "s3": frozenset({"s2", "s3"})}
    before = frozenset({"s2", "s3"})
    assert choose_partition("s2", sees_s2, reported, before) == before
    # Once s3 hears s1 too, all three.
    reported["s3"] = ALL
    assert choose_partition("s2", sees_s2, reported, before) == ALL
