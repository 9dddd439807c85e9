"""Issue 11: tags, priorities, kit property values, ids and tunables are typed and
bounded; every refusal is a catalogue message, and nothing else ever escapes.

The property tests feed arbitrary input to each rule and accept only two outcomes:
a value within the rule, or the rule's own numbered StandfastError.
"""

from __future__ import annotations

import contextlib
import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from standfast.config.tunables import _PARSERS, Tunables, parse_defaults
from standfast.kits.app import AppKit
from standfast.kits.base import CreateRequest
from standfast.kits.ip import IpKit
from standfast.kits.schema import PropertySpec
from standfast.messages import StandfastError
from standfast.model.states import Switchback
from standfast.model.tags import TAG_MAX, validate_priority, validate_tag

P = Path("/etc/default/standfast")
HUGE = "1" + "0" * 400  # 401 digits
# The documented ranges (kits/schema.py, config/tunables.py): a day at most, and for
# the tunables' durations 10 ms at least.
NUMBER_MAX = 86_400.0
SECONDS_MIN, SECONDS_MAX, WHOLE_SECONDS_MAX = 0.01, 86_400.0, 86_400

# -- tags --------------------------------------------------------------------------------


@pytest.mark.parametrize("tag", ["x/../db", "zz/../db", "a/./b", "x/..", "x/.", "a/b/../../c"])
def test_tag_with_dot_segment_is_refused_with_190022(tag: str) -> None:
    with pytest.raises(StandfastError) as exc:
        validate_tag(tag)
    assert exc.value.code == "190022"
    assert tag in exc.value.text("en") and tag in exc.value.text("ja")


@pytest.mark.parametrize("tag", ["./x", "../config", "..", "."])
def test_tag_starting_with_a_dot_keeps_190002(tag: str) -> None:
    with pytest.raises(StandfastError) as exc:
        validate_tag(tag)
    assert exc.value.code == "190002"


@pytest.mark.parametrize("tag", ["a.b", "a..b", "a/.b", "a/..b/c", "x/...", "v1.2/b_c-d"])
def test_dots_inside_a_segment_stay_valid(tag: str) -> None:
    assert validate_tag(tag) == tag


_TAG_ALPHABET = st.sampled_from("ab./-_?#%\x00 [/]ü")


_SEGMENTED = st.lists(st.sampled_from(["a", ".", "..", "b.c", "", "?", "[/x]"]), min_size=1).map(
    "/".join
)


@settings(max_examples=500)
@given(st.one_of(st.text(), st.text(alphabet=_TAG_ALPHABET, max_size=12), _SEGMENTED))
def test_tag_rule_returns_a_safe_tag_or_a_catalogue_error(tag: str) -> None:
    try:
        checked = validate_tag(tag)
    except StandfastError as exc:
        assert exc.code in {"190001", "190002", "190003", "190004", "190022"}
        return
    assert checked == tag and 0 < len(tag) <= TAG_MAX
    assert tag[0] not in "./" and not {".", ".."} & set(tag.split("/"))
    assert tag.isascii() and all(c.isalnum() or c in "-_./" for c in tag)


@given(st.one_of(st.none(), st.integers(), st.floats(), st.text(), st.booleans()))
def test_tag_rule_never_raises_anything_else_on_any_type(value: object) -> None:
    with contextlib.suppress(StandfastError):
        validate_tag(value)  # type: ignore[arg-type]


# -- priorities --------------------------------------------------------------------------


@pytest.mark.parametrize("value", [True, False, 1.0, "1", None])
def test_priority_is_a_whole_number_not_a_boolean(value: object) -> None:
    # JSON true is a Python bool, which is an int equal to 1.
    with pytest.raises(StandfastError) as exc:
        validate_priority(value)  # type: ignore[arg-type]
    assert exc.value.code == "190005"


@given(st.one_of(st.integers(), st.booleans(), st.floats(), st.text(), st.none()))
def test_priority_rule_returns_1_to_999_or_190005(value: object) -> None:
    try:
        checked = validate_priority(value)  # type: ignore[arg-type]
    except StandfastError as exc:
        assert exc.code == "190005"
        return
    assert type(checked) is int and 1 <= checked <= 999


# -- kit property numbers ----------------------------------------------------------------

BAD_SECONDS = [
    "nan",
    "NaN",
    "inf",
    "-inf",
    "Infinity",
    "1e300",
    "1e309",
    "1e-300",
    HUGE,
    int(HUGE),
    float("nan"),
    float("inf"),
    1e300,
    1e-300,
    "86400.5",
    True,
    [],
    None,
]


