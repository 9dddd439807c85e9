"""resolve_host: literals need no look-up; a hung resolver cannot hang the caller."""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from typing import Any

import pytest

from standfast.nfs import NfsTimeout, NfsUnreachable, resolve_host


def _no_lookup(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("getaddrinfo must not be called for an IP literal")


@pytest.mark.parametrize(
    ("literal", "expected"),
    [("10.1.2.3", "10.1.2.3"), ("::1", "::1"), ("[2001:db8::1]", "2001:db8::1")],
)
def test_ip_literal_needs_no_lookup(
    monkeypatch: pytest.MonkeyPatch, literal: str, expected: str
) -> None:
    monkeypatch.setattr(socket, "getaddrinfo", _no_lookup)
    assert resolve_host(literal, timeout=0.0) == [ipaddress.ip_address(expected)]


def test_localhost_resolves() -> None:
    addresses = resolve_host("localhost", timeout=5.0)
    assert addresses
    assert all(address.is_loopback for address in addresses)
    assert len(addresses) == len(set(addresses))


def test_unknown_name_is_unreachable() -> None:
    with pytest.raises(NfsUnreachable) as caught:
        resolve_host("no-such-host.invalid", timeout=5.0)
    assert caught.value.what == "name resolution"


def test_hung_resolver_times_out(monkeypatch: pytest.MonkeyPatch) -> None:
    release = threading.Event()

    def hang(*args: Any, **kwargs: Any) -> Any:
        release.wait(10)
        raise OSError("released")

    monkeypatch.setattr(socket, "getaddrinfo", hang)
    started = time.monotonic()
    try:
        with pytest.raises(NfsTimeout):
            resolve_host("hung.example", timeout=0.3)
        assert time.monotonic() - started < 0.8
    finally:
        release.set()


def test_hung_lookups_of_one_name_share_one_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    release = threading.Event()
    calls: list[str] = []

    def hang(host: str, *args: Any, **kwargs: Any) -> Any:
        calls.append(host)
        release.wait(10)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("192.0.2.7", 0))]

    monkeypatch.setattr(socket, "getaddrinfo", hang)
    try:
        for _ in range(3):
            with pytest.raises(NfsTimeout):
                resolve_host("shared.example", timeout=0.1)
        assert calls == ["shared.example"]
    finally:
        release.set()
    # The look-up that finished serves a caller still waiting, and the next call
    # starts a fresh one.
    assert resolve_host("shared.example", timeout=2.0) == [ipaddress.ip_address("192.0.2.7")]
