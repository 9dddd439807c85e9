"""The etcd arbiter: a server holds a hierarchy only while its holder key lives in etcd
under this server's lease (settings and timing rules: :mod:`.etcd_settings`).

Keys: ``PREFIX/holders/EQUIV`` = the holding server's name, attached to that server's
lease. A daemon has one lease at a time, renewed every ``ttl / 4``.

Contracts (``EtcdArbiter``):

- ``run()`` is the daemon-long task: lease grant and renewal, endpoint rotation, the
  watch of the holders. It never raises (an error is logged and retried at the next
  renewal) and every etcd call in it has the ``timeout`` deadline.
- ``view()`` is what quorum counts, at once and without I/O: granted while the lease
  is valid by this server's clock (see the timing rules).
- ``claim(equiv)`` succeeds only after a transaction created the holder key (it was
  absent: released, or expired with its holder's lease) or found it already this
  server's and attached it to the current lease; otherwise it raises 199002 (held by
  another server) or 199003 (no lease, or etcd did not answer in time). Idempotent.
- ``release(equiv)`` deletes the key only if it is still this server's (a transaction);
  never raises; an unreachable etcd leaves the key to expire with the lease.
- ``holders()`` is the watch's picture: equiv -> server, updated as etcd reports puts
  and deletes (a release elsewhere is seen at once; nobody waits for a ttl then).

Why written here and not taken from a library: aetcd gives the calls, but no lease
keeper with a local deadline nor a holder cache; and aetcd 1.0 connects only without
TLS, so ``_TlsClient`` opens the same channel with a client certificate (aetcd is pinned
to 1.0.x for that reason).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

# gRPC's core logs every failed TLS handshake and connection to stderr at INFO; the
# arbiter reports those itself (199009), once per change.
os.environ.setdefault("GRPC_VERBOSITY", "ERROR")

import aetcd
import grpc

from standfast.cluster.etcd_settings import Endpoint, EtcdSettings
from standfast.cluster.quorum import WitnessView
from standfast.messages import Notice, StandfastError

log = logging.getLogger("standfast.cluster.etcd")
T = TypeVar("T")

#: etcd's errors, gRPC's, and a deadline: what an unreachable or failing etcd raises.
CALL_ERRORS: tuple[type[BaseException], ...] = (
    aetcd.exceptions.ClientError,
    grpc.RpcError,
    TimeoutError,
    OSError,
)


class _TlsClient(aetcd.Client):  # type: ignore[misc]
    """aetcd's client on a TLS channel (server verified against ``ca``, client cert)."""

    def __init__(self, endpoint: Endpoint, settings: EtcdSettings) -> None:
        super().__init__(host=endpoint.host, port=endpoint.port, timeout=settings.timeout)
        self._target = endpoint.target
        self._credentials: grpc.ChannelCredentials | None = None
        if endpoint.tls:
            self._credentials = grpc.ssl_channel_credentials(
                root_certificates=_read(settings.ca),
                private_key=_read(settings.key),
                certificate_chain=_read(settings.cert),
            )

    async def connect(self) -> None:
        if self._connected.is_set():
            return
        from aetcd import rpc, watcher

        options = [("grpc.enable_retries", 0)]
        if self._credentials is None:
            self.channel = rpc.insecure_channel(self._target, options=options)
        else:
            self.channel = rpc.secure_channel(self._target, self._credentials, options=options)
        self.kvstub = rpc.KVStub(self.channel)
        self.clusterstub = rpc.ClusterStub(self.channel)
        self.leasestub = rpc.LeaseStub(self.channel)
        self.maintenancestub = rpc.MaintenanceStub(self.channel)
        self._watcher = watcher.Watcher(
            rpc.WatchStub(self.channel), timeout=None, metadata=self.metadata
        )
        self._connected.set()


def _read(path: str) -> bytes | None:
    return Path(path).read_bytes() if path else None


@dataclass(frozen=True, slots=True)
class LeaseState:
    lease_id: int = 0
    valid_until: float = 0.0  # monotonic: sent + ttl - release_budget
    expires_by: float = 0.0  # monotonic: sent + ttl (etcd expires it no earlier)

    def valid_at(self, now: float) -> bool:
        """Granted, and not past the point where this server stops counting it."""
        return self.lease_id != 0 and now <= self.valid_until


