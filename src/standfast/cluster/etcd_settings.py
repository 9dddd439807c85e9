"""The ``etcd`` section of a cluster definition (``"quorum": "etcd"``): pure, no I/O.

::

    "quorum": "etcd",
    "etcd": {
        "endpoints": ["https://10.0.0.1:2379", "https://10.0.0.2:2379", "https://10.0.0.3:2379"],
        "ca": "/etc/standfast/etcd-ca.pem",
        "cert": "/etc/standfast/etcd-client.pem",
        "key": "/etc/standfast/etcd-client.key",
        "prefix": "/standfast/prod",
        "ttl": 4,
        "timeout": 1.0,
        "on_loss": "release"
    }

Timing rules, and why they keep a hierarchy in service on one server at most:

* The lease is renewed every ``renew_every`` (``ttl / 4``). A renewal counts from when
  it was *sent*, so etcd's own expiry of the lease is never earlier than
  ``sent + ttl`` on this server's clock (clock rates differ by far less than the margin).
* This server treats its grant as valid until ``sent + ttl - release_budget``
  (``release_budget = ttl / 2``): by then it has stopped counting it and has started
  taking its hierarchies out of service, with half the ttl left before a peer can
  create the holder key.
* Every etcd call has a deadline of ``timeout``; ``timeout`` must be below
  ``renew_every`` so that one slow call cannot hide a lost lease (193001 otherwise).
* ``ttl`` is a whole number of seconds (etcd's lease granularity), from 2 to 300.

``on_loss``: ``release`` (the default, as Patroni without failsafe mode): a server that
cannot renew its lease loses quorum and takes its hierarchies out of service (or halts,
per ``quorum_loss_action``). ``keep``: while etcd is unreachable, a server keeps what it
runs as long as it still counts *every* configured peer in its partition (Patroni's
failsafe mode asks the same of all members); it takes nothing new, because starting a
hierarchy always needs its own transaction in etcd.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from standfast.messages import StandfastError

OnLoss = Literal["release", "keep"]
MIN_TTL, MAX_TTL = 2, 300


@dataclass(frozen=True, slots=True)
class Endpoint:
    host: str
    port: int
    tls: bool

    @property
    def target(self) -> str:
        """The gRPC target (``host:port``, an IPv6 literal in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


@dataclass(frozen=True, slots=True)
class EtcdSettings:
    endpoints: tuple[Endpoint, ...]
    prefix: str
    ttl: int = 4
    timeout: float = 1.0
    on_loss: OnLoss = "release"
    ca: str = ""
    cert: str = ""
    key: str = ""

    @property
    def renew_every(self) -> float:
        return self.ttl / 4

    @property
    def release_budget(self) -> float:
        return self.ttl / 2

    def holder_key(self, equiv: str) -> bytes:
        """The key that names the server holding hierarchy ``equiv``."""
        return f"{self.prefix}/holders/{equiv}".encode()

    @property
    def holders_prefix(self) -> bytes:
        return f"{self.prefix}/holders/".encode()

    def as_dict(self) -> dict[str, object]:
        return {
            "endpoints": [f"{'https' if e.tls else 'http'}://{e.target}" for e in self.endpoints],
            "prefix": self.prefix,
            "ttl": self.ttl,
            "timeout": self.timeout,
            "on_loss": self.on_loss,
            "tls_client_certificate": bool(self.cert),
        }


def _bad(reason: str) -> StandfastError:
    return StandfastError("193001", reason=f"etcd: {reason}")


def _endpoint(value: object) -> Endpoint:
    if not isinstance(value, str):
        raise _bad(f"endpoint {value!r} is not a string (use https://HOST:PORT)")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _bad(f"endpoint {value!r}: use https://HOST:PORT (or http:// without TLS)")
    if parts.path not in ("", "/") or parts.query or parts.username:
        raise _bad(f"endpoint {value!r}: only a scheme, a host and a port")
    try:
        port = parts.port or 2379
    except ValueError:
        raise _bad(f"endpoint {value!r}: the port is not a number from 1 to 65535") from None
    host = parts.hostname
    try:
        host = str(ipaddress.ip_address(host))
    except ValueError:
        if not all(c.isalnum() or c in "-." for c in host):
            raise _bad(f"endpoint {value!r}: {host!r} is neither an address nor a name") from None
    return Endpoint(host, port, parts.scheme == "https")


def parse_etcd(section: object) -> EtcdSettings:
    """The checked settings; every refusal is 193001 naming the setting, and an unknown
    key is 193028 (checked earlier, by ``definition_keys``)."""
    if not isinstance(section, Mapping) or not section:
        raise _bad('"quorum": "etcd" needs an "etcd" section with its endpoints')
    raw = section.get("endpoints")
    if not isinstance(raw, list) or not raw:
        raise _bad("endpoints must be a list of one or more https://HOST:PORT")
    endpoints = tuple(_endpoint(v) for v in raw)
    if len(set(endpoints)) != len(endpoints):
        raise _bad("an endpoint is listed twice")
    tls = {e.tls for e in endpoints}
    if len(tls) != 1:
        raise _bad("endpoints mix https:// and http://")
    prefix = section.get("prefix", "/standfast")
    if not isinstance(prefix, str) or not prefix.startswith("/") or prefix.endswith("/"):
        raise _bad(f"prefix {prefix!r} must start with / and not end with /")
    if any(ord(c) < 0x21 for c in prefix):
        raise _bad("prefix holds spaces or control characters")
    ttl = section.get("ttl", 4)
    if isinstance(ttl, bool) or not isinstance(ttl, int) or not MIN_TTL <= ttl <= MAX_TTL:
        raise _bad(f"ttl {ttl!r}: a whole number of seconds from {MIN_TTL} to {MAX_TTL}")
    timeout = section.get("timeout", min(1.0, ttl / 8))
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
        raise _bad(f"timeout {timeout!r}: seconds, more than 0")
    if timeout >= ttl / 4:
        # A call that may take longer than a renewal period could hide a lost lease.
        raise _bad(f"timeout ({timeout:g} s) must be below ttl / 4 ({ttl / 4:g} s)")
    on_loss = section.get("on_loss", "release")
    if on_loss not in ("release", "keep"):
        raise _bad(f"on_loss {on_loss!r}: release or keep")
    files: dict[str, str] = {}
    for name in ("ca", "cert", "key"):
        value = section.get(name, "")
        if not isinstance(value, str) or (value and not value.startswith("/")):
            raise _bad(f"{name} must be an absolute path")
        files[name] = value
    if bool(files["cert"]) != bool(files["key"]):
        raise _bad("cert and key go together (the TLS client certificate and its key)")
    if not endpoints[0].tls and any(files.values()):
        raise _bad("ca, cert and key need https:// endpoints")
    return EtcdSettings(
        endpoints=endpoints,
        prefix=prefix,
        ttl=ttl,
        timeout=float(timeout),
        on_loss=on_loss,
        ca=files["ca"],
        cert=files["cert"],
        key=files["key"],
    )
