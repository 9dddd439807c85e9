"""The remote API's HTTPS certificates: each server's own (made once with ``openssl``,
or the administrator's), and the pins a server keeps of its peers' certificates.

A peer's certificate is learnt over the encrypted, authenticated cluster channel, never from
the TLS connection itself, so a relayed request (and its reply) can only be exchanged
with the server that holds the cluster key.
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import os
import re
import ssl
import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path

from standfast.messages import StandfastError


def ensure_certificate(
    directory: Path, server: str, addresses: list[str], *, days: int = 825
) -> tuple[Path, Path]:
    """This server's self-signed certificate, made once with ``openssl`` (argv only)
    for its name and every address it serves on."""
    cert, key = directory / "remote.crt", directory / "remote.key"
    if cert.exists() and key.exists():
        return cert, key
    directory.mkdir(parents=True, exist_ok=True)
    names = [f"DNS:{n}" for n in dict.fromkeys([server, "localhost"])]
    ips = []
    for a in dict.fromkeys(["127.0.0.1", "::1", *addresses]):
        with contextlib.suppress(ValueError):
            ips.append(f"IP:{ipaddress.ip_address(a)}")
    argv = [
        "openssl",
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-days",
        str(days),
        "-subj",
        f"/CN={server}/O=Standfast",
        "-addext",
        "subjectAltName=" + ",".join(names + ips),
        "-keyout",
        str(key),
        "-out",
        str(cert),
    ]
    old = os.umask(0o077)
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise StandfastError("194060", path=cert, reason=exc) from None
    finally:
        os.umask(old)
    if r.returncode != 0:
        raise StandfastError("194060", path=cert, reason=r.stderr.strip()[-300:])
    os.chmod(key, 0o600)
    return cert, key


_PEM_CERT = re.compile(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.S)


def leaf_certificate(pem: str) -> str:
    """The first certificate of a PEM file: the server's own, never a chain's CA (pinning
    a CA would trust everything it signed) and never a private key bundled with it."""
    m = _PEM_CERT.search(pem)
    if m is None:
        raise ValueError("no PEM certificate in it")
    return m.group(0) + "\n"


def pinned_context(pem: str) -> ssl.SSLContext:
    """A TLS client context that accepts exactly this certificate (and nothing signed by
    anyone else). Names are not checked: the pin is stronger than any name in it."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cadata=leaf_certificate(pem))
    ctx.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    ctx.check_hostname = False
    return ctx


def verification_error(exc: BaseException) -> ssl.SSLCertVerificationError | None:
    """The certificate verification failure behind an HTTP client error, if that is
    what it was (the client wraps the ssl module's exception)."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        if isinstance(cur, ssl.SSLCertVerificationError):
            return cur
        seen.add(id(cur))
        cur = cur.__cause__ or cur.__context__
    return None


class CertificatePins:
    """Each peer's remote API certificate, learnt over the encrypted, authenticated cluster
    channel and kept as a pinned TLS context for the requests relayed to it.

    ``ask(server)`` returns the PEM certificate ``server`` announces over that channel
    ("" when it serves no remote API)."""

    def __init__(self, ask: Callable[[str], Awaitable[str]]) -> None:
        self._ask = ask
        self._contexts: dict[str, ssl.SSLContext] = {}

    async def context(self, server: str, *, refresh: bool = False) -> ssl.SSLContext:
        """The pinned context for ``server`` (asked once, or again with ``refresh``);
        194041 when it serves no remote API, 194043 for an unusable certificate, and
        whatever ``ask`` raises when the peer cannot be asked."""
        if not refresh and server in self._contexts:
            return self._contexts[server]
        pem = await self._ask(server)
        if not pem:
            raise StandfastError("194041", server=server, reason="it serves no remote API")
        try:
            ctx = pinned_context(pem)
        except (ValueError, ssl.SSLError) as exc:
            raise StandfastError("194043", server=server, reason=exc) from None
        self._contexts[server] = ctx
        return ctx


def fingerprint(pem: str) -> str:
    """SHA-256 fingerprint of the first certificate, as browsers show it (AB:CD:...)."""
    der = ssl.PEM_cert_to_DER_cert(leaf_certificate(pem))
    digest = hashlib.sha256(der).hexdigest().upper()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


__all__ = [
    "CertificatePins",
    "ensure_certificate",
    "fingerprint",
    "leaf_certificate",
    "pinned_context",
    "verification_error",
]
