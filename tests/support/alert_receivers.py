"""Real receivers for alert tests: an SMTP server (aiosmtpd) that requires STARTTLS and
AUTH, and an HTTPS server that records every POST; both on an address the test gives
(loopback, or the test bridge's host address that the namespaced daemons reach), with
a self-signed certificate made by ``openssl`` (``standfast.api.tls``). Each is stopped
by the context manager that started it; nothing else is touched."""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from standfast.api.tls import ensure_certificate

SMTP_USER = "alerts"
SMTP_PASSWORD = "mail-password-for-tests"


def certificate(directory: Path, address: str) -> tuple[Path, Path]:
    """A self-signed certificate (and key) valid for ``address``."""
    return ensure_certificate(directory, "receiver", [address])


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    return ctx


@dataclass
class Mail:
    mail_from: str
    rcpt_tos: list[str]
    message: Message
    tls: bool
    authenticated: bool


@dataclass
class MailBox:
    mails: list[Mail] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        self.mails.append(
            Mail(
                str(envelope.mail_from),
                list(envelope.rcpt_tos),
                message_from_bytes(content),
                session.ssl is not None,
                bool(session.authenticated),
            )
        )
        return "250 OK"


def _authenticator(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == SMTP_USER.encode()
        and auth_data.password == SMTP_PASSWORD.encode()
    )
    return AuthResult(success=ok)


@contextmanager
def smtp_server(address: str, port: int, cert: Path, key: Path) -> Iterator[MailBox]:
    """SMTP on ``address:port``: STARTTLS required before anything, AUTH required."""
    box = MailBox()
    controller = Controller(
        box,
        hostname=address,
        port=port,
        tls_context=server_context(cert, key),
        require_starttls=True,
        authenticator=_authenticator,
        auth_required=True,
        auth_require_tls=True,
        ready_timeout=10,
    )
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


@dataclass
class Posted:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class HookLog:
    posts: list[Posted] = field(default_factory=list)
    port: int = 0


@contextmanager
def https_receiver(address: str, cert: Path, key: Path) -> Iterator[HookLog]:
    """An HTTPS server on ``address`` (a free port) answering 200 to every POST."""
    log = HookLog()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            log.posts.append(
                Posted(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            )
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:
            return

    srv = ThreadingHTTPServer((address, 0), Handler)
    srv.socket = server_context(cert, key).wrap_socket(srv.socket, server_side=True)
    log.port = int(srv.server_address[1])
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.1})
    thread.start()
    try:
        yield log
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(10)


def wait_until(what: Callable[[], Any], timeout: float, message: Callable[[], object]) -> Any:
    """``what()`` once it is truthy, polling; AssertionError with ``message()`` after
    ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = what()
        if value:
            return value
        assert time.monotonic() < deadline, message()
        time.sleep(0.1)
