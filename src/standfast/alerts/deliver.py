"""Delivering one alert to one recipient, once: blocking calls, each bounded by the
recipient's ``timeout``; the dispatcher runs them in its own worker threads (never the
control loop's, never the action runner's) and adds an outer deadline.

- ``exec``: ``host.commands.run`` (own process group, no shell, killed at the timeout);
  the event in ``SF_ALERT_*`` variables and as JSON on stdin; exit status 0 is success.
- ``webhook``: HTTPS POST of the alert as JSON with ``X-Standfast-Timestamp`` and
  ``X-Standfast-Signature: sha256=HEX``, HEX = HMAC-SHA256(secret, TIMESTAMP "." BODY);
  a 2xx reply is success.
- ``email``: SMTP, STARTTLS (certificate verified), AUTH when configured.

Each raises :class:`DeliveryError` with a one-line reason on failure (never a secret).
"""

from __future__ import annotations

import hashlib
import hmac
import smtplib
import ssl
import time
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

import httpx

from standfast.alerts.config import Recipient
from standfast.alerts.events import Alert, alert_env, mail_text
from standfast.host import commands

SIGNATURE_HEADER = "X-Standfast-Signature"
TIMESTAMP_HEADER = "X-Standfast-Timestamp"
EVENT_HEADER = "X-Standfast-Event"
ID_HEADER = "X-Standfast-Id"


class DeliveryError(Exception):
    """One attempt failed; ``str()`` is the reason for the log."""


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header's value for ``body`` sent at ``timestamp`` (Unix seconds)."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(
    secret: str, timestamp: str, body: bytes, signature: str, *, now: float, tolerance: float = 300
) -> bool:
    """What a receiver does: the signature matches (constant time) and the timestamp is
    within ``tolerance`` seconds of ``now`` (an old request replayed is refused)."""
    try:
        ts = float(timestamp)
    except ValueError:
        return False
    if abs(now - ts) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


def _tls_context(recipient: Recipient) -> ssl.SSLContext:
    pem = recipient.options.get("ca_pem")
    ctx = ssl.create_default_context(cadata=str(pem)) if pem else ssl.create_default_context()
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


def deliver_exec(recipient: Recipient, alert: Alert, attempt: int) -> str:
    argv = [str(recipient.options["path"]), *(str(a) for a in recipient.options.get("args", []))]
    result = commands.run(
        argv,
        timeout=recipient.timeout,
        env=alert_env(alert, recipient.name, attempt),
        input=alert.body() + b"\n",
    )
    if not result.ok:
        raise DeliveryError(result.summary())
    return f"exit 0 in {result.duration:.2f} s"


def webhook_request(recipient: Recipient, alert: Alert, now: float) -> tuple[bytes, dict[str, str]]:
    """The body and headers of the POST (pure; for tests and docs)."""
    body = alert.body()
    timestamp = str(int(now))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "standfast-alert/1",
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: sign(str(recipient.options["secret"]), timestamp, body),
        EVENT_HEADER: alert.kind,
        ID_HEADER: alert.id,
    }
    return body, headers


def deliver_webhook(recipient: Recipient, alert: Alert, attempt: int) -> str:
    body, headers = webhook_request(recipient, alert, time.time())
    try:
        with httpx.Client(
            verify=_tls_context(recipient),
            timeout=httpx.Timeout(recipient.timeout),
            follow_redirects=False,
            trust_env=False,
        ) as client:
            reply = client.post(str(recipient.options["url"]), content=body, headers=headers)
    except httpx.HTTPError as exc:
        raise DeliveryError(f"{type(exc).__name__}: {exc}") from None
    if not 200 <= reply.status_code < 300:
        raise DeliveryError(f"HTTP {reply.status_code}")
    return f"HTTP {reply.status_code}"


def mail_message(recipient: Recipient, alert: Alert) -> EmailMessage:
    subject, text = mail_text(alert)
    msg = EmailMessage()
    msg["From"] = str(recipient.options["sender"])
    msg["To"] = ", ".join(recipient.options["to"])
    msg["Subject"] = subject
    msg["Date"] = formatdate(alert.ts, usegmt=True)
    msg["Message-ID"] = make_msgid(idstring=alert.id[:16], domain="standfast")
    msg["X-Standfast-Event"] = alert.kind
    msg["X-Standfast-Id"] = alert.id
    msg.set_content(text)
    return msg


def deliver_email(recipient: Recipient, alert: Alert, attempt: int) -> str:
    o = recipient.options
    try:
        with smtplib.SMTP(str(o["smtp_host"]), int(o["smtp_port"]), timeout=recipient.timeout) as s:
            s.ehlo()
            if o.get("starttls", True):
                s.starttls(context=_tls_context(recipient))
                s.ehlo()
            if o.get("username"):
                s.login(str(o["username"]), str(o["password"]))
            refused = s.send_message(mail_message(recipient, alert))
    except (OSError, smtplib.SMTPException, ssl.SSLError) as exc:
        raise DeliveryError(f"{type(exc).__name__}: {exc}") from None
    if refused:
        raise DeliveryError(f"refused: {', '.join(sorted(refused))}")
    return f"accepted for {len(o['to'])} address(es)"


DELIVER = {"exec": deliver_exec, "webhook": deliver_webhook, "email": deliver_email}


def deliver(recipient: Recipient, alert: Alert, attempt: int) -> str:
    """One attempt; the success detail, or DeliveryError."""
    return DELIVER[recipient.type](recipient, alert, attempt)
