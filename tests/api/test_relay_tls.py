"""Relayed requests verify the other server's HTTPS certificate against the one that
server announced over the authenticated cluster channel.

Two real daemons in network namespaces. server2's own API listens on another port,
and an impostor with a certificate of its own (carrying server2's name and addresses)
takes the relay port on server2's addresses: a request relayed by server1 is refused
with 194043 and the impostor never receives it. With server2's API back on the relay
port the relay works; after server2 restarts with a new certificate, server1 learns it
again and the relay still works.
"""

from __future__ import annotations

import shutil
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from standfast.api.tls import ensure_certificate, fingerprint
from tests.api.remote_support import (
    REMOTE_PORT,
    Accounts,
    RemoteNetCluster,
    accounts,
    bearer,
)

pytestmark = [pytest.mark.root, pytest.mark.daemon]

PORT = REMOTE_PORT
OTHER_PORT = 7444
IMPOSTOR = Path(__file__).with_name("impostor.py")


@pytest.fixture(scope="module")
def users() -> Iterator[Accounts]:
    with accounts() as acc:
        yield acc


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RemoteNetCluster]:
    c = RemoteNetCluster(
        tmp_path_factory.mktemp("relay") / "c",
        count=2,
        tag="r",
        quorum="none",
        ports={"server2": OTHER_PORT},
    )
    try:
        c.up()
        c.host_address(1)
        for name in c.servers:
            c.start(name)
        yield c
    finally:
        c.down()


def login(cluster: RemoteNetCluster, acc: Any) -> str:
    r = httpx.post(
        cluster.url("server1") + "/api/v1/login",
        json={"username": acc.name, "password": acc.password},
        verify=False,
        timeout=30,
    )
    assert r.status_code == 200, r.text
    return str(r.json()["token"])


def relayed_status(cluster: RemoteNetCluster, token: str) -> httpx.Response:
    return httpx.get(
        cluster.url("server1") + "/api/servers/server2/v1/status",
        headers=bearer(token),
        verify=False,
        timeout=60,
    )


def test_the_certificate_made_at_cluster_setup_is_the_one_served(cluster: RemoteNetCluster) -> None:
    """``cluster init`` / ``cluster import`` made each server's certificate; ``cluster
    show`` prints the fingerprint a browser shows for the served one."""
    for name, srv in cluster.servers.items():
        shown = cluster.cli(name, "cluster", "show").stdout
        served = ssl.get_server_certificate((srv.addresses["net1"], cluster.port(name)), timeout=10)
        assert f"SHA-256 {fingerprint(served)}" in shown, (name, shown)


def test_an_impostor_with_its_own_certificate_gets_nothing(
    cluster: RemoteNetCluster, users: Accounts, tmp_path: Path
) -> None:
    srv2 = cluster.servers["server2"]
    cert, key = ensure_certificate(tmp_path / "tls", "server2", list(srv2.addresses.values()))
    requests = tmp_path / "requests"
    requests.touch()
    out = tmp_path / "impostor.out"
    imp = subprocess.Popen(
        [
            "ip",
            "netns",
            "exec",
            srv2.ns,
            sys.executable,
            str(IMPOSTOR),
            str(cert),
            str(key),
            "0.0.0.0",
            str(PORT),
            str(requests),
        ],
        stdout=open(out, "ab"),  # noqa: SIM115
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 15
        while "listening" not in out.read_text():
            assert imp.poll() is None and time.monotonic() < deadline, out.read_text()
            time.sleep(0.05)
        # The impostor does answer whoever does not pin (as a plain client would see).
        plain = httpx.get(f"https://{srv2.addresses['net1']}:{PORT}/x", verify=False, timeout=10)
        assert plain.json() == {"impostor": True}
        requests.write_text("")
        token = login(cluster, users["administrator"])
        r = relayed_status(cluster, token)
        assert r.status_code == 502, r.text
        error = r.json()["error"]
        assert error["code"] == "194043", error
        assert "server2" in error["message"] and "certificate" in error["message"]
        assert requests.read_text() == "", "the relayed request reached the impostor"
        log = (cluster.servers["server1"].home / "daemon.out").read_text()
        assert "194043" in log
    finally:
        imp.terminate()
        imp.wait(10)


def test_the_relay_reaches_the_real_server_and_follows_a_new_certificate(
    cluster: RemoteNetCluster, users: Accounts
) -> None:
    srv2 = cluster.servers["server2"]
    cluster.stop("server2")
    cluster.ports["server2"] = PORT
    cluster.start("server2")
    token = login(cluster, users["administrator"])
    r = relayed_status(cluster, token)
    assert r.status_code == 200, r.text
    assert r.json()["server"] == "server2"
    first = (srv2.home / "lib" / "tls" / "remote.crt").read_text()
    # A new certificate: server1 still pins the old one, is refused by TLS, asks
    # server2 again over the cluster channel and goes on.
    cluster.stop("server2")
    shutil.rmtree(srv2.home / "lib" / "tls")
    cluster.start("server2")
    assert (srv2.home / "lib" / "tls" / "remote.crt").read_text() != first
    r = relayed_status(cluster, token)
    assert r.status_code == 200, r.text
    assert r.json()["server"] == "server2"
