"""Alerts with real daemons in network namespaces and real receivers: an executable
(docs/alerts.md's own script), an SMTP server (aiosmtpd: STARTTLS and AUTH required)
and an HTTPS webhook receiver (verifying with docs/alerts.md's own function), all on
the test bridge's host address the daemons reach. One cluster, one crash: the survivor
that takes the hierarchy over announces the failover exactly once to each recipient,
while a recipient that hangs does not delay the failover."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from standfast.lab.netns import NetCluster, dump, net_cluster
from tests.cluster.test_failover import DEFAULTS, failover_event, make_app
from tests.support.alert_receivers import (
    SMTP_PASSWORD,
    HookLog,
    MailBox,
    certificate,
    https_receiver,
    smtp_server,
    wait_until,
)

pytestmark = [pytest.mark.root, pytest.mark.daemon]

DOC = Path(__file__).resolve().parents[2] / "docs" / "alerts.md"
SECRET = "a-shared-secret-of-the-webhook"
HANG_TIMEOUT = 5.0  # the hanging recipient's timeout: a failover waiting on it would show


def doc_blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", DOC.read_text(), flags=re.S)


def doc_commands() -> list[list[str]]:
    [block] = [b for b in doc_blocks("sh") if b.startswith("# example: runnable\n")]
    return [shlex.split(line) for line in block.splitlines()[1:] if line.strip()]


def doc_verify() -> Callable[[bytes, str, str, bytes], bool]:
    [code] = [b for b in doc_blocks("python") if "def verify(" in b]
    namespace: dict[str, Any] = {}
    exec(compile(code, str(DOC), "exec"), namespace)
    return namespace["verify"]  # type: ignore[no-any-return]


def free_port(address: str) -> int:
    with socket.socket() as s:
        s.bind((address, 0))
        return int(s.getsockname()[1])


def exec_lines(log: Path) -> list[dict[str, str]]:
    """The alert log the docs' script writes: one line per alert, ``K=V`` words."""
    if not log.exists():
        return []
    return [
        dict(word.split("=", 1) for word in line.split(" ") if "=" in word)
        for line in log.read_text().splitlines()
        if line.strip()
    ]


def install_recipients(c: NetCluster, work: Path, addr: str, hook: HookLog, smtp_port: int) -> None:
    """docs/alerts.md's runnable block on server1, with this test's receivers."""
    script = work / "alert-log"
    [body] = [b for b in doc_blocks("sh") if b.startswith("#!/bin/sh\n# alert-log")]
    script.write_text(
        body.replace("${ALERT_LOG:-/var/log/standfast-alerts.log}", str(work / "exec.log"))
    )
    script.chmod(0o755)
    (work / "hook.secret").write_text(SECRET + "\n")
    (work / "smtp.password").write_text(SMTP_PASSWORD + "\n")
    subst = {
        "/usr/local/lib/standfast/alert-log": str(script),
        "https://alerts.example.com:8443/standfast": f"https://{addr}:{hook.port}/standfast",
        "/etc/standfast/hook.secret": str(work / "hook.secret"),
        "/etc/standfast/receiver-ca.pem": str(work / "tls" / "remote.crt"),
        "mail.example.com:587": f"{addr}:{smtp_port}",
        "/etc/standfast/smtp.password": str(work / "smtp.password"),
    }
    for argv in doc_commands():
        assert argv[0] == "standfast", argv
        words = [subst.get(w, w) for w in argv[1:]]
        r = c.cli("server1", *words)
        if words[:2] == ["alert", "test"]:
            assert r.stdout.count("delivered") == 3, r.stdout
    sleep = shutil.which("sleep")
    assert sleep is not None
    c.cli(
        "server1",
        *("alert", "add", "stuck", "--exec", sleep, "--arg", "600"),
        *("--timeout", str(HANG_TIMEOUT)),
    )


def check_replicated(c: NetCluster) -> None:
    for server in ("server2", "server3"):
        listing = wait_until(
            lambda s=server: (
                (d := json.loads(c.cli(s, "alert", "list", "--json").stdout))["version"] == 4 and d
            ),
            10,
            lambda: dump(c),
        )
        names = [r["name"] for r in listing["recipients"]]
        assert names == ["oncall", "hook", "mail", "stuck"], listing
        text = json.dumps(listing) + c.cli(server, "cluster", "show", "--json").stdout
        assert SECRET not in text and SMTP_PASSWORD not in text


