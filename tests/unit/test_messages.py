"""The numbered message catalogue: codes, languages, placeholders, rendering."""

from __future__ import annotations

import re
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from standfast.messages import (
    CATALOGUE,
    Lang,
    MessageDef,
    Notice,
    Severity,
    StandfastError,
    format_text,
    language_from_env,
    lookup,
    render,
)
from standfast.messages.alert_codes import ALERT_FIELDS
from standfast.messages.api_codes import API_FIELDS
from standfast.messages.guide import GUIDE_MESSAGES
from standfast.messages.listing import catalogue_rows
from standfast.messages.own import OWN_MESSAGES
from standfast.messages.quorum_codes import QUORUM_FIELDS

# Every code of REQUIREMENTS section 3 (the reference guide's chapter 6).
GUIDE_CODES = {
    # common
    "000002", "000010", "000011", "000019", "000022", "000026",
    # create
    "000012", "000013", "000014", "000015", "000018", "000021", "000023", "000024",
    "000027", "000028", "000029", "000030",
    # extend
    "000003", "000004", "000005", "000006", "000007", "000008", "000009", "000025",
    # restore / recovery
    "000001",
    # NAS kit
    "107001", "107002", "107003", "107004", "107005", "107006", "107007", "107008",
    "107009", "107010", "107011", "107012", "107013",
    # mount point checks
    "104901", "104902", "104903",
}  # fmt: skip

# The guide gives an action (処置) for these; REQUIREMENTS repeats it in short.
GUIDE_CODES_WITH_ACTION = {
    "000029", "107005", "107009", "107010", "107012", "107013", "104901", "104902", "104903",
}  # fmt: skip

