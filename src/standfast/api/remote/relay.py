"""Requests relayed between the servers' remote APIs, sealed with the cluster key.

A request for another server goes to that server's ``/api/relay/v1/...`` with two
headers: ``X-Standfast-Relay-From`` (the sender's name, for messages only) and
``X-Standfast-Relay`` (base64 of a cluster envelope, ``standfast.cluster.auth.seal``,
of type ``api_relay``). The envelope names the cluster, the sender, the receiving
server, the caller's user and role, the method, the local API path and the SHA-256 of
the query string and of the body as sent. The receiver opens it with the cluster key,
checks that it describes this very request, then a :class:`ReplayGuard` refuses a
repeat and a timestamp more than ``RELAY_WINDOW`` seconds off its clock.

The sender verifies the receiver's HTTPS certificate against the one that server
announced over the authenticated cluster channel (``CertificatePins``), so the reply is
as trustworthy as the request.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import httpx
from fastapi import FastAPI
from fastapi.responses import Response

from standfast.api.remote.sessions import ROLE_RANK, Identity
from standfast.api.tls import CertificatePins, verification_error
from standfast.cluster.auth import (
    AuthError,
    Envelope,
    Malformed,
    Replayed,
    ReplayGuard,
    Sealer,
    Stale,
    open_sealed,
)
from standfast.cluster.keyring import ClusterKey
from standfast.engine.service import EngineService
from standfast.messages import StandfastError

log = logging.getLogger("standfast.api")

RELAY_WINDOW = 30.0  # seconds a sealed relay request stays valid (either way of the clock)
RELAY_TYPE = "api_relay"
FROM_HEADER = "x-standfast-relay-from"
SEAL_HEADER = "x-standfast-relay"
_REORDER = 1024  # concurrent relays from one sender may arrive out of order
_MAX_SEAL_TEXT = 4096


def _request_fields(method: str, path: str, query: bytes, body: bytes) -> dict[str, str]:
    """What a sealed relay request says of the HTTP request it travels with."""
    return {
        "method": method.upper(),
        "path": path,
        "query_sha256": hashlib.sha256(query).hexdigest(),
        "body_sha256": hashlib.sha256(body).hexdigest(),
    }


@dataclass(frozen=True)
class Relayed:
    """A verified relayed request: who sent it, for whom."""

    sender: str
    ident: Identity


class RelaySigner:
    """Seals this server's relayed requests: one boot id per daemon start, one rising
    sequence number (cluster/auth.py's :class:`Sealer`)."""

    def __init__(
        self, key: ClusterKey, cluster: str, local: str, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.local = local
        self._sealer = Sealer(key, cluster, local, clock=clock)

    def headers(
        self, receiver: str, ident: Identity, method: str, path: str, query: bytes, body: bytes
    ) -> dict[str, str]:
        """The relay headers for one request (consumes a sequence number: seal anew for
        each request, never for a retry of the same one)."""
        sealed = self._sealer.seal(
            receiver,
            RELAY_TYPE,
            {"user": ident.user, "role": ident.role, **_request_fields(method, path, query, body)},
        )
        return {FROM_HEADER: self.local, SEAL_HEADER: base64.b64encode(sealed).decode("ascii")}


class RelayVerifier:
    """Opens and checks relayed requests addressed to this server. Not thread-safe
    (one event loop); a refusal (194042) leaves the replay state unchanged."""

    def __init__(
        self, key: ClusterKey, cluster: str, local: str, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.key = key
        self.cluster = cluster
        self.local = local
        self._guard = ReplayGuard(skew=RELAY_WINDOW, window=_REORDER, clock=clock)

    def verify(
        self, headers: Mapping[str, str], method: str, path: str, query: bytes, body: bytes
    ) -> Relayed:
        """The sender and the caller's identity, or StandfastError 194042 with why."""
        sender = headers.get(FROM_HEADER, "")
        env = self._open(sender, headers.get(SEAL_HEADER, ""))
        b = env.body
        expected = _request_fields(method, path, query, body)
        if (
            env.msg_type != RELAY_TYPE
            or env.sender != sender
            or any(b.get(k) != v for k, v in expected.items())
        ):
            raise StandfastError("194042", peer=sender, reason="bad signature")
        user, role = b.get("user"), b.get("role")
        if not isinstance(user, str) or not isinstance(role, str) or role not in ROLE_RANK:
            raise StandfastError("194042", peer=sender, reason="unknown user or role")
        try:
            self._guard.check(env, RELAY_TYPE)
        except (Stale, Replayed):
            raise StandfastError(
                "194042", peer=sender, reason="stale or replayed request"
            ) from None
        return Relayed(sender, Identity(user, role))  # type: ignore[arg-type]  # in ROLE_RANK

    def _open(self, sender: str, text: str) -> Envelope:
        try:
            if len(text) > _MAX_SEAL_TEXT:
                raise Malformed("sealed header too long")
            data = base64.b64decode(text, validate=True)
            return open_sealed(self.key, data, cluster=self.cluster, receiver=self.local)
        except (AuthError, binascii.Error, ValueError):
            raise StandfastError("194042", peer=sender, reason="bad signature") from None


async def dispatch_local(
    local: FastAPI, method: str, path: str, query: str, body: bytes, lang: str
) -> Response:
    """Serve ``method path`` with this server's local API, in-process. Waits as long as
    the route does (the engine's actions have their own deadlines)."""
    transport = httpx.ASGITransport(app=local)
    async with httpx.AsyncClient(transport=transport, base_url="http://local") as c:
        r = await c.request(
            method,
            path + (f"?{query}" if query else ""),
            content=body,
            headers={"content-type": "application/json", "accept-language": lang},
            timeout=None,
        )
    return Response(r.content, r.status_code, media_type="application/json")


class RelayClient:
    """Sends relayed requests to the other servers' remote APIs over pinned HTTPS."""

    def __init__(
        self,
        engine: EngineService,
        signer: RelaySigner,
        pins: CertificatePins,
        port: Callable[[], int],
    ) -> None:
        self.engine = engine
        self.signer = signer
        self.pins = pins
        self._port = port

    async def forward(
        self,
        server: str,
        method: str,
        path: str,
        query: str,
        body: bytes,
        ident: Identity,
        lang: str,
    ) -> Response:
        """``server``'s reply to ``method path`` (a local API path, ``/v1/...``), tried on
        each of its addresses in turn. Connects within 2 s per address and reads within
        ``SF_ACTION_TIMEOUT`` + 15 s. A certificate other than the pinned one is asked
        afresh once (the server may have restarted with a new one), then refused with
        194043; no address answering: 194041."""
        target = httpx.URL("/api/relay" + path + (f"?{query}" if query else ""))
        headers = {
            "content-type": "application/json",
            "accept-language": lang,
            **self.signer.headers(server, ident, method, path, target.query, body),
        }
        addresses = self.engine.addresses(server)
        read = self.engine.action_timeout + 15.0
        reason: object = "no address"
        mismatch: ssl.SSLCertVerificationError | None = None
        for attempt in range(2):
            verify = await self.pins.context(server, refresh=attempt > 0)
            mismatch = None
            for addr in addresses:
                url = target.copy_with(scheme="https", host=addr, port=self._port())
                try:
                    return await _send(verify, read, method, url, body, headers)
                except httpx.TransportError as exc:
                    mismatch = verification_error(exc) or mismatch
                    reason = exc.__class__.__name__ + (f": {exc}" if str(exc) else "")
            if mismatch is None:
                break
        if mismatch is not None:
            notice = StandfastError("194043", server=server, reason=mismatch.verify_message)
            log.error(notice.text("en"))
            raise notice
        raise StandfastError("194041", server=server, reason=reason)


async def _send(
    verify: ssl.SSLContext,
    read: float,
    method: str,
    url: httpx.URL,
    body: bytes,
    headers: dict[str, str],
) -> Response:
    async with httpx.AsyncClient(verify=verify, timeout=httpx.Timeout(read, connect=2.0)) as c:
        r = await c.request(method, url, content=body, headers=headers)
    return Response(r.content, r.status_code, media_type="application/json")
