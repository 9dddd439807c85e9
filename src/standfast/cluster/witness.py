"""Witnesses: the TCP tie-break witness (server and client); the storage lease is in
:mod:`standfast.cluster.storage_witness`.

TCP witness
-----------
``standfast witness`` runs :func:`serve_witness` on a third machine. A server that has
lost some peers asks it "may partition P (the servers I see, me included) have the
tie-break vote?". The witness grants the first partition that asks and keeps granting
the same partition (the same set of names) while one of its members renews within
``grant_ttl``; any other partition is refused until that grant expires. Grants are kept
per cluster name.

After a (re)start the witness refuses everybody for ``startup_hold`` seconds (default:
``grant_ttl``): it has forgotten its grants, and a partition granted just before the
restart still counts its grant until then.

Wire: one request and one reply per TCP connection, each a 4-byte big-endian length and
a :func:`standfast.cluster.auth.seal`-ed envelope (encrypted and authenticated with the
cluster key). Requests go to receiver ``"witness"`` and are checked for replay and clock
skew; a request that fails authentication gets no reply. The reply is addressed to the
asking server and echoes the request's random nonce, so a recorded reply cannot be
replayed to it.

The client counts a grant only until its own monotonic time at sending + ``grant_ttl``
(:attr:`WitnessView.valid_until`): the witness extended the grant at or after that
moment, so the witness cannot hand the vote to another partition while this server
still counts it.

Storage witness
---------------
:class:`standfast.cluster.storage_witness.StorageWitness` keeps a lease file on the
shared export.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import logging
import math
import secrets
import signal
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from standfast.cluster.auth import (
    MAX_MESSAGE_SIZE,
    AuthError,
    BadSignature,
    Envelope,
    JSONObject,
    JSONValue,
    ReplayGuard,
    Sealer,
    new_boot_id,
    open_sealed,
    seal,
)
from standfast.cluster.keyring import ClusterKey, KeyRing
from standfast.cluster.quorum import WitnessView, valid_server_name
from standfast.messages import Notice
from standfast.messages.codes import KEY_RELOAD_FAILED, KEY_RELOADED
from standfast.messages.quorum_codes import (
    WITNESS_BIND_FAILED,
    WITNESS_DROPPED_REQUEST,
    WITNESS_GRANTED,
    WITNESS_LISTENING,
    WITNESS_REFUSED,
)

log = logging.getLogger("standfast.cluster.witness")

WITNESS_NAME = "witness"
REQUEST_TYPE = "witness_request"
REPLY_TYPE = "witness_reply"
DEFAULT_CLUSTER = "standfast"
DEFAULT_PORT = 7788
MAX_PARTITION = 64
SERVER_IO_TIMEOUT = 5.0  # a client must send its request within this
_LENGTH = 4

__all__ = [
    "DEFAULT_PORT",
    "GrantDecision",
    "GrantTable",
    "WitnessServer",
    "WitnessView",
    "ask_witness",
    "main",
    "serve_witness",
]


# --------------------------------------------------------------------------- grants


@dataclass(frozen=True, slots=True)
class GrantDecision:
    granted: bool
    holder: frozenset[str]
    remaining: float  # seconds the holder's grant still runs (0 if none)
    reason: str


class GrantTable:
    """Which partition holds the tie-break vote, per cluster (the witness's state)."""

    def __init__(
        self, ttl: float, *, startup_hold: float = 0.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if not (math.isfinite(ttl) and ttl > 0):
            raise ValueError("grant ttl must be a positive number of seconds")
        if not (math.isfinite(startup_hold) and startup_hold >= 0):
            raise ValueError("startup hold must be zero or more seconds")
        self.ttl = ttl
        self._clock = clock
        self._hold_until = clock() + startup_hold
        self._grants: dict[str, tuple[frozenset[str], float]] = {}

    def request(self, cluster: str, partition: frozenset[str]) -> GrantDecision:
        now = self._clock()
        if now < self._hold_until:
            left = self._hold_until - now
            return GrantDecision(False, frozenset(), left, f"witness restarted, {left:.1f} s hold")
        current = self._grants.get(cluster)
        if current is not None and current[1] < now:
            current = None
        if current is None or current[0] == partition:
            self._grants[cluster] = (partition, now + self.ttl)
            return GrantDecision(True, partition, self.ttl, "granted")
        holder, until = current
        return GrantDecision(False, holder, until - now, "held by another partition")

    def holder(self, cluster: str) -> frozenset[str] | None:
        current = self._grants.get(cluster)
        if current is None or current[1] < self._clock():
            return None
        return current[0]


# --------------------------------------------------------------------------- framing


async def _read_frame(reader: asyncio.StreamReader) -> bytes:
    header = await reader.readexactly(_LENGTH)
    size = int.from_bytes(header, "big")
    if not 0 < size <= MAX_MESSAGE_SIZE:
        raise ValueError(f"frame of {size} bytes")
    return await reader.readexactly(size)


def _frame(data: bytes) -> bytes:
    return len(data).to_bytes(_LENGTH, "big") + data


def _names(value: object) -> tuple[str, ...] | None:
    if not isinstance(value, list) or not 0 < len(value) <= MAX_PARTITION:
        return None
    if not all(valid_server_name(v) for v in value):
        return None
    return tuple(sorted(set(value)))


# --------------------------------------------------------------------------- server


class WitnessServer:
    """The TCP witness. :meth:`start` binds; :meth:`close` stops."""

    def __init__(
        self,
        key: ClusterKey,
        *,
        grant_ttl: float,
        startup_hold: float | None = None,
        io_timeout: float = SERVER_IO_TIMEOUT,
    ) -> None:
        self._key = key
        self.grants = GrantTable(
            grant_ttl, startup_hold=grant_ttl if startup_hold is None else startup_hold
        )
        self._guard = ReplayGuard()
        self._io_timeout = io_timeout
        self._boot_id = new_boot_id()
        self._seq = 0
        self._server: asyncio.Server | None = None
        self.dropped = 0
        self.answered = 0

    async def start(self, host: str, port: int) -> tuple[str, int]:
        self._server = await asyncio.start_server(self._handle, host, port)
        sockname = self._server.sockets[0].getsockname()
        return str(sockname[0]), int(sockname[1])

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(2.0):
                    await self._server.wait_closed()
            self._server = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        source = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else "?"
        try:
            async with asyncio.timeout(self._io_timeout):
                data = await _read_frame(reader)
                reply = self._answer(data, source)
                if reply is not None:
                    writer.write(_frame(reply))
                    await writer.drain()
        except (TimeoutError, OSError, ValueError, asyncio.IncompleteReadError) as exc:
            self.dropped += 1
            log.debug("witness connection from %s: %r", source, exc)
        except asyncio.CancelledError:
            return  # the witness stops; see PeerServer._serve for why not re-raised
        finally:
            writer.close()
            with contextlib.suppress(TimeoutError, OSError):
                async with asyncio.timeout(1.0):
                    await writer.wait_closed()

    def _open(self, data: bytes) -> tuple[Envelope, bytes]:
        """The request and the key that opened it: the reply is sealed with that key,
        so servers in the middle of a key rotation are answered whichever key they
        use (the witness's key file holds both then)."""
        keys = list(self._key) if isinstance(self._key, KeyRing) else [self._key]
        for key in keys[:-1]:
            try:
                return open_sealed(key, data, receiver=WITNESS_NAME), key
            except BadSignature:
                continue
        return open_sealed(keys[-1], data, receiver=WITNESS_NAME), keys[-1]

    def _answer(self, data: bytes, source: str) -> bytes | None:
        try:
            env, key = self._open(data)
            if env.msg_type != REQUEST_TYPE:
                raise AuthError(f"unexpected message type {env.msg_type!r}")
            partition = _names(env.body.get("partition"))
            nonce = env.body.get("nonce")
            if partition is None or env.sender not in partition:
                raise AuthError("the partition is not a list of server names with the sender")
            if not isinstance(nonce, str) or not 0 < len(nonce) <= 64:
                raise AuthError("no nonce")
            self._guard.check(env, path=env.cluster)
        except AuthError as exc:
            self.dropped += 1
            log.warning(
                "%s: witness dropped a request from %s: %s", WITNESS_DROPPED_REQUEST, source, exc
            )
            return None
        decision = self.grants.request(env.cluster, frozenset(partition))
        names = ", ".join(partition)
        if decision.granted:
            log.debug("%s: granted the tie-break vote to %s", WITNESS_GRANTED, names)
        else:
            log.info(
                "%s: refused the tie-break vote to %s: %s (%s)",
                WITNESS_REFUSED,
                names,
                decision.reason,
                ", ".join(sorted(decision.holder)),
            )
        self._seq += 1
        body: JSONObject = {
            "nonce": nonce,
            "granted": decision.granted,
            "holder": list[JSONValue](sorted(decision.holder)),
            "ttl": self.grants.ttl,
            "remaining": round(decision.remaining, 3),
            "reason": decision.reason,
        }
        reply = Envelope(
            cluster=env.cluster,
            sender=WITNESS_NAME,
            receiver=env.sender,
            msg_type=REPLY_TYPE,
            boot_id=self._boot_id,
            seq=self._seq,
            timestamp=time.time(),
            body=body,
        )
        self.answered += 1
        return seal(key, reply)


async def serve_witness(
    host: str,
    port: int,
    key: ClusterKey,
    *,
    grant_ttl: float,
    startup_hold: float | None = None,
    ready: Callable[[str, int], None] | None = None,
) -> None:
    """Run the TCP witness until cancelled. ``ready(host, port)`` is called once bound."""
    server = WitnessServer(key, grant_ttl=grant_ttl, startup_hold=startup_hold)
    try:
        address, bound = await server.start(host, port)
    except OSError as exc:
        log.error(
            "%s: witness cannot listen on %s port %d: %s", WITNESS_BIND_FAILED, host, port, exc
        )
        raise
    log.info("%s: witness listening on %s port %d", WITNESS_LISTENING, address, bound)
    if ready is not None:
        ready(address, bound)
    try:
        await asyncio.Event().wait()  # until cancelled
    finally:
        await server.close()


# --------------------------------------------------------------------------- client

_sealers: dict[tuple[bytes | int, str, str], Sealer] = {}


def _sealer(key: ClusterKey, cluster: str, server: str) -> Sealer:
    """One boot id and rising sequence per (key, cluster, server) in this process (a
    ring is one key that changes: its sealer follows it)."""
    ident = (
        id(key) if isinstance(key, KeyRing) else hashlib.sha256(key).digest(),
        cluster,
        server,
    )
    sealer = _sealers.get(ident)
    if sealer is None:
        sealer = _sealers[ident] = Sealer(key, cluster, server)
    return sealer


async def ask_witness(
    host: str,
    port: int,
    key: ClusterKey,
    server: str,
    partition: Iterable[str],
    *,
    timeout: float,
    cluster: str = DEFAULT_CLUSTER,
) -> WitnessView:
    """Ask the TCP witness for the tie-break vote for ``partition`` (``server`` included).

    Returns within ``timeout`` (connect, send and read all share it). An unreachable,
    silent or unauthenticated witness gives ``reachable=False``.
    """
    names = tuple(sorted(set(partition) | {server}))
    if _names(list(names)) is None:
        raise ValueError(f"bad server names in partition {names!r}")
    if not (math.isfinite(timeout) and timeout > 0):
        raise ValueError("timeout must be a positive number of seconds")
    started = time.monotonic()
    nonce = secrets.token_hex(16)
    request = _sealer(key, cluster, server).seal(
        WITNESS_NAME, REQUEST_TYPE, {"partition": list(names), "nonce": nonce}
    )
    where = f"{host} port {port}"
    writer: asyncio.StreamWriter | None = None
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(host, port)
            writer.write(_frame(request))
            await writer.drain()
            data = await _read_frame(reader)
    except TimeoutError:
        return WitnessView(False, False, f"witness {where} did not answer within {timeout:g} s")
    except asyncio.IncompleteReadError:
        return WitnessView(False, False, f"witness {where} closed the connection without a reply")
    except (OSError, ValueError) as exc:
        return WitnessView(False, False, f"witness {where}: {exc}")
    finally:
        if writer is not None:
            writer.transport.abort()
    try:
        env = open_sealed(key, data, cluster=cluster, receiver=server)
    except AuthError as exc:
        return WitnessView(False, False, f"witness {where} reply refused: {exc}")
    body = env.body
    holder = _names(body.get("holder")) or ()
    ttl = body.get("ttl")
    if (
        env.sender != WITNESS_NAME
        or env.msg_type != REPLY_TYPE
        or body.get("nonce") != nonce
        or not isinstance(body.get("granted"), bool)
        or isinstance(ttl, bool)
        or not isinstance(ttl, int | float)
        or not ttl > 0
    ):
        return WitnessView(False, False, f"witness {where} sent an unexpected reply")
    if body["granted"]:
        return WitnessView(True, True, "granted", holder, valid_until=started + float(ttl))
    reason = body.get("reason")
    detail = f"refused: {reason}" if isinstance(reason, str) else "refused"
    return WitnessView(True, False, detail, holder)


def main(argv: list[str] | None = None) -> int:
    """``python -m standfast.cluster.witness``: run the TCP witness in the foreground."""
    from standfast.cluster.keyring import KeyFileError, KeyRing, load_keys

    parser = argparse.ArgumentParser(prog="standfast witness", description=__doc__.split("\n")[0])
    parser.add_argument("--listen", default="0.0.0.0", help="address to listen on")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--key-file", required=True, help="the cluster key file")
    parser.add_argument("--grant-ttl", type=float, default=10.0)
    parser.add_argument("--startup-hold", type=float, default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    try:
        ring = KeyRing(load_keys(args.key_file))
    except KeyFileError as exc:
        print(str(exc), file=sys.stderr)
        return 2

    def reload_keys() -> None:
        # SIGHUP: the operator changed the key file (a key rotation, docs/cluster.md);
        # a file that cannot be used leaves the keys in use as they are.
        try:
            ring.replace(load_keys(args.key_file))
        except (KeyFileError, ValueError) as exc:
            reason = exc.text if isinstance(exc, KeyFileError) else str(exc)
            log.error(Notice.of(KEY_RELOAD_FAILED, path=args.key_file, reason=reason).text("en"))
            return
        fingerprints = ", ".join(ring.fingerprints())
        log.info(Notice.of(KEY_RELOADED, server="witness", fingerprints=fingerprints).text("en"))

    def ready(host: str, port: int) -> None:
        print(f"listening {host} {port}", flush=True)

    async def run() -> None:
        task = asyncio.ensure_future(
            serve_witness(
                args.listen,
                args.port,
                ring,
                grant_ttl=args.grant_ttl,
                startup_hold=args.startup_hold,
                ready=ready,
            )
        )
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, task.cancel)
        loop.add_signal_handler(signal.SIGHUP, reload_keys)
        with contextlib.suppress(asyncio.CancelledError):
            await task

    try:
        asyncio.run(run())
    except OSError:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