class EtcdArbiter:
    def __init__(self, settings: EtcdSettings, local: str) -> None:
        self.settings = settings
        self.local = local
        self._index = 0
        self._client: _TlsClient | None = None
        self._lease = LeaseState()
        self._reachable = False
        self._detail = "not connected yet"
        self._holders: dict[str, str] = {}
        self._watch_task: asyncio.Task[None] | None = None
        self._watch_ok = False
        self._client_lock = asyncio.Lock()
        #: Called when a renewal finds a hierarchy this server runs held by another
        #: server in etcd (only possible after etcd itself lost data, or an operator
        #: deleted keys): the member takes its copy out of service.
        self.on_conflict: Callable[[str, str], None] = lambda equiv, holder: None
        #: The hierarchies this server has in service (equivalency ids).
        self.held: Callable[[], set[str]] = set

    # -- what the engine reads --------------------------------------------------------

    def view(self) -> WitnessView:
        lease = self._lease
        valid = lease.valid_at(time.monotonic())
        return WitnessView(
            reachable=self._reachable,
            granted=valid,
            detail=self._detail,
            holder=(self.local,) if valid else (),
            valid_until=lease.valid_until if valid else None,
        )

    def holders(self) -> dict[str, str]:
        return dict(self._holders)

    def status(self) -> dict[str, object]:
        """For ``status`` and the GUI: the endpoint in use, the lease, the holders."""
        now = time.monotonic()
        lease = self._lease
        return {
            "endpoint": self._endpoint().target,
            "reachable": self._reachable,
            "detail": self._detail,
            "lease": f"{lease.lease_id:x}" if lease.lease_id else "",
            # Whole seconds the lease lives in etcd at least: steady while renewals
            # succeed (the GUI's stream sends a status only when it changes).
            "lease_left": math.floor(max(0.0, lease.expires_by - now)) if lease.lease_id else 0,
            "lease_valid": lease.valid_at(now),
            "ttl": self.settings.ttl,
            "on_loss": self.settings.on_loss,
            "holders": dict(sorted(self._holders.items())),
            "watching": self._watch_ok,
        }

    # -- the daemon-long task ---------------------------------------------------------

    async def run(self) -> None:
        s = self.settings
        failed = 0  # endpoints tried in a row without success
        try:
            while True:
                began = time.monotonic()
                pause = s.renew_every
                try:
                    await self._renew()
                    await self._ensure_watch()
                    await self._reclaim()
                    self._set_reachable(True, "lease renewed")
                    failed = 0
                except CALL_ERRORS as exc:
                    self._set_reachable(False, _describe(exc))
                    await self._rotate()
                    failed += 1
                    if failed < len(s.endpoints):
                        pause = 0.0  # the next endpoint at once: the lease is running out
                    else:
                        failed = 0
                except Exception as exc:  # the arbiter must never stop renewing
                    log.exception(_note("199001", server=self.local, reason=_describe(exc)))
                    self._set_reachable(False, _describe(exc))
                await asyncio.sleep(max(0.05, pause - (time.monotonic() - began)))
        finally:
            await self._close()

    async def _renew(self) -> None:
        s = self.settings
        client = await self._connected()
        sent = time.monotonic()
        if self._lease.lease_id:
            reply = await self._bounded(client.refresh_lease(self._lease.lease_id))
            if reply is None or int(reply.TTL) <= 0:
                log.warning(_note("199004", lease=f"{self._lease.lease_id:x}", server=self.local))
                self._lease = LeaseState()
                self._detail = "lease expired in etcd"
                return
            ttl = int(reply.TTL)
            lease_id = self._lease.lease_id
        else:
            lease = await self._bounded(client.lease(s.ttl))
            lease_id, ttl = int(lease.id), int(lease.ttl)
            log.info(_note("199005", lease=f"{lease_id:x}", server=self.local, ttl=ttl))
        # etcd may grant more than asked, never less; count only what was asked for.
        ttl = min(ttl, s.ttl)
        self._lease = LeaseState(lease_id, sent + ttl - s.release_budget, sent + ttl)

    async def _reclaim(self) -> None:
        """Hierarchies this server runs keep their key under the current lease (after a
        new lease, in ``on_loss: keep``); one held by another server is a conflict."""
        if not self._lease.lease_id:
            return
        for equiv in sorted(self.held()):
            if self._holders.get(equiv) == self.local and self._watch_ok:
                continue
            try:
                await self.claim(equiv)
            except StandfastError as exc:
                if exc.code == "199002":
                    self.on_conflict(equiv, str(exc.params.get("holder", "")))
                else:
                    raise

    # -- holder keys ------------------------------------------------------------------

    async def claim(self, equiv: str) -> None:
        lease = self._lease
        if not lease.valid_at(time.monotonic()):
            raise StandfastError("199003", tag=equiv, server=self.local, reason="no valid lease")
        key = self.settings.holder_key(equiv)
        me = self.local.encode()
        try:
            client = await self._connected()
            tx = client.transactions
            ok, replies = await self._bounded(
                client.transaction(
                    compare=[tx.version(key) == 0],
                    success=[tx.put(key, me, lease=lease.lease_id)],
                    failure=[tx.get(key)],
                )
            )
            if ok:
                self._holders[equiv] = self.local
                return
            holder = replies[0][0][0].decode() if replies and replies[0] else ""
            if holder == self.local:
                ok, _ = await self._bounded(
                    client.transaction(
                        compare=[tx.value(key) == me],
                        success=[tx.put(key, me, lease=lease.lease_id)],
                        failure=[],
                    )
                )
                if ok:
                    self._holders[equiv] = self.local
                    return
        except CALL_ERRORS as exc:
            raise StandfastError(
                "199003", tag=equiv, server=self.local, reason=_describe(exc)
            ) from None
        self._holders[equiv] = holder or "?"
        raise StandfastError("199002", tag=equiv, server=self.local, holder=holder or "?")

    async def release(self, equiv: str) -> None:
        key = self.settings.holder_key(equiv)
        try:
            client = await self._connected()
            tx = client.transactions
            await self._bounded(
                client.transaction(
                    compare=[tx.value(key) == self.local.encode()],
                    success=[tx.delete(key)],
                    failure=[],
                )
            )
        except CALL_ERRORS as exc:
            log.warning(_note("199006", server=self.local, tag=equiv, reason=_describe(exc)))
            return
        if self._holders.get(equiv) == self.local:
            del self._holders[equiv]

    # -- the watch --------------------------------------------------------------------

    async def _ensure_watch(self) -> None:
        if self._watch_task is not None and not self._watch_task.done():
            return
        client = await self._connected()
        prefix = self.settings.holders_prefix
        found = await self._bounded(client.get_prefix(prefix))
        holders = {kv.key[len(prefix) :].decode(): kv.value.decode() for kv in found}
        revision = int(found.header.revision) if found.header is not None else 0
        watch = await self._bounded(client.watch_prefix(prefix, start_revision=revision + 1))
        self._holders = holders
        self._watch_ok = True
        self._watch_task = asyncio.create_task(self._follow(watch, prefix))

    async def _follow(self, watch: Any, prefix: bytes) -> None:
        try:
            async for event in watch:
                equiv = event.kv.key[len(prefix) :].decode()
                if event.kind == "DELETE":
                    self._holders.pop(equiv, None)
                else:
                    self._holders[equiv] = event.kv.value.decode()
        except CALL_ERRORS as exc:
            log.warning(_note("199007", server=self.local, reason=_describe(exc)))
        finally:
            self._watch_ok = False

    # -- connections ------------------------------------------------------------------

    def _endpoint(self) -> Endpoint:
        return self.settings.endpoints[self._index % len(self.settings.endpoints)]

    async def _connected(self) -> _TlsClient:
        async with self._client_lock:
            if self._client is None:
                self._client = _TlsClient(self._endpoint(), self.settings)
                await self._client.connect()
            return self._client

    async def _rotate(self) -> None:
        """The next endpoint after a failure (a watch there is started afresh)."""
        await self._close()
        self._index += 1

    async def _close(self) -> None:
        task, self._watch_task = self._watch_task, None
        self._watch_ok = False
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, *CALL_ERRORS):
                await task
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.close(), self.settings.timeout)

    async def _bounded(self, call: Awaitable[T]) -> T:
        return await asyncio.wait_for(call, self.settings.timeout)

    def _set_reachable(self, reachable: bool, detail: str) -> None:
        if reachable != self._reachable:
            where = self._endpoint().target
            if reachable:
                log.info(_note("199008", endpoint=where, server=self.local))
            else:
                log.warning(_note("199009", endpoint=where, server=self.local, reason=detail))
        self._reachable = reachable
        if detail:
            self._detail = detail