# Placeholders are the interface callers fill: a renamed one silently shows "<name>".
EXPECTED_FIELDS: dict[str, set[str]] = {
    "000001": {"tag", "server"},
    "000002": set(),
    "000003": {"tag", "server"},
    "000004": {"tag", "server"},
    "000005": {"server"},
    "000006": {"path", "server"},
    "000007": {"path", "server"},
    "000008": {"tag", "server"},
    "000009": {"templatesys", "templatetag"},
    "000010": set(),
    "000011": set(),
    "000012": set(),
    "000013": set(),
    "000014": {"tag"},
    "000015": {"server"},
    "000018": {"tag", "server"},
    "000019": set(),
    "000021": {"tag", "server"},
    "000022": {"tag", "server"},
    "000023": {"tag", "server"},
    "000024": {"tag", "server"},
    "000025": {"tag", "server", "signal"},
    "000026": {"action", "tag", "server", "signal"},
    "000027": {"parent", "child", "server"},
    "000028": {"filesys_tag", "parent", "server"},
    "000029": {"parent", "child", "server"},
    "000030": {"phase"},
    "107001": {"tag_id", "server"},
    "107002": {"nfs_server", "server"},
    "107003": {"nfs_server", "server"},
    "107004": {"device"},
    "107005": {"tag", "server"},
    "107006": set(),
    "107007": {"server"},
    "107008": {"server"},
    "107009": {"server"},
    "107010": {"tag", "server"},
    "107011": {"dir", "server", "reason"},
    "107012": {"export", "server"},
    "107013": {"ip", "export", "server"},
    "104901": {"mount_point"},
    "104902": {"mount_point"},
    "104903": {"mount_point"},
    "190001": {"tag"},
    "190002": {"tag"},
    "190003": {"tag"},
    "190004": set(),
    "190005": {"priority"},
    "190006": {"priority", "server", "tag"},
    "190007": {"parent", "child"},
    "190008": {"parent", "child"},
    "190009": {"parent", "child", "server"},
    "190010": {"kit", "known"},
    "190011": {"value", "name", "kit", "reason"},
    "190012": {"name", "kit"},
    "190013": {"name", "kit"},
    "190014": {"value"},
    "190015": {"tag", "parents", "server"},
    "190016": {"tag", "server"},
    "190017": {"name", "kit"},
    "190018": {"parent", "child", "parent_state", "child_state"},
    "190019": {"tag", "root"},
    "190020": {"value"},
    "190021": {"count", "limit", "server", "size"},
    "190022": {"tag"},
    "190023": {"id", "kit", "reason"},
    "190024": {"value", "option", "reason"},
    "190101": {"path", "reason"},
    "190102": {"path", "found", "expected"},
    "190103": {"version"},
    "190201": {"socket", "reason"},
    "190202": {"seconds"},
    "190203": {"user", "operation"},
    "190204": {"tag"},
    "190205": {"socket"},
    "190206": {"detail"},
    "190207": {"action", "tag", "seconds"},
    "190208": {"server", "version"},
    "190209": {"server"},
    "190210": {"status", "detail"},
    "190213": {"seconds", "interval"},
    "190214": {"socket", "reason"},
    "190215": {"server", "seconds"},
    "190301": {"path", "reason"},
    "190302": {"value", "name", "path", "reason", "default"},
    "190303": {"name", "path"},
    "190304": {"line", "path"},
    "190305": {"server", "timeout", "margin"},
    "190401": {"export", "count", "fstab"},
    "190402": {"mount_point", "server"},
    "190403": {"mount_point", "host", "ip"},
    "190404": {"mount_point", "options"},
    "190405": {"mount_point", "backup"},
    "190406": {"mount_point"},
    "190407": {"nfs_server", "seconds"},
    "190408": {"mount_point", "call", "seconds", "attempt", "tries"},
    "190409": {"mount_point", "source", "server"},
    "190410": {"tag", "server"},
    "190411": {"tag", "root"},
    "190412": {"mount_point", "signal", "pids"},
    "190413": {"mount_point", "method"},
    "190414": {"source", "mount_point", "reason"},
    "190415": {"mount_point", "reason"},
    "190416": {"tag", "mount_point"},
    "190417": {"tag", "reason"},
    "190418": {"nfs_server", "export", "server"},
    "190419": {"host", "reason"},
    "190420": {"tag", "server", "reason"},
    "190421": {"command", "reason", "error"},
    "190422": {"tag", "server", "reason"},
    "190423": {"tag", "server", "done"},
    "190501": {"command", "reason"},
    "190502": {"device", "reason"},
    "190503": {"device", "timeout"},
    "190504": {"what"},
    "190505": {"what", "reason"},
    "190601": {"action", "tag", "status", "output"},
    "190602": {"action", "tag", "seconds"},
    "190603": {"command", "tag"},
    "190701": {"action", "action_noun", "tag", "server"},
    "190702": {"action", "action_noun", "tag", "server"},
    "190703": {"action", "action_noun", "tag", "server", "reason"},
    "190704": {"tag", "id", "server"},
    "190705": {"parent", "child", "server"},
    "190706": set(),
    "190801": {"address", "reason"},
    "190802": {"interface", "server"},
    "190803": {"interface", "reason"},
    "190804": {"address", "other", "server"},
    "190805": {"address", "interface", "method", "server"},
    "190806": {"command", "output", "status", "tag"},
    "190807": {"command", "seconds", "tag"},
    "190808": {"address", "interface", "server"},
    "190809": {"interface", "server", "state"},
    "190810": {"address", "interface"},
    "190811": {"address"},
    "190812": {"address", "interface", "reason"},
    "190813": {"address", "interface", "server"},
    "190814": {"address", "interface", "server"},
    "190815": {"interface", "reason"},
    "190816": {"address", "id"},
    "190901": {"server", "pid"},
    "190902": {"server", "pid", "seconds"},
    "190903": {"path", "hidden"},
    "190904": {"server"},
    "190905": {"server", "seconds", "pids"},
    "191001": {"path"},
    "191002": {"path", "minimum"},
    "191003": {"path", "source", "reason"},
    "191004": {"path", "source"},
    "191005": {"path", "peer"},
    "191006": {"path", "peer"},
    "191007": {"peer"},
    "191008": {"path", "reason"},
    "191009": {"address", "port", "reason"},
    "193001": {"reason"},
    "193002": {"cluster", "server"},
    "193003": {"address", "network", "server"},
    "193004": {"server"},
    "193005": {"value"},
    "193006": {"value"},
    "193007": {"address", "other", "server"},
    "193008": {"path"},
    "193009": {"server", "tag"},
    "193010": {"operation", "server"},
    "193011": {"server", "tag"},
    "193012": {"needed", "server", "votes"},
    "193013": {"server"},
    "193014": {"peer", "tag", "target"},
    "193015": {"tag", "target"},
    "193016": {"local", "peer", "version"},
    "193017": {"server"},
    "193018": {"source", "tag", "target"},
    "193019": {"server", "tag"},
    "193020": {"reason", "server", "tag"},
    "193021": {"local", "peer", "version"},
    "193022": {"needed", "server", "tag", "votes"},
    "193023": {"reason", "server", "tag"},
    "193024": {"holder", "server", "tag"},
    "193025": {"server", "tag"},
    "193026": {"needed", "server", "tag", "votes"},
    "193033": {"needed", "server", "votes"},
    "193034": {"holders", "needed", "server"},
    "193027": {"seconds", "server", "wait"},
    "193028": {"hint", "key", "where"},
    "193029": {"key", "value"},
    "193030": {"reason", "tag"},
    "193031": {"steps", "tag"},
    "193032": {"reason", "steps", "tag"},
    "191010": {"method", "peer", "reason"},
    "191011": {"method", "peer", "seconds"},
    "191012": {"peer", "detail"},
    "191013": {"ours", "path", "source", "theirs"},
}