def test_failover_is_announced_once_by_the_survivor_to_every_recipient(tmp_path: Path) -> None:
    work = tmp_path / "alerts"
    work.mkdir()
    verify = doc_verify()
    with net_cluster(tmp_path / "c", count=3, tag="al", defaults=DEFAULTS) as c:
        addr = c.host_address(1)
        cert, key = certificate(work / "tls", addr)
        smtp_port = free_port(addr)
        with (
            https_receiver(addr, cert, key) as hook,
            smtp_server(addr, smtp_port, cert, key) as box,
        ):
            c.start_all()
            time.sleep(c.settle_seconds())
            make_app(c)
            install_recipients(c, work, addr, hook, smtp_port)
            check_replicated(c)
            # The test alerts arrived: mail, webhook, executable.
            assert [m.message["X-Standfast-Event"] for m in box.mails] == ["test"]
            assert [p.headers["x-standfast-event"] for p in hook.posts] == ["test"]
            assert [e["SF_ALERT_KIND"] for e in exec_lines(work / "exec.log")] == ["test"]

            crashed_at = time.time()
            c.crash("server1")
            took = c.wait_for("app", "server2", timeout=10)
            data = failover_event(c, "server2", "app")
            check_executable(work / "exec.log", c)
            check_mail(box)
            check_webhook(hook, verify)
            # The hanging recipient is still in its first attempts: the failover did
            # not wait for it (it would have taken HANG_TIMEOUT s or more).
            assert took < 5, took
            assert data["detect_to_in_service_seconds"] < HANG_TIMEOUT / 2, data
            assert c.overlaps("app", ignore={"server1": crashed_at}) == [], dump(c)
            # ... and it is logged with its numbered message, to be retried.
            out = c.servers["server2"].home / "daemon.out"
            wait_until(
                lambda: re.search(r"197005: Alert \w+ to recipient stuck failed", out.read_text()),
                HANG_TIMEOUT + 5,
                lambda: out.read_text()[-3000:],
            )
            check_changes_while_away(c)


def check_changes_while_away(c: NetCluster) -> None:
    """A bad recipient is refused and changes nothing; a removal made while server1 is
    down reaches it when it is back."""
    bad = c.cli("server2", "alert", "add", "x", "--exec", "relative/path", check=False)
    assert bad.returncode == 1 and bad.stderr.startswith("197001: "), bad.stderr
    removed = json.loads(c.cli("server2", "alert", "remove", "stuck", "--json").stdout)
    assert removed == {"version": 5, "replicated_to": ["server3"]}, removed
    c.start("server1")
    wait_until(
        lambda: json.loads(c.cli("server1", "alert", "list", "--json").stdout)["version"] == 5,
        15,
        lambda: dump(c),
    )


def check_executable(log: Path, c: NetCluster) -> None:
    def failovers() -> list[dict[str, str]]:
        return [e for e in exec_lines(log) if e.get("SF_ALERT_KIND") == "failover"]

    wait_until(failovers, 10, lambda: (log.read_text() if log.exists() else "", dump(c)))
    time.sleep(1.0)  # a duplicate (or one from another server) would come by now
    [f] = failovers()
    assert f["SF_ALERT_SERVER"] == "server2" and f["SF_ALERT_TAG"] == "app", f
    assert f["SF_ALERT_FROM"] == "server1" and f["SF_ALERT_TO"] == "server2", f
    assert f["SF_ALERT_CLUSTER"] == "lab" and f["SF_ALERT_RECIPIENT"] == "oncall", f
    assert 0 < float(f["SF_ALERT_DURATION"]) < 5 and f["SF_ALERT_ATTEMPT"] == "1", f
    begun = [e for e in exec_lines(log) if e.get("SF_ALERT_KIND") == "failover_begun"]
    assert [b["SF_ALERT_SERVER"] for b in begun] == ["server2"], begun
    # Every survivor sends its own server_failed.
    failed = wait_until(
        lambda: (
            sorted(
                e["SF_ALERT_SERVER"]
                for e in exec_lines(log)
                if e.get("SF_ALERT_KIND") == "server_failed"
            )
            == ["server2", "server3"]
        ),
        5,
        lambda: log.read_text(),
    )
    assert failed


def check_mail(box: MailBox) -> None:
    mail = wait_until(
        lambda: next((m for m in box.mails if m.message["X-Standfast-Event"] == "failover"), None),
        10,
        lambda: [m.message["Subject"] for m in box.mails],
    )
    assert mail.tls and mail.authenticated, mail
    assert mail.rcpt_tos == ["ops@example.com"] and mail.mail_from == "standfast@example.com"
    assert mail.message["Subject"] == "[standfast lab] server2: failover app (server1 -> server2)"
    payload = mail.message.get_payload(decode=True)
    assert isinstance(payload, bytes) and b"from:      server1" in payload, payload
    # The receiver refused anything but SMTP_USER with its password, and without TLS.
    assert [m.message["X-Standfast-Event"] for m in box.mails].count("failover") == 1


def check_webhook(hook: HookLog, verify: Callable[[bytes, str, str, bytes], bool]) -> None:
    post = wait_until(
        lambda: next((p for p in hook.posts if p.headers["x-standfast-event"] == "failover"), None),
        10,
        lambda: [p.headers for p in hook.posts],
    )
    assert post.path == "/standfast"
    ts, sig = post.headers["x-standfast-timestamp"], post.headers["x-standfast-signature"]
    assert verify(SECRET.encode(), ts, sig, post.body)
    assert not verify(b"not-the-secret", ts, sig, post.body)
    event = json.loads(post.body)
    assert event["kind"] == "failover" and event["server"] == "server2" and event["tag"] == "app"
    assert event["fields"]["from"] == "server1" and event["fields"]["to"] == "server2"
    assert [p.headers["x-standfast-event"] for p in hook.posts].count("failover") == 1
