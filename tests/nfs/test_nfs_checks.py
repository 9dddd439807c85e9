"""NFS protocol-level checks against a real nfs-ganesha on loopback."""

from __future__ import annotations

import ipaddress
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from standfast.lab.nas import NasError, NasExport, NasServer, rpcbind_answers
from standfast.nfs import (
    AccessResult,
    NfsProtocolError,
    NfsTimeout,
    NfsUnreachable,
    check_export_access,
    export_list,
    get_port,
    mount_authorized,
    null_call,
)

pytestmark = pytest.mark.nfs

HOST = "127.0.0.1"
ME = [ipaddress.ip_address(HOST)]
MY_NAMES = [socket.gethostname(), "localhost"]
NFS, MOUNTD = 100003, 100005


def test_null_call_answers_fast(live_nas: NasServer) -> None:
    rtt = null_call(HOST, timeout=2.0, port=live_nas.nfs_port)
    assert 0 < rtt < 0.5
    # Through the portmapper, NFSv4 as well.
    assert null_call(HOST, timeout=2.0, version=4) < 0.5


def test_get_port_finds_nfs_and_mountd(live_nas: NasServer) -> None:
    assert get_port(HOST, NFS, 3, timeout=2.0) == live_nas.nfs_port
    mountd = get_port(HOST, MOUNTD, 3, timeout=2.0)
    assert 0 < mountd < 65536
    assert null_call(HOST, timeout=2.0, program=MOUNTD, version=3, port=mountd) < 0.5


def test_get_port_of_unregistered_program_is_a_protocol_error(live_nas: NasServer) -> None:
    with pytest.raises(NfsProtocolError, match="not registered"):
        get_port(HOST, 100099, 1, timeout=2.0)


def test_wrong_program_on_nfs_port_is_a_protocol_error(live_nas: NasServer) -> None:
    with pytest.raises(NfsProtocolError) as caught:
        null_call(HOST, timeout=2.0, program=100099, version=1, port=live_nas.nfs_port)
    assert caught.value.host == HOST
    assert caught.value.elapsed < 2.0


def test_export_list_parses_real_ganesha_client_lists(
    live_nas: NasServer, open_export: str, restricted_export: str, mixed_export: str
) -> None:
    exports = {item.path: item.clients for item in export_list(HOST, timeout=2.0)}
    assert exports[open_export] == ()  # no restriction: showmount prints "(everyone)"
    # Ganesha 4.3 reports a host as a /32, a netgroup without its "@".
    assert exports[mixed_export] == ("127.0.0.1/32", "10.1.0.0/16", "*.example.com", "ng")
    # Ganesha lists only the exports the asking client may access.
    assert restricted_export not in exports


@pytest.mark.skipif(shutil.which("showmount") is None, reason="nfs-common not installed")
def test_export_list_agrees_with_showmount(live_nas: NasServer) -> None:
    # showmount asks the portmapper on the standard port, as we do.
    out = subprocess.run(
        ["showmount", "-e", "--no-headers", HOST],
        capture_output=True,
        text=True,
        timeout=10,
        check=True,
    ).stdout
    shown = {}
    for line in out.splitlines():
        path, _, groups = line.rpartition(" ")
        shown[path.strip()] = groups
    ours = export_list(HOST, timeout=2.0)
    assert {item.path for item in ours} == set(shown)
    for item in ours:
        assert shown[item.path] == (",".join(item.clients) or "(everyone)")


def test_mount_authorized_open_export(live_nas: NasServer, open_export: str) -> None:
    auth = mount_authorized(HOST, open_export, timeout=2.0)
    assert auth.ok and auth.status == 0
    assert 1 in auth.flavors  # AUTH_SYS
    assert auth.fh_length > 0


@pytest.mark.skipif(shutil.which("showmount") is None, reason="nfs-common not installed")
def test_mount_authorized_leaves_no_mount_entry(live_nas: NasServer, open_export: str) -> None:
    mount_authorized(HOST, open_export, timeout=2.0)
    out = subprocess.run(
        ["showmount", "-a", "--no-headers", HOST],
        capture_output=True,
        text=True,
        timeout=10,
        check=True,
    ).stdout
    assert open_export not in out


def test_mount_authorized_restricted_export_is_denied(
    live_nas: NasServer, restricted_export: str
) -> None:
    auth = mount_authorized(HOST, restricted_export, timeout=2.0)
    assert not auth.ok
    assert auth.status == 13  # MNT3ERR_ACCES
    assert auth.flavors == ()


def test_mount_authorized_unknown_path_is_refused(live_nas: NasServer) -> None:
    auth = mount_authorized(HOST, "/no/such/export", timeout=2.0)
    assert not auth.ok
    assert auth.status in (2, 13)  # ganesha answers EACCES, knfsd ENOENT