# The ocf kit's messages (standfast.messages.ocf_codes).
OCF_FIELDS: dict[str, set[str]] = {
    "195001": {"agent"},
    "195002": {"agent", "path", "server"},
    "195003": {"agent", "reason", "server"},
    "195004": {"agent", "reason"},
    "195005": {"agent", "name"},
    "195006": {"id"},
    "195010": {"agent", "meaning", "output", "server", "tag"},
    "195011": {"action", "agent", "meaning", "output", "server", "tag"},
    "195012": {"action", "agent", "seconds", "server", "tag"},
    "195013": {"agent", "depth", "meaning", "output", "server", "tag"},
    "195014": {"action", "agent", "meaning", "output", "server", "tag"},
    "195015": {"action", "agent", "meaning", "output", "server", "tag"},
    "195016": {"agent", "output", "server", "tag"},
}
EXPECTED_FIELDS.update(OCF_FIELDS)
EXPECTED_FIELDS.update({c: set(f) for c, f in QUORUM_FIELDS.items()})
EXPECTED_FIELDS.update({c: set(f) for c, f in API_FIELDS.items()})
EXPECTED_FIELDS.update({c: set(f) for c, f in ALERT_FIELDS.items()})
# The event history and the logs (messages/history_codes.py).
EXPECTED_FIELDS.update(
    {
        "196001": {"value", "option", "reason"},
        "196002": {"since", "until"},
        "196003": {"limit", "maximum"},
        "196004": {"field", "value", "reason"},
        "196005": {"detail"},
        "196006": {"path", "reason"},
        "196007": {"loaded", "path", "keep", "days"},
        "196008": {"added", "present"},
        "196101": {"path"},
        "196102": {"target", "reason", "fallback"},
    }
)
# Maintenance mode and standby (messages/mode_codes.py).
EXPECTED_FIELDS.update(
    {
        "198001": {"server", "servers"},
        "198002": {"server", "tag"},
        "198003": {"server", "tag"},
        "198004": set(),
        "198005": set(),
        "198006": {"server"},
        "198007": {"server"},
        "198008": {"tag"},
        "198009": {"tag"},
    }
)
# The etcd arbiter (messages/etcd_codes.py).
EXPECTED_FIELDS.update(
    {
        "199001": {"server", "reason"},
        "199002": {"tag", "holder", "server"},
        "199003": {"server", "tag", "reason"},
        "199004": {"lease", "server"},
        "199005": {"lease", "server", "ttl"},
        "199006": {"server", "tag", "reason"},
        "199007": {"server", "reason"},
        "199008": {"endpoint", "server"},
        "199009": {"endpoint", "server", "reason"},
        "199010": {"tag", "server", "holder"},
        "199011": {"endpoints"},
        "195101": {"server"},
        "195102": {"unit"},
        "195103": {"unit", "server", "state"},
        "195104": {"verb", "unit", "server", "reason"},
        "195105": {"unit", "server", "state", "result"},
        "195106": {"unit", "server"},
        "195107": {"unit", "server", "reason"},
        "195108": {"unit", "server"},
        "191020": {"servers"},
        "191021": {"step", "server", "reason"},
        "191022": {"server", "fingerprints"},
        "191023": {"fingerprint"},
        "191024": {"server", "keys"},
        "191025": {"path", "reason"},
    }
)
# Backup archive and restore (messages/backup_codes.py).
EXPECTED_FIELDS.update(
    {
        "198101": {"path", "reason"},
        "198102": {"path", "format", "version", "supported"},
        "198103": {"path", "backup", "backup_key", "local", "local_key"},
        "198104": {"path"},
        "198105": {"server", "cluster", "members"},
        "198106": {"cluster", "path"},
        "198107": {"path", "saved"},
        "198108": {"cluster", "server", "dir"},
        "198109": {"cluster", "path"},
        "198110": {"path", "reason"},
        "198111": {"path", "fingerprint", "cluster"},
        "198112": {"path", "reason"},
        "198113": {"server", "cluster", "version", "events", "files", "path"},
        "198114": {"path", "reason"},
        "198115": {"path", "backup", "server"},
        # a daemon that stops in a cluster (engine/leave.py)
        "198201": {"count", "server", "tags"},
        "198202": {"server", "tags", "seconds"},
        "198203": {"server", "tags", "reason"},
        "198204": {"server", "tags"},
        "198205": {"peer"},
    }
)

JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
# Every catalogue file, so a new one cannot slip in without its checks.
ALL = tuple(CATALOGUE.values())
LANGS: tuple[Lang, ...] = ("en", "ja")


def fields(template: str) -> set[str]:
    """Placeholder names; rejects positional, indexed or formatted fields."""
    names: set[str] = set()
    for _literal, name, spec, conversion in string.Formatter().parse(template):
        if name is None:
            continue
        assert name.isidentifier(), f"{name!r} in {template!r}"
        assert not spec and conversion is None, template
        names.add(name)
    return names


def test_every_guide_code_is_present_once() -> None:
    codes = [m.code for m in GUIDE_MESSAGES]
    assert len(codes) == len(set(codes))
    assert set(codes) == GUIDE_CODES
    assert CATALOGUE.keys() >= GUIDE_CODES


def test_codes_are_six_digits_and_unique() -> None:
    codes = [m.code for m in ALL]
    assert all(re.fullmatch(r"\d{6}", c) for c in codes)
    assert len(codes) == len(set(codes)) == len(CATALOGUE)


def test_own_codes_are_in_their_range_and_guide_codes_are_not() -> None:
    assert OWN_MESSAGES
    own = [m for m in ALL if m.code not in GUIDE_CODES]
    assert all(190000 <= int(m.code) <= 199999 for m in own)
    assert not any(190000 <= int(m.code) <= 199999 for m in GUIDE_MESSAGES)


