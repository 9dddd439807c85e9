"""Alerts, the pure parts: recipient validation, event -> alert mapping, the
executable's environment, the webhook's signature, the mail, and the dispatcher's
queueing, retries and isolation (with a fake sender: no I/O here)."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from typing import Any

import pytest

from standfast.alerts.config import KINDS, AlertSet, parse_alerts, parse_recipient
from standfast.alerts.deliver import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    DeliveryError,
    mail_message,
    sign,
    verify,
    webhook_request,
)
from standfast.alerts.dispatch import AlertDispatcher
from standfast.alerts.events import Alert, AlertMapper, alert_env, make_test_alert
from standfast.cli.cmd_alert import _smtp
from standfast.cluster.definition import definition_from_dict
from standfast.engine.events import EventRecord
from standfast.messages import StandfastError

SECRET = "s3cret-s3cret-s3cret"
EXEC = {"name": "pager", "type": "exec", "path": "/usr/local/bin/page", "args": ["-u", "ops"]}
HOOK = {"name": "hook", "type": "webhook", "url": "https://hooks.example/x", "secret": SECRET}
MAIL = {
    "name": "mail",
    "type": "email",
    "smtp_host": "smtp.example",
    "sender": "standfast@example.com",
    "to": ["ops@example.com"],
    "username": "u",
    "password": "pw-pw",
}


def code_of(data: dict[str, Any]) -> str:
    with pytest.raises(StandfastError) as exc:
        parse_recipient(data)
    return exc.value.code


# -- configuration -------------------------------------------------------------------


def test_valid_recipients_and_defaults() -> None:
    e, h, m = parse_recipient(EXEC), parse_recipient(HOOK), parse_recipient(MAIL)
    assert e.kinds == ("all",) and e.timeout == 10 and e.options["args"] == ["-u", "ops"]
    assert h.options["url"] == "https://hooks.example/x"
    assert m.options["smtp_port"] == 587 and m.options["starttls"] is True
    assert parse_recipient({**EXEC, "kinds": "failover,server_failed"}).kinds == (
        "failover",
        "server_failed",
    )


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"path": "page"}, "197001"),  # relative: no PATH search
        ({"args": "x"}, "197001"),
        ({"type": "sms"}, "197001"),
        ({"name": "a b"}, "197001"),
        ({"kinds": ["failover", "nope"]}, "197002"),
        ({"kinds": []}, "197001"),
        ({"timeout": 0}, "197001"),
        ({"timeout": 1000}, "197001"),
        ({"timeout": True}, "197001"),
        ({"url": "http://x"}, "197001"),  # unknown field for exec
    ],
)
def test_bad_exec_recipients(change: dict[str, Any], code: str) -> None:
    assert code_of({**EXEC, **change}) == code


@pytest.mark.parametrize(
    "change",
    [
        {"url": "http://hooks.example/x"},  # not HTTPS
        {"url": "https:///nohost"},
        {"url": "https://host:99999/x"},
        {"url": "https://host/a b"},
        {"secret": "short"},
        {"secret": None},
        {"ca_pem": "not a certificate"},
    ],
)
def test_bad_webhooks(change: dict[str, Any]) -> None:
    assert code_of({**HOOK, **change}) == "197001"


@pytest.mark.parametrize(
    "change",
    [
        {"starttls": False},  # credentials in clear text
        {"password": None},  # user without password
        {"to": []},
        {"to": ["not-an-address"]},
        {"sender": "a@b\r\nBcc: x@y"},  # header injection
        {"smtp_port": 70000},
    ],
)
def test_bad_email(change: dict[str, Any]) -> None:
    assert code_of({**MAIL, **change}) == "197001"


def test_secrets_are_masked_in_public_form() -> None:
    for r in (parse_recipient(HOOK), parse_recipient(MAIL)):
        text = json.dumps(r.public())
        assert SECRET not in text and "pw-pw" not in text and "***" in text
        assert SECRET in json.dumps(r.to_dict()) or "pw-pw" in json.dumps(r.to_dict())


def test_set_versions_names_and_definition_round_trip() -> None:
    s = AlertSet().added(parse_recipient(EXEC)).added(parse_recipient(HOOK))
    assert s.version == 2
    with pytest.raises(StandfastError) as exc:
        s.added(parse_recipient(EXEC))
    assert exc.value.code == "197003"
    with pytest.raises(StandfastError) as exc:
        s.removed("nobody")
    assert exc.value.code == "197004"
    assert parse_alerts(s.to_dict()) == s
    assert s.removed("pager").version == 3
    base = {"name": "c", "servers": {"a": {"addresses": {"net1": "10.0.0.1"}}}}
    d = definition_from_dict({**base, "alerts": s.to_dict()})
    assert parse_alerts(d.to_dict()["alerts"]) == s
    assert "alerts" not in definition_from_dict(base).to_dict()  # old files unchanged
    with pytest.raises(StandfastError) as exc:
        definition_from_dict({**base, "alerts": {"version": 1, "recipients": [{"name": "x"}]}})
    assert exc.value.code == "197001"


# -- mapping -----------------------------------------------------------------------------


def rec(kind: str, tag: str = "app", detail: str = "", **data: object) -> EventRecord:
    return EventRecord(1700000000.25, kind, tag, detail, dict(data))


def kinds_of(mapper: AlertMapper, *records: EventRecord) -> list[str | None]:
    return [(a.kind if (a := mapper.map(r)) else None) for r in records]


def test_mapping_of_engine_events() -> None:
    m = AlertMapper("server1", "lab")
    failover = m.map(
        rec(
            "failover",
            detail="server2 -> server1",
            **{"from": "server2", "to": "server1", "restore_seconds": 0.42, "steps": []},
            outage_seconds=2.1,
        )
    )
    assert failover is not None and failover.kind == "failover"
    assert failover.fields == {"from": "server2", "to": "server1", "duration": 0.42, "outage": 2.1}
    assert failover.server == "server1" and failover.cluster == "lab"
    assert kinds_of(
        m,
        rec("failover_begun", **{"from": "server2", "to": "server1"}),
        rec("server_failed", "server2"),
        rec("server_left", "server2"),
        rec("server_joined", "server2"),
        rec("quorum", "server1", "lost (1 of 2 votes)"),
        rec("quorum", "server1", "regained"),
        rec("fence", "server2"),
        rec("fenced", "server2", seconds=0.5),
        rec("fence_failed", "server2", "exit 1"),
        rec("check_failed", "app", "190400", nas_access=False),
        rec("recovered"),
        rec("config", "server2", "adopted version 5", conflict=True),
        rec("config", "server2", "adopted version 6", conflict=False),
        rec("state", "app", "ISP"),
        rec("create"),
    ) == [
        "failover_begun",
        "server_failed",
        "server_left",
        "server_joined",
        "quorum_lost",
        "quorum_regained",
        "fence",
        "fence_result",
        "fence_result",
        "resource_failed",
        "local_recovery",
        "config_conflict",
        None,
        None,
        None,
    ]
    ok, bad = m.map(rec("fenced", seconds=0.5)), m.map(rec("fence_failed"))
    assert ok is not None and ok.fields == {"result": "success", "duration": 0.5}
    assert bad is not None and bad.fields == {"result": "failure"}


def test_nas_hung_once_then_back_and_paths_up_only_after_down() -> None:
    m = AlertMapper("s1", "lab")
    hung = rec("check_failed", "nas1", "190407", nas_access=True, nfs_server="10.0.0.9")
    assert kinds_of(m, hung, hung, rec("state", "nas1", "ISP"), rec("state", "nas1", "ISP")) == [
        "nas_hung",
        "resource_failed",
        "nas_back",
        None,
    ]
    up = rec("comm_path", "s2", "net1 ALIVE", peer="s2", network="net1", state="ALIVE")
    down = rec("comm_path", "s2", "net1 DEAD", peer="s2", network="net1", state="DEAD")
    assert kinds_of(m, up, down, up, up) == [None, "comm_path_down", "comm_path_up", None]


def test_every_kind_is_documented() -> None:
    from pathlib import Path

    doc = (Path(__file__).parents[2] / "docs" / "alerts.md").read_text()
    for kind in KINDS:
        assert f"`{kind}`" in doc, kind


# -- the delivered forms -------------------------------------------------------------------


def an_alert(**fields: Any) -> Alert:
    return Alert("failover", "server1", "lab", "app", "server2 -> server1", 1700000000.5, fields)


def test_environment_of_an_executable() -> None:
    env = alert_env(an_alert(duration=0.42, to="server1", ok=True), "pager", 2)
    assert env["SF_ALERT_KIND"] == "failover" and env["SF_ALERT_SERVER"] == "server1"
    assert env["SF_ALERT_TAG"] == "app" and env["SF_ALERT_CLUSTER"] == "lab"
    assert env["SF_ALERT_DURATION"] == "0.42" and env["SF_ALERT_TO"] == "server1"
    assert env["SF_ALERT_OK"] == "yes" and env["SF_ALERT_ATTEMPT"] == "2"
    assert env["SF_ALERT_TIMESTAMP"] == "2023-11-14T22:13:20.500Z"
    assert env["SF_ALERT_RECIPIENT"] == "pager"
    assert {k for k in env if not k.startswith("SF_ALERT_")} == {"PATH", "LANG"}
    # A field can never override a fixed variable.
    assert alert_env(an_alert(kind="x"), "p", 1)["SF_ALERT_KIND"] == "failover"


def test_webhook_signature_verifies_and_refuses_tampering_and_replays() -> None:
    r = parse_recipient(HOOK)
    body, headers = webhook_request(r, an_alert(), now=1700000000.9)
    ts, sig = headers[TIMESTAMP_HEADER], headers[SIGNATURE_HEADER]
    assert ts == "1700000000" and sig.startswith("sha256=") and len(sig) == 7 + 64
    assert sig == sign(SECRET, ts, body)
    assert json.loads(body)["kind"] == "failover"
    now = 1700000010.0
    assert verify(SECRET, ts, body, sig, now=now)
    assert not verify(SECRET, ts, body + b" ", sig, now=now)  # tampered body
    assert not verify("another-secret-xx", ts, body, sig, now=now)
    assert not verify(SECRET, "1700000001", body, sig, now=now)  # timestamp changed
    assert not verify(SECRET, ts, body, sig, now=now + 3600)  # replayed an hour later
    assert not verify(SECRET, "x", body, sig, now=now)


def test_mail_has_the_event_and_no_header_injection() -> None:
    r = parse_recipient(MAIL)
    msg = mail_message(r, an_alert(duration=0.4))
    assert msg["To"] == "ops@example.com" and msg["X-Standfast-Event"] == "failover"
    assert msg["Subject"] == "[standfast lab] server1: failover app (server2 -> server1)"
    assert "duration:  0.4" in msg.get_content()
    evil = Alert("test", "s1", "lab", "t", "x\r\nBcc: victim@example.com", 1.0)
    assert "\n" not in mail_message(r, evil)["Subject"]


def test_smtp_option() -> None:
    assert _smtp("m", "mail.example") == ("mail.example", 587)
    assert _smtp("m", "10.0.0.1:2525") == ("10.0.0.1", 2525)
    assert _smtp("m", "[::1]:25") == ("::1", 25)
    with pytest.raises(StandfastError):
        _smtp("m", "host:port")


# -- the dispatcher ----------------------------------------------------------------------


class FakeSend:
    """Records attempts; ``fail`` names fail N times; ``hang`` names sleep ``hang_s``."""

    def __init__(self, fail: dict[str, int] | None = None, hang: float = 0.0) -> None:
        self.fail = dict(fail or {})
        self.hang = hang
        self.calls: list[tuple[str, str, int, float]] = []

    def __call__(self, r: Any, alert: Alert, attempt: int) -> str:
        self.calls.append((r.name, alert.kind, attempt, time.monotonic()))
        if r.name == "slow" and self.hang:
            time.sleep(self.hang)
        if self.fail.get(r.name, 0) > 0:
            self.fail[r.name] -= 1
            raise DeliveryError("refused")
        return "ok"


def alert_set(*names: str, timeout: float = 5.0, kinds: str = "all") -> AlertSet:
    s = AlertSet()
    for n in names:
        s = s.added(parse_recipient({**EXEC, "name": n, "timeout": timeout, "kinds": kinds}))
    return s


async def test_retries_with_back_off_then_success_and_give_up(
    caplog: pytest.LogCaptureFixture,
) -> None:
    send = FakeSend(fail={"a": 2, "b": 10})
    d = AlertDispatcher(alert_set("a", "b"), send=send, backoff=(0.05, 0.1, 0.2))
    d.start()
    d.offer(an_alert())
    assert await d.drain(5)
    a = [c for c in send.calls if c[0] == "a"]
    b = [c for c in send.calls if c[0] == "b"]
    assert [c[2] for c in a] == [1, 2, 3] and [c[2] for c in b] == [1, 2, 3, 4]
    gaps = [round(y[3] - x[3], 2) for x, y in itertools.pairwise(b)]
    assert gaps[0] >= 0.05 and gaps[1] >= 0.1 and gaps[2] >= 0.2, gaps
    assert d.delivered == {"a": 1} and d.given_up == {"b": 1}
    codes = [r.getMessage()[:6] for r in caplog.records]
    assert codes.count("197005") == 5 and codes.count("197006") == 1
    d.stop()


async def test_a_hanging_recipient_delays_nobody_else() -> None:
    send = FakeSend(hang=1.0)
    d = AlertDispatcher(alert_set("slow", "fast"), send=send, backoff=())
    d.start()
    started = time.monotonic()
    d.offer(an_alert())  # returns at once, from the loop
    assert time.monotonic() - started < 0.05
    await asyncio.sleep(0.3)
    assert ("fast", "failover", 1) in [c[:3] for c in send.calls]
    d.stop()


async def test_outer_deadline_gives_up_a_hung_attempt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("standfast.alerts.dispatch.OUTER_MARGIN", 0.1)
    send = FakeSend(hang=2.0)
    d = AlertDispatcher(alert_set("slow", timeout=0.1), send=send, backoff=())
    d.start()
    results = await asyncio.wait_for(d.test(make_test_alert("s1", "lab", 1.0, "me")), 1.5)
    assert results["slow"]["delivered"] is False and "no answer" in str(results["slow"]["detail"])
    d.stop()


async def test_queue_bound_drops_the_oldest(caplog: pytest.LogCaptureFixture) -> None:
    send = FakeSend(hang=0.3)
    d = AlertDispatcher(alert_set("slow"), send=send, backoff=(), queue_limit=2)
    d.start()
    d.offer(Alert("failover", "s1", "lab", "t0", "", 0.0))
    await asyncio.sleep(0.1)  # in flight
    for i in range(1, 5):
        d.offer(Alert("failover", "s1", "lab", f"t{i}", "", float(i)))
    assert await d.drain(5)
    assert sum(r.getMessage().startswith("197007") for r in caplog.records) == 2
    assert len(send.calls) == 3  # the first in flight, then the two newest
    d.stop()


async def test_kinds_filter_and_offer_before_start_and_replace() -> None:
    send = FakeSend()
    d = AlertDispatcher(alert_set("only-fence", kinds="fence"), send=send, backoff=())
    d.offer(Alert("fence", "s1", "lab", "s2", "", 1.0))  # before start: kept
    d.offer(Alert("failover", "s1", "lab", "app", "", 2.0))  # not subscribed
    d.start()
    assert await d.drain(2)
    assert [c[1] for c in send.calls] == ["fence"]
    d.replace(alert_set("other"))
    d.offer(Alert("failover", "s1", "lab", "app", "", 3.0))
    assert await d.drain(2)
    assert [c[:2] for c in send.calls][-1] == ("other", "failover")
    results = await d.test(make_test_alert("s1", "lab", 4.0, "me"))
    assert results == {"other": {"type": "exec", "delivered": True, "detail": "ok"}}
    d.stop()


# -- the service: saving and replication, with fakes for the engine's parts -------------------


def make_service(tmp_path: Any) -> Any:
    from types import SimpleNamespace

    from standfast.alerts.service import AlertService
    from standfast.cluster.definition import save_definition
    from standfast.engine.events import EventLog

    path = tmp_path / "cluster.json"
    definition = definition_from_dict(
        {"name": "lab", "servers": {"s1": {"addresses": {"net1": "10.0.0.1"}}}}
    )
    save_definition(path, definition)
    handlers: dict[str, Any] = {}
    core = SimpleNamespace(server="s1", paths=SimpleNamespace(cluster_definition=path))
    core.events = EventLog()
    members = SimpleNamespace(alive=lambda: frozenset({"s1"}))
    member = SimpleNamespace(
        handlers=SimpleNamespace(register=handlers.__setitem__), members=members
    )
    return AlertService(core, member, definition), handlers, path  # type: ignore[arg-type]


async def test_service_saves_adopts_the_newest_and_never_lists_secrets(
    tmp_path: Any, caplog: pytest.LogCaptureFixture
) -> None:
    from standfast.cluster.definition import load_definition

    svc, handlers, path = make_service(tmp_path)
    assert "offer_alerts" in handlers
    reply = await svc.add(HOOK)
    assert reply == {"version": 1, "replicated_to": []}
    saved = load_definition(path)
    assert saved is not None and parse_alerts(saved.alerts).version == 1
    assert SECRET not in json.dumps(svc.listing())
    newer = AlertSet(5, (parse_recipient(EXEC),))
    assert (await handlers["offer_alerts"]("s2", {"alerts": newer.to_dict()})) == {"adopted": True}
    assert svc.alerts == newer
    assert not svc.adopt(AlertSet(4, (parse_recipient(MAIL),)).to_dict(), "s3")  # older
    assert not svc.adopt(newer.to_dict(), "s3")  # the same: idempotent
    # Same version, other contents: the higher digest wins, on every server alike.
    rival = AlertSet(5, (parse_recipient(MAIL),))
    assert svc.adopt(rival.to_dict(), "s3") == (rival.digest() > newer.digest())
    assert not svc.adopt({"version": 9, "recipients": [{"name": "x"}]}, "s4")
    assert any(r.getMessage().startswith("197010") for r in caplog.records)
    final = load_definition(path)
    assert final is not None and parse_alerts(final.alerts) == svc.alerts
    with pytest.raises(StandfastError) as exc:
        await svc.remove("nobody")
    assert exc.value.code == "197004"
    svc.stop()


@pytest.mark.parametrize(
    ("record", "kind", "fields"),
    [
        (
            rec("maintenance", "s1", "on", scope="cluster", on=True, by="s1"),
            "maintenance_on",
            {"scope": "cluster", "by": "s1"},
        ),
        (
            rec("maintenance", "app", "off", scope="hierarchy", on=False, by="s2"),
            "maintenance_off",
            {"scope": "hierarchy", "by": "s2"},
        ),
        (rec("standby", "s2", "on", on=True, by="s1"), "standby", {"by": "s1"}),
        (rec("standby", "s2", "off", on=False, by="s1"), "unstandby", {"by": "s1"}),
    ],
)
def test_mapping_of_maintenance_and_standby(
    record: EventRecord, kind: str, fields: dict[str, str]
) -> None:
    alert = AlertMapper("s1", "lab").map(record)
    assert alert is not None and (alert.kind, alert.fields, alert.tag) == (kind, fields, record.tag)
    assert kind in KINDS