def test_check_export_access_outcomes(
    live_nas: NasServer, open_export: str, restricted_export: str, mixed_export: str
) -> None:
    ok = check_export_access(HOST, open_export, ME, MY_NAMES, timeout=3.0)
    assert ok.result is AccessResult.OK, ok.detail
    assert ok.ok and ok.mount_status == 0 and ok.null_rtt is not None
    assert ok.elapsed < 1.0

    mixed = check_export_access(HOST, mixed_export, ME, MY_NAMES, timeout=3.0)
    assert mixed.result is AccessResult.OK, mixed.detail

    hidden = check_export_access(HOST, restricted_export, ME, MY_NAMES, timeout=3.0)
    assert hidden.result is AccessResult.NOT_EXPORTED

    # The list names 127.0.0.1, but the server asked about is a different one.
    other = [ipaddress.ip_address("192.0.2.99")]
    elsewhere = check_export_access(HOST, mixed_export, other, ["server9"], timeout=3.0)
    assert elsewhere.result is AccessResult.NOT_ALLOWED
    assert elsewhere.clients == ("127.0.0.1/32", "10.1.0.0/16", "*.example.com", "ng")

    # A wildcard entry admits a server by name.
    by_name = check_export_access(HOST, mixed_export, other, ["node1.EXAMPLE.com"], timeout=3.0)
    assert by_name.result is AccessResult.OK


def test_hung_server_times_out_and_recovers(live_nas: NasServer, open_export: str) -> None:
    live_nas.pause()
    try:
        started = time.monotonic()
        with pytest.raises(NfsTimeout) as caught:
            null_call(HOST, timeout=1.0, port=live_nas.nfs_port)
        assert time.monotonic() - started < 1.0 + 0.5
        assert 0.9 < caught.value.elapsed < 1.5

        # The portmapper (rpcbind) still answers, so the NULL call itself hangs.
        started = time.monotonic()
        with pytest.raises(NfsTimeout):
            null_call(HOST, timeout=1.0)
        assert time.monotonic() - started < 1.5

        started = time.monotonic()
        with pytest.raises(NfsTimeout):
            export_list(HOST, timeout=1.0)
        assert time.monotonic() - started < 1.5

        started = time.monotonic()
        with pytest.raises(NfsTimeout):
            mount_authorized(HOST, open_export, timeout=1.0)
        assert time.monotonic() - started < 1.5

        started = time.monotonic()
        result = check_export_access(HOST, open_export, ME, MY_NAMES, timeout=2.0)
        assert time.monotonic() - started < 2.0 + 0.5
        assert result.result is AccessResult.SERVER_HUNG
        assert result.elapsed < 2.5
    finally:
        live_nas.resume()
    assert null_call(HOST, timeout=5.0, port=live_nas.nfs_port) < 1.0
    assert check_export_access(HOST, open_export, ME, MY_NAMES, timeout=5.0).ok


def test_stopped_server_is_unreachable_quickly_and_restarts(
    live_nas: NasServer, open_export: str
) -> None:
    port = live_nas.nfs_port
    rpcbind_was_ours = live_nas.started_rpcbind
    live_nas.stop()
    assert not live_nas.running() and live_nas.pid is None

    started = time.monotonic()
    with pytest.raises(NfsUnreachable):
        null_call(HOST, timeout=5.0, port=port)
    assert time.monotonic() - started < 0.5

    started = time.monotonic()
    down = check_export_access(HOST, open_export, ME, MY_NAMES, timeout=5.0)
    assert down.result is AccessResult.SERVER_DOWN
    assert time.monotonic() - started < 0.5

    # rpcbind stays only if it was not ours; ganesha unregistered itself either way.
    assert rpcbind_answers() is not rpcbind_was_ours
    if not rpcbind_was_ours:
        with pytest.raises(NfsProtocolError):
            get_port(HOST, NFS, 3, timeout=2.0)

    live_nas.start(timeout=30.0)
    assert null_call(HOST, timeout=2.0, port=port) < 0.5


def test_killed_server_leaves_no_stale_registration(live_nas: NasServer) -> None:
    pid = live_nas.pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5.0
    while live_nas.running() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not live_nas.running()
    # SIGKILL gives ganesha no chance to unregister.
    assert get_port(HOST, NFS, 3, timeout=2.0) == live_nas.nfs_port
    rpcbind_was_ours = live_nas.started_rpcbind
    live_nas.stop()
    if not rpcbind_was_ours:
        with pytest.raises(NfsProtocolError, match="not registered"):
            get_port(HOST, NFS, 3, timeout=2.0)
    live_nas.start(timeout=30.0)
    assert get_port(HOST, NFS, 3, timeout=2.0) == live_nas.nfs_port


def _state_becomes(pid: int, states: tuple[str, ...], within: float = 3.0) -> str:
    """The process's state once it is one of ``states``, or the last one seen: a signal
    takes effect asynchronously (a busy thread on another CPU stops a moment later)."""
    deadline = time.monotonic() + within
    while True:
        with open(f"/proc/{pid}/stat") as stat:
            state = stat.read().rsplit(")", 1)[1].split()[0]
        if state in states or time.monotonic() > deadline:
            return state
        time.sleep(0.02)


def test_pause_and_resume_signal_the_ganesha_pid(live_nas: NasServer) -> None:
    pid = live_nas.pid
    assert pid is not None
    live_nas.pause()
    try:
        assert _state_becomes(pid, ("T",)) == "T"
    finally:
        live_nas.resume()
    assert _state_becomes(pid, ("S", "R")) in ("S", "R")


def test_second_nas_on_a_served_port_is_refused(live_nas: NasServer, tmp_path: Path) -> None:
    intruder = NasServer(
        tmp_path / "ganesha",
        [NasExport(tmp_path / "x", "/x", export_id=1)],
        nfs_port=live_nas.nfs_port,
    )
    with pytest.raises(NasError, match="already serves"):
        intruder.start(timeout=10.0)
    assert not intruder.running()
    assert null_call(HOST, timeout=2.0, port=live_nas.nfs_port) < 0.5