def _refused(spec: PropertySpec, raw: object) -> StandfastError:
    with pytest.raises(StandfastError) as exc:
        spec.parse("app", raw)  # type: ignore[arg-type]
    assert exc.value.code == "190011"
    return exc.value


@pytest.mark.parametrize("raw", BAD_SECONDS, ids=repr)
def test_duration_property_refuses_non_finite_tiny_and_huge(raw: object) -> None:
    spec = PropertySpec("check_timeout", "float", "seconds", 10.0, minimum=0.1)
    err = _refused(spec, raw)
    assert err.params["name"] == "check_timeout"


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("check_timeout", "nan"),
        ("check_timeout", "inf"),
        ("restore_timeout", "inf"),
        ("restore_timeout", "1e300"),
        ("remove_timeout", HUGE),
        ("recover_timeout", "-1"),
    ],
)
def test_app_kit_refuses_the_issue_values_naming_the_key(name: str, raw: str) -> None:
    props = {"restore": "/bin/true", "remove": "/bin/true", name: raw}
    with pytest.raises(StandfastError) as exc:
        AppKit().validate(props)
    assert exc.value.code == "190011" and exc.value.params["name"] == name
    assert name in exc.value.text("en") and name in exc.value.text("ja")


def test_ip_kit_check_timeout_is_bounded_too() -> None:
    props = {"address": "10.0.0.1/24", "interface": "eth1", "check_timeout": "inf"}
    with pytest.raises(StandfastError) as exc:
        IpKit().validate(props)
    assert exc.value.params["name"] == "check_timeout"


@pytest.mark.parametrize("raw", ["0.1", 0.1, "5", 5, 5.5, " 60 ", "86400", 86400])
def test_duration_property_still_takes_sane_values(raw: object) -> None:
    spec = PropertySpec("check_timeout", "float", "seconds", 10.0, minimum=0.1)
    value = spec.parse("app", raw)  # type: ignore[arg-type]
    assert isinstance(value, float) and value == float(raw)  # type: ignore[arg-type]


def test_int_property_takes_whole_numbers_only() -> None:
    spec = PropertySpec("count", "int", "a count", 1, minimum=0)
    assert spec.parse("k", "12") == 12 and spec.parse("k", 12.0) == 12
    for raw in ("1.5", 1.5, HUGE, int(HUGE), "1e3", True, "nan", float("inf"), "0x10", "-1"):
        _refused(spec, raw)


_ANY_VALUE = st.one_of(
    st.text(),
    st.integers(),
    st.integers(min_value=-(10**500), max_value=10**500),
    st.floats(),
    st.booleans(),
    st.none(),
    st.lists(st.integers(), max_size=2),
    st.sampled_from(["nan", "inf", "-inf", "1e309", "1e-300", HUGE, "1_0", "٣", " 7 "]),
)
_SPECS = [
    PropertySpec("t", "float", "seconds", minimum=0.1),
    PropertySpec("n", "int", "count"),
    PropertySpec("b", "bool", "flag"),
    PropertySpec("s", "str", "text"),
    PropertySpec("p", "path", "path"),
    PropertySpec("a", "argv", "command"),
    PropertySpec("c", "choice", "one of", choices=("nfs", "nfs4")),
]


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(_SPECS), _ANY_VALUE)
def test_property_parsing_returns_a_bounded_value_or_190011(
    spec: PropertySpec, raw: object
) -> None:
    try:
        value = spec.parse("k", raw)  # type: ignore[arg-type]
    except StandfastError as exc:
        assert exc.code == "190011"
        exc.text("en"), exc.text("ja")  # renders whatever the value
        return
    if spec.type in ("int", "float"):
        assert not isinstance(value, bool) and isinstance(value, int | float)
        assert math.isfinite(value) and (spec.minimum or 0.0) <= value <= NUMBER_MAX
    elif spec.type == "bool":
        assert isinstance(value, bool)
    else:
        assert isinstance(value, str) and "\x00" not in value
        value.encode("utf-8")


# -- NUL and unencodable text --------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("restore", "/bin/echo a\x00b"),
        ("remove", "/bin/true\x00"),
        ("quick_check", "\x00"),
        ("restore", "/bin/echo \ud800"),
    ],
)
def test_nul_or_surrogate_in_a_string_property_is_refused(name: str, raw: str) -> None:
    props = {"restore": "/bin/true", "remove": "/bin/true", name: raw}
    with pytest.raises(StandfastError) as exc:
        AppKit().validate(props)
    assert exc.value.code == "190011" and exc.value.params["name"] == name


