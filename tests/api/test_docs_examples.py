"""docs/gui.md's runnable curl examples run, as written, against a real daemon over
HTTPS: the placeholders (server1:7443, the certificate path, alice/secret) are replaced
by the test daemon's address, its certificate and a real account; curl is run without
a shell."""

from __future__ import annotations

import json
import re
import shlex
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.remote_support import Accounts, RemoteDaemon, accounts

pytestmark = [pytest.mark.root, pytest.mark.daemon]

DOC = Path(__file__).resolve().parents[2] / "docs" / "gui.md"


def runnable_blocks() -> list[list[list[str]]]:
    blocks = []
    for body in re.findall(r"```sh\n(.*?)```", DOC.read_text(), flags=re.S):
        lines = body.replace("\\\n", " ").splitlines()
        if lines and lines[0].strip() == "# example: runnable":
            blocks.append([shlex.split(x) for x in lines[1:] if x.strip()])
    return blocks


@pytest.fixture(scope="module")
def users() -> Iterator[Accounts]:
    with accounts() as acc:
        yield acc


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RemoteDaemon]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    d = RemoteDaemon(tmp_path_factory.mktemp("docs") / "home", port)
    d.start()
    try:
        yield d
    finally:
        d.stop()


def test_the_curl_examples_run(daemon: RemoteDaemon, users: Accounts, tmp_path: Path) -> None:
    blocks = runnable_blocks()
    assert len(blocks) == 1 and len(blocks[0]) == 5
    acc = users["operator"]
    cert = daemon.home / "lib" / "tls" / "remote.crt"
    subst = {
        "https://server1:7443": daemon.url,
        "/var/lib/standfast/tls/remote.crt": str(cert),
        '"alice"': json.dumps(acc.name),
        '"secret"': json.dumps(acc.password),
    }
    replies = []
    for argv in blocks[0]:
        assert argv[0] == "curl", argv
        real = []
        for word in argv:
            for old, new in subst.items():
                word = word.replace(old, new)
            real.append(word)
        r = subprocess.run(real, cwd=tmp_path, capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, (argv, r.stdout, r.stderr)
        replies.append(json.loads(r.stdout))
    login, whoami, status, valid, logout = replies
    assert login["role"] == "operator" and login["user"] == acc.name
    assert whoami["user"] == acc.name and whoami["may"]["in_out_of_service"] is True
    assert status["server"] == daemon.server
    assert valid == {"ok": True}
    assert logout == {"logged_out": True}