@pytest.mark.parametrize("m", ALL, ids=lambda m: m.code)
def test_message_has_both_languages(m: MessageDef) -> None:
    assert isinstance(m.severity, Severity)
    assert m.en.strip() and m.ja.strip()
    assert JAPANESE.search(m.ja), m.ja
    assert not JAPANESE.search(m.en), m.en
    # An action is given in both languages or in neither.
    assert bool(m.action_en.strip()) == bool(m.action_ja.strip())
    if m.action_ja:
        assert JAPANESE.search(m.action_ja)
        assert not JAPANESE.search(m.action_en)


@pytest.mark.parametrize("m", ALL, ids=lambda m: m.code)
def test_placeholders_match_between_languages(m: MessageDef) -> None:
    assert fields(m.en) == fields(m.ja)
    assert fields(m.action_en) == fields(m.action_ja)
    assert fields(m.action_en) <= fields(m.en)


def test_placeholders_are_the_documented_ones() -> None:
    assert EXPECTED_FIELDS.keys() == CATALOGUE.keys()
    wrong = {c: fields(m.en) for c, m in CATALOGUE.items() if fields(m.en) != EXPECTED_FIELDS[c]}
    assert wrong == {}


def test_guide_actions_are_present() -> None:
    for code in GUIDE_CODES_WITH_ACTION:
        m = lookup(code)
        assert m.action_en and m.action_ja, code


def test_severities() -> None:
    assert lookup("107009").severity is Severity.WARNING
    assert lookup("000001").severity is Severity.INFO
    assert lookup("190701").severity is Severity.INFO
    assert lookup("190410").severity is Severity.FATAL
    for code in ("000021", "000027", "000028"):  # back-outs: one severity for all
        assert lookup(code).severity is Severity.WARNING
    for code in ("000022", "000026", "000025", "107011", "107013", "190703"):
        assert lookup(code).severity is Severity.ERROR


def test_render_fills_params_in_both_languages() -> None:
    assert render("107011", "en", dir="/tmp/nas_mntpt.2915", server="mouse", reason="EACCES") == (
        '107011: Error: mkdir of "/tmp/nas_mntpt.2915" on "mouse" failed: "EACCES"'
    )
    assert render("107013", "en", ip="172.25.113.25", export="/export", server="fred") == (
        '107013: Error: Mount authorization check for "172.25.113.25:/export" on "fred"'
        " appears to be hung. Exiting."
    )
    assert render("000018", "ja", tag="test-on-server1", server="server1") == (
        "000018: サーバserver1でリソースtest-on-server1の作成エラー"
    )
    assert render("000030", "en", phase="extend") == "000030: extend: tag name not specified"
    assert render("000030", "ja", phase="create") == "000030: create: タグ名が指定されていません"


def test_log_lines_match_the_guide_style() -> None:
    begin = format_text(
        "190701", "en", action="create", action_noun="creation", tag="device-nas20988",
        server="server1",
    )  # fmt: skip
    assert begin == 'create: BEGIN creation of "device-nas20988" on server "server1"'
    end = format_text(
        "190702", "en", action="create", action_noun="creation", tag="device-nas20988",
        server="server1",
    )  # fmt: skip
    assert end == 'create: END successful creation of "device-nas20988" on server "server1"'
    assert format_text("190704", "en", tag="test-on-server1", id="/test", server="server1") == (
        'Creating Resource Instance test-on-server1 with id /test on machine "server1":'
    )
    assert (
        format_text(
            "190705", "en", parent="test-on-server1", child="device-nas20988", server="server1"
        )
        == 'Creating Dependency test-on-server1-"device-nas20988" on machine "server1":'
    )
    assert format_text("190706", "en") == "Removing /etc/fstab entry"
    # BEGIN/END stay greppable in Japanese logs.
    assert "BEGIN" in lookup("190701").ja and "END" in lookup("190703").ja


def test_render_leaves_missing_params_visible() -> None:
    text = render("000018", "en", tag="t1")
    assert text == "000018: Error creating resource t1 on server <server>"
    assert (
        render("000001", "ja")
        == "000001: サーバ<server>でリソース<tag>の sendevent を呼び出しています"
    )


