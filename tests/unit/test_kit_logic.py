"""Pure kit logic: property schemas, NFS sources and options, default tags."""

from __future__ import annotations

import pytest

from standfast.kits.nfs_source import (
    default_filesys_tag,
    parse_source,
    remount_options,
    semantics_explicit,
)
from standfast.kits.registry import KITS, get_kit
from standfast.kits.schema import PropertySpec, validate_props
from standfast.messages import StandfastError

SCHEMA = (
    PropertySpec("cmd", "argv", "a command", required=True),
    PropertySpec("wait", "float", "seconds", 5.0, minimum=0.1),
    PropertySpec("on", "bool", "flag", False),
    PropertySpec("mode", "choice", "mode", "a", choices=("a", "b")),
    PropertySpec("where", "path", "a path", "/x", mutable=False),
)


def test_defaults_conversion_and_required() -> None:
    props = validate_props("k", SCHEMA, {"cmd": "/bin/true -x", "wait": "2.5", "on": "yes"})
    assert props == {"cmd": "/bin/true -x", "wait": 2.5, "on": True, "mode": "a", "where": "/x"}
    with pytest.raises(StandfastError) as exc:
        validate_props("k", SCHEMA, {})
    assert exc.value.code == "190013"


@pytest.mark.parametrize(
    ("given", "code"),
    [
        ({"cmd": "x", "wait": "0"}, "190011"),
        ({"cmd": "x", "wait": "abc"}, "190011"),
        ({"cmd": "x", "on": "maybe"}, "190011"),
        ({"cmd": "x", "mode": "c"}, "190011"),
        ({"cmd": "x", "where": "rel"}, "190011"),
        ({"cmd": "'unclosed"}, "190011"),
        ({"cmd": "x", "extra": "1"}, "190012"),
    ],
)
def test_bad_values(given: dict[str, str], code: str) -> None:
    with pytest.raises(StandfastError) as exc:
        validate_props("k", SCHEMA, given)
    assert exc.value.code == code


def test_edit_keeps_base_and_refuses_immutable() -> None:
    base = validate_props("k", SCHEMA, {"cmd": "x"})
    edited = validate_props("k", SCHEMA, {"wait": "9"}, base=base)
    assert edited["wait"] == 9.0 and edited["cmd"] == "x"
    with pytest.raises(StandfastError) as exc:
        validate_props("k", SCHEMA, {"where": "/y"}, base=base)
    assert exc.value.code == "190017"


def test_registry() -> None:
    assert set(KITS) == {"app", "nas", "filesys", "ip", "ocf", "systemd"}
    with pytest.raises(StandfastError) as exc:
        get_kit("launchd")
    assert exc.value.code == "190010"
    for kit in KITS.values():
        names = [p.name for p in kit.schema]
        assert len(names) == len(set(names))


@pytest.mark.parametrize(
    ("text", "host", "export", "is_ip"),
    [
        ("10.0.0.5:/export/data", "10.0.0.5", "/export/data", True),
        ("nas.example.com:/vol", "nas.example.com", "/vol", False),
        ("[fd00::5]:/x", "fd00::5", "/x", True),
    ],
)
def test_parse_source(text: str, host: str, export: str, is_ip: bool) -> None:
    s = parse_source(text)
    assert (s.host, s.export, s.is_ip) == (host, export, is_ip)
    assert str(s) == text


@pytest.mark.parametrize("bad", ["nocolon", ":/x", "host:relative", "[::1/x"])
def test_parse_source_refuses_107004(bad: str) -> None:
    with pytest.raises(StandfastError) as exc:
        parse_source(bad)
    assert exc.value.code == "107004"


def test_remount_options_drop_instance_details() -> None:
    vfs = ("rw", "relatime")
    sup = (
        "rw",
        "vers=3",
        "rsize=1048576",
        "hard",
        "proto=tcp",
        "timeo=600",
        "addr=10.0.0.5",
        "mountaddr=10.0.0.5",
        "clientaddr=10.0.0.9",
        "local_lock=none",
    )
    assert remount_options(vfs, sup) == [
        "rw",
        "vers=3",
        "rsize=1048576",
        "hard",
        "proto=tcp",
        "timeo=600",
        "local_lock=none",
    ]


def test_semantics_explicit() -> None:
    assert semantics_explicit(["vers=3", "hard", "intr"])
    assert semantics_explicit(["soft", "timeo=10"])
    assert not semantics_explicit(["vers=3", "rsize=8192", "defaults"])


def test_default_filesys_tag_is_the_guides() -> None:
    assert default_filesys_tag("/test", "server1") == "test-on-server1"
    assert default_filesys_tag("/tmp/mnt", "tom") == "tmp/mnt-on-tom"
