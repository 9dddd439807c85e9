"""``standfast cluster rekey``: a new cluster key on every server, without downtime.

The rotation runs three steps, each on this server first and then on every peer over
the peer channel (``rekey_step``, sealed with the keys in use), and only moves to the
next step once every server has done the last one:

1. ``add``: every server accepts the new key, still sealing with the old one;
2. ``use``: every server seals with the new key, still accepting the old ones;
3. ``drop``: after a short pause for messages still in flight, every server keeps only
   the new key.

So at no moment can two servers fail to open each other's heartbeats or frames. Each
step writes the key file (atomically, the sealing key first, see
:mod:`standfast.cluster.keyring`) and swaps the daemon's shared key ring in place.

Contracts:
- Refused with 191020 (nothing changed) unless every server of the cluster is heard.
- ``rotate`` is bounded: each peer step by SF_ACTION_TIMEOUT, the key file write by
  KEY_WRITE_DEADLINE. A failure during ``add`` takes the new key back out where it was
  added (best effort) and raises 191021; a failure later raises 191021 and leaves every
  server accepting every key it had, so the cluster keeps talking, and running the
  command again (or ``finish``) completes it.
- Each step is idempotent on a server: repeating it changes nothing more.
- ``finish`` completes a rotation that stopped half-way, to the key this server seals
  with now. A new rotation is refused with 191024 on a server that already accepts
  two keys (another rotation under way, or one that stopped): two at once could leave
  two servers without a key in common.
- The key itself travels only inside the encrypted peer channel and is never logged
  or returned; messages and the result show fingerprints.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from standfast.cluster.keyring import (
    MIN_KEY_BYTES,
    KeyFileError,
    KeyRing,
    fingerprint,
    load_keys,
    new_key,
    write_keys,
)
from standfast.engine.actions import ActionOutcome, current_log, operator_action
from standfast.messages import Notice, StandfastError

if TYPE_CHECKING:
    from standfast.engine.member import ClusterMember

log = logging.getLogger("standfast.engine")

STEPS = ("add", "use", "drop")
KEY_WRITE_DEADLINE = 10.0
#: Between ``use`` everywhere and ``drop``: a message sealed with the old key just
#: before its sender's ``use`` may still be on the wire.
IN_FLIGHT_PAUSE = 1.0


def next_keys(keys: Sequence[bytes], step: str, new: bytes) -> list[bytes]:
    """The keys a server holds after ``step`` towards ``new`` (pure; ValueError with the
    reason when the step cannot be taken there)."""
    keys = list(keys)
    if step == "add":
        if new in keys:
            return keys
        if len(keys) > 1:
            # Another rotation is under way (or stopped half-way): two at once could
            # leave two servers with no key in common; --finish completes that one.
            raise OverflowError(str(len(keys)))
        return [*keys, new]
    if step == "use":
        if new not in keys:
            raise ValueError("the new key was not added on this server first")
        return [new, *(k for k in keys if k != new)]
    if step == "drop":
        if keys[0] != new:
            raise ValueError("this server does not seal with the new key yet")
        return [new]
    if step == "abort":
        rest = [k for k in keys if k != new]
        return rest or keys
    raise ValueError(f"unknown step {step!r}")


class KeyRotation:
    def __init__(self, member: ClusterMember, ring: KeyRing, path: Path) -> None:
        self.m = member
        self.ring = ring
        self.path = path
        self._lock = asyncio.Lock()
        member.handlers.register("rekey_step", self._peer_step)

    # -- one step on this server ----------------------------------------------------

    async def step_here(self, step: str, new: bytes) -> list[str]:
        """Take ``step`` on this server: write the file, then swap the ring. Returns the
        fingerprints now held. Raises ValueError (the reason) or OverflowError (ring
        full) and changes nothing then."""
        async with self._lock:
            keys = next_keys(self.ring.keys, step, new)
            if keys != list(self.ring.keys):
                await asyncio.wait_for(
                    asyncio.to_thread(write_keys, self.path, keys), KEY_WRITE_DEADLINE
                )
                self.ring.replace(keys)
                n = Notice.of(
                    "191022",
                    server=self.m.core.server,
                    fingerprints=", ".join(self.ring.fingerprints()),
                )
                log.info(n.text("en"), extra={"sf_code": n.code})
            return self.ring.fingerprints()

    async def _peer_step(self, sender: str, params: dict[str, Any]) -> dict[str, Any]:
        step = str(params.get("step", ""))
        try:
            new = base64.b64decode(str(params.get("key", "")), validate=True)
        except (binascii.Error, ValueError):
            raise StandfastError("190206", detail="rekey_step: key is not base64") from None
        if len(new) < MIN_KEY_BYTES:
            raise StandfastError("190206", detail="rekey_step: key too short")
        try:
            return {"fingerprints": await self.step_here(step, new)}
        except OverflowError as exc:
            raise StandfastError("191024", server=self.m.core.server, keys=str(exc)) from None
        except ValueError as exc:
            raise StandfastError("190206", detail=f"rekey_step {step}: {exc}") from None

    def reload(self) -> None:
        """SIGHUP: take the keys from the file again (an operator's own rotation, or
        keys copied by hand); a file that cannot be used keeps the keys in use (191025).
        Synchronous and bounded by the local file read."""
        try:
            keys = load_keys(self.path)
            self.ring.replace(keys)
        except (KeyFileError, ValueError) as exc:
            reason = exc.text if isinstance(exc, KeyFileError) else str(exc)
            n = Notice.of("191025", path=self.path, reason=reason)
            log.error(n.text("en"), extra={"sf_code": n.code})
            return
        n = Notice.of(
            "191022", server=self.m.core.server, fingerprints=", ".join(self.ring.fingerprints())
        )
        log.info(n.text("en"), extra={"sf_code": n.code})

    # -- the whole rotation -------------------------------------------------------------

    @operator_action
    async def rotate(self, new: bytes | None = None, *, finish: bool = False) -> ActionOutcome:
        """The whole rotation (see the module contract); ``new`` defaults to a fresh
        random key, or with ``finish`` to the key this server seals with now."""
        m, alog = self.m, current_log()
        missing = sorted(set(m.servers()) - {m.core.server} - set(m.members.alive()))
        if missing:
            raise StandfastError("191020", servers=", ".join(missing))
        key = self.ring.current if finish else (new or new_key())
        if len(key) < MIN_KEY_BYTES:
            raise StandfastError("191002", path="--key", reason="too short", minimum=32)
        fp = fingerprint(key)
        peers = sorted(set(m.servers()) - {m.core.server})
        alog.line(
            f'rekey: BEGIN change of the cluster key to {fp} on servers "{m.core.server}"'
            + "".join(f', "{p}"' for p in peers)
        )
        done: list[str] = []
        for step in STEPS:
            if step == "drop":
                await asyncio.sleep(IN_FLIGHT_PAUSE)
            for server in [m.core.server, *peers]:
                try:
                    await self._step_on(server, step, key)
                except StandfastError as exc:
                    if step == "add":
                        await self._abort(done, key)
                    raise StandfastError(
                        "191021", step=step, server=server, reason=exc.text("en")
                    ) from None
                if step == "add":
                    done.append(server)
            alog.line(f"rekey: step {step} done on every server")
        alog.line(f"rekey: END successful change of the cluster key to {fp}")
        alog.add("191023", fingerprint=fp)
        m.core.event("rekey", "", f"cluster key {fp}")
        return ActionOutcome(alog.notices, {"fingerprint": fp, "servers": [m.core.server, *peers]})

    async def _step_on(self, server: str, step: str, key: bytes) -> None:
        if server == self.m.core.server:
            try:
                await self.step_here(step, key)
            except OverflowError as exc:
                raise StandfastError("191024", server=server, keys=str(exc)) from None
            except (ValueError, OSError, TimeoutError) as exc:
                raise StandfastError("190206", detail=str(exc) or type(exc).__name__) from None
            return
        params = {"step": step, "key": base64.b64encode(key).decode("ascii")}
        await self.m.ask(server, "rekey_step", params)

    async def _abort(self, servers: Sequence[str], key: bytes) -> None:
        """Take the new key back out where ``add`` put it (best effort)."""
        for server in servers:
            try:
                await self._step_on(server, "abort", key)
            except StandfastError as exc:
                log.warning("rekey: could not take the new key back on %s: %s", server, exc)