@given(
    code=st.sampled_from(sorted(CATALOGUE)),
    lang=st.sampled_from(LANGS),
    value=st.text(max_size=20),
)
def test_render_never_fails_and_shows_every_value(code: str, lang: Lang, value: str) -> None:
    names = EXPECTED_FIELDS[code]
    text = render(code, lang, **dict.fromkeys(names, value))
    assert text.startswith(code + ": ")
    for name in names:
        assert f"<{name}>" not in text or f"<{name}>" in value
    if names:
        assert value in text


def test_unknown_code_is_a_key_error() -> None:
    with pytest.raises(KeyError, match="999999"):
        lookup("999999")
    with pytest.raises(KeyError):
        Notice.of("999999")
    with pytest.raises(KeyError):
        StandfastError("999999")


@pytest.mark.parametrize(
    ("env", "lang"),
    [
        ({"LANG": "ja_JP.UTF-8"}, "ja"),
        ({"LANG": "ja_JP.eucJP"}, "ja"),
        ({"LANG": "en_US.UTF-8"}, "en"),
        ({"LANG": "C"}, "en"),
        ({}, "en"),
        ({"LANG": "ja_JP.UTF-8", "LC_ALL": "C"}, "en"),
        ({"LANG": "en_US.UTF-8", "LC_MESSAGES": "ja_JP.UTF-8"}, "ja"),
        ({"LANG": "ja_JP.UTF-8", "STANDFAST_LANG": "en"}, "en"),
    ],
)
def test_language_from_env(env: dict[str, str], lang: str) -> None:
    assert language_from_env(env) == lang


def test_language_defaults_to_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("STANDFAST_LANG", "LC_ALL", "LC_MESSAGES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LANG", "ja_JP.UTF-8")
    assert render("000002") == "000002: 使用法のエラー"
    monkeypatch.setenv("LANG", "en_US.UTF-8")
    assert render("000002") == "000002: Usage error"


def test_standfast_error_carries_code_and_both_languages() -> None:
    err = StandfastError("107005", tag="nas-1", server="server2")
    assert err.code == "107005"
    assert err.severity is Severity.ERROR
    assert str(err) == "107005: Cannot bring NAS resource nas-1 in service on server server2."
    assert err.text("ja").startswith("107005: サーバserver2で NAS リソースnas-1を")
    assert err.to_dict("en") == {
        "code": "107005",
        "severity": "error",
        "message": "Cannot bring NAS resource nas-1 in service on server server2.",
        "action": "Fix the problem, then bring the resource in service by hand.",
        "params": {"tag": "nas-1", "server": "server2"},
    }
    ja = err.to_dict("ja")
    assert ja["message"] == "サーバserver2で NAS リソースnas-1をサービス中の状態にできません。"
    assert ja["action"] == "問題を修正したあと、手動でリソースをサービス中にしてください。"


def test_notice_to_dict() -> None:
    n = Notice.of("190303", name="LKFOO", path="/etc/default/standfast")
    assert n.severity is Severity.WARNING
    assert n.to_dict("en") == {
        "code": "190303",
        "severity": "warning",
        "message": "Unknown tunable LKFOO in /etc/default/standfast; ignored",
        "action": "",
    }


@pytest.mark.parametrize("lang", LANGS)
def test_catalogue_rows(lang: Lang) -> None:
    rows = catalogue_rows(lang)
    codes = [r["code"] for r in rows]
    assert codes == sorted(CATALOGUE)
    assert all(set(r) == {"code", "severity", "message", "action"} for r in rows)
    by_code = {r["code"]: r for r in rows}
    assert by_code["107009"]["severity"] == "warning"
    assert by_code["107013"]["message"] == lookup("107013").text(lang)
    assert by_code["107010"]["action"] == lookup("107010").action(lang)
    assert bool(JAPANESE.search(by_code["000002"]["message"])) == (lang == "ja")
