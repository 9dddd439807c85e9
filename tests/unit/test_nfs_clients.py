"""client_allowed: export client lists (ganesha's and knfsd's forms) against a server."""

from __future__ import annotations

import ipaddress

import pytest

from standfast.nfs import client_allowed

A = ipaddress.ip_address
V4 = [A("10.0.0.5")]
V6 = [A("2001:db8::5")]
NAMES = ["server1.example.com", "server1"]


@pytest.mark.parametrize(
    ("clients", "addresses", "names", "expected"),
    [
        # everyone
        ([], V4, NAMES, True),
        (["*"], V4, [], True),
        (["(everyone)"], [], [], True),
        ([" ", ""], V4, [], True),
        # exact addresses, ganesha's /32 and /128 forms
        (["10.0.0.5"], V4, [], True),
        (["10.0.0.6"], V4, [], False),
        (["10.0.0.5/32"], V4, [], True),
        (["2001:db8::5"], V6, [], True),
        (["2001:db8::5/128"], V6, [], True),
        (["2001:db8::6/128"], V6, [], False),
        (["10.0.0.5"], [A("::ffff:10.0.0.5")], [], True),
        # networks, CIDR and netmask
        (["10.0.0.0/24"], V4, [], True),
        (["10.0.1.0/24"], V4, [], False),
        (["10.0.0.0/255.255.255.0"], V4, [], True),
        (["10.0.1.0/255.255.255.0"], V4, [], False),
        (["10.0.0.1/24"], V4, [], True),  # host bits set: still the network
        (["2001:db8::/32"], V6, [], True),
        (["2001:db8::/32"], V4, [], False),
        (["10.0.0.0/8"], V6, [], False),
        # host names and wildcards, case-insensitive
        (["server1.example.com"], [], NAMES, True),
        (["SERVER1.Example.COM"], [], NAMES, True),
        (["server1.example.com."], [], NAMES, True),
        (["*.example.com"], [], NAMES, True),
        (["*.example.org"], [], NAMES, False),
        (["server?"], [], NAMES, True),
        (["server??"], [], NAMES, False),
        (["server[0-9]"], [], NAMES, True),
        (["server2"], [], NAMES, False),
        (["server1"], [], [], False),
        # netgroups are not evaluated
        (["@servers"], V4, NAMES, False),
        # mixed lists: any match admits
        (["192.0.2.55", "10.0.0.0/24"], V4, [], True),
        (["192.0.2.55", "@ng", "*.example.org"], V4, NAMES, False),
        (["127.0.0.1/32", "10.1.0.0/16", "*.example.com", "ng"], V4, NAMES, True),
        # junk never matches and never raises
        (["10.0.0.0/99"], V4, [], False),
        (["not/a/network"], V4, NAMES, False),
    ],
)
def test_client_allowed(
    clients: list[str],
    addresses: list[ipaddress.IPv4Address | ipaddress.IPv6Address],
    names: list[str],
    expected: bool,
) -> None:
    assert client_allowed(clients, addresses, names) is expected


def test_a_subdirectory_of_an_export_is_covered_by_it() -> None:
    from standfast.nfs.checks import Export, _covering_export

    exports = [Export("/export", ("*",)), Export("/export/data", ("10.0.0.0/8",))]
    assert _covering_export(exports, "/export/data/auto") == exports[1]
    assert _covering_export(exports, "/export/other") == exports[0]
    assert _covering_export(exports, "/export/") == exports[0]
    assert _covering_export(exports, "/exported") is None
    assert _covering_export([Export("/", ())], "/anything") == Export("/", ())