@pytest.mark.parametrize("kind", ["str", "path", "choice"])
def test_nul_is_refused_in_every_text_type(kind: str) -> None:
    spec = PropertySpec("x", kind, "text", choices=("/a\x00b",))  # type: ignore[arg-type]
    _refused(spec, "/a\x00b")


@pytest.mark.parametrize("rid", ["a\x00b", "\x00", "x\ud800"])
def test_nul_in_an_id_is_refused_before_any_kit_step(rid: str) -> None:
    with pytest.raises(StandfastError) as exc:
        CreateRequest("app", "t", rid, Switchback.INTELLIGENT, {})
    assert exc.value.code == "190023" and exc.value.params["kit"] == "app"
    assert CreateRequest("app", "t", "[/x] text", Switchback.INTELLIGENT, {}).id == "[/x] text"


# -- tunables ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        "SF_QUICKCHECK_INTERVAL=1e309",
        "SF_QUICKCHECK_INTERVAL=nan",
        "SF_DEEPCHECK_INTERVAL=inf",
        f"LKNFSTIMEOUT={HUGE}",
        "LKNFSTIMEOUT=86401",
        f"LKNFSSYSCALLTO={HUGE}",
        "SF_ACTION_TIMEOUT=inf",
        "SF_ACTION_TIMEOUT=1e-300",
        "SF_ACTION_TIMEOUT=0.001",
        "SF_ACTION_TIMEOUT=1e300",
        "SF_NFS_RPC_TIMEOUT=-inf",
        "SF_UMOUNT_TERM_WAIT=86400.01",
        "SF_HALT_COMMAND='/sbin/halt\x00 -f'",
    ],
)
def test_tunable_out_of_range_is_refused_naming_the_key(line: str) -> None:
    name = line.partition("=")[0]
    t, notices = parse_defaults(line + "\n", P, "s1")
    assert [(n.code, n.params["name"]) for n in notices] == [("190302", name)]
    assert getattr(t, name) == getattr(Tunables(), name)
    assert name in notices[0].text("en") and name in notices[0].text("ja")


def test_tunable_bounds_are_inclusive() -> None:
    text = (
        f"SF_ACTION_TIMEOUT={SECONDS_MIN}\nSF_QUICKCHECK_INTERVAL={SECONDS_MAX:g}\n"
        f"LKNFSTIMEOUT={WHOLE_SECONDS_MAX}\nLKNFSSYSCALLTO=1\n"
    )
    t, notices = parse_defaults(text, P, "s1")
    assert notices == []
    assert (t.SF_ACTION_TIMEOUT, t.SF_QUICKCHECK_INTERVAL) == (SECONDS_MIN, SECONDS_MAX)
    assert (t.LKNFSTIMEOUT, t.LKNFSSYSCALLTO) == (WHOLE_SECONDS_MAX, 1)


def _bounded(t: Tunables) -> None:
    for name in ("LKNFSTIMEOUT", "LKNFSSYSCALLTO"):
        value = getattr(t, name)
        assert type(value) is int and 1 <= value <= WHOLE_SECONDS_MAX
    for name in (
        "SF_QUICKCHECK_INTERVAL",
        "SF_DEEPCHECK_INTERVAL",
        "SF_NFS_RPC_TIMEOUT",
        "SF_ACTION_TIMEOUT",
        "SF_UMOUNT_TERM_WAIT",
    ):
        value = getattr(t, name)
        assert math.isfinite(value) and SECONDS_MIN <= value <= SECONDS_MAX, name
    assert all("\x00" not in word for word in t.SF_HALT_COMMAND)


_NUMBERISH = st.one_of(
    st.text(),
    st.floats().map(repr),
    st.integers(min_value=-(10**450), max_value=10**450).map(str),
    st.sampled_from(["nan", "inf", "1e309", "1e-300", HUGE, "1_0", "٣", "0x1", ""]),
)


@settings(max_examples=400)
@given(st.sampled_from(sorted(_PARSERS)), _NUMBERISH)
def test_tunable_parsing_never_raises_and_keeps_values_in_range(name: str, value: str) -> None:
    t, notices = parse_defaults(f"{name}={value}\n", P, "s1")
    assert all(n.code in {"190302", "190303", "190304", "190305", "107009"} for n in notices)
    _bounded(t)


@settings(max_examples=300)
@given(st.text())
def test_any_defaults_file_text_parses_to_bounded_tunables(text: str) -> None:
    t, notices = parse_defaults(text, P, "s1")
    assert all(n.code in {"190302", "190303", "190304", "190305", "107009"} for n in notices)
    _bounded(t)