def _note(code: str, **params: object) -> str:
    return Notice.of(code, **params).text("en")


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "no answer within the timeout"
    return f"{type(exc).__name__}: {exc}"[:200]


async def probe(settings: EtcdSettings, local: str) -> list[dict[str, object]]:
    """``cluster check``: each endpoint answers, and this server may write under the
    prefix (a key on a short lease, put then deleted in transactions). Bounded: each
    call has ``timeout``. Returns one row per endpoint; never raises."""
    rows: list[dict[str, object]] = []
    key = f"{settings.prefix}/check/{local}".encode()
    for endpoint in settings.endpoints:
        row: dict[str, object] = {"endpoint": endpoint.target, "ok": False}
        client = None
        try:
            client = _TlsClient(endpoint, settings)
            await client.connect()
            status = await asyncio.wait_for(client.status(), settings.timeout)
            row["version"] = str(status.version)
            lease = await asyncio.wait_for(client.lease(settings.ttl), settings.timeout)
            tx = client.transactions
            await asyncio.wait_for(
                client.transaction(
                    compare=[], success=[tx.put(key, local.encode(), lease=lease.id)], failure=[]
                ),
                settings.timeout,
            )
            await asyncio.wait_for(
                client.transaction(compare=[], success=[tx.delete(key)], failure=[]),
                settings.timeout,
            )
            await asyncio.wait_for(client.revoke_lease(lease.id), settings.timeout)
            row["ok"] = True
        except CALL_ERRORS as exc:
            row["error"] = _describe(exc)
        except Exception as exc:  # a certificate file that does not parse, and the like
            row["error"] = _describe(exc)
        finally:
            if client is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(client.close(), settings.timeout)
        rows.append(row)
    return rows
