"""The storage witness: a lease file on the shared export that gives its holder the
witness vote (protocol in :mod:`standfast.cluster.lease_io`).

Every file operation runs in a fresh child process that is SIGKILLed after
``io_timeout``: a hung NFS server yields ``WitnessView(reachable=False)`` in bounded
time and never blocks a daemon thread; a child that survives SIGKILL (D state) is
abandoned to the one registry of ``host.children`` and reaped later.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from standfast.cluster import lease_io
from standfast.cluster.quorum import WitnessView, valid_server_name
from standfast.host import children
from standfast.host.children import STDOUT, Child, python_call_argv
from standfast.messages.quorum_codes import (
    LEASE_FILE_BAD,
    LEASE_HELD_BY_OTHER,
    LEASE_HUNG,
    LEASE_LOST,
    LEASE_RELEASED,
    LEASE_TAKEN,
)

log = logging.getLogger("standfast.cluster.witness")

#: Bound on the wait for a killed lease child to die before it is abandoned.
KILL_WAIT = 0.5
#: Name of the lease children in the abandoned-children registry.
OWNER = "lease"


def reap_abandoned() -> list[int]:
    """Reap lease children that survived SIGKILL (D state) and died since; pids left."""
    return children.reap_abandoned(OWNER)


@dataclass(frozen=True, slots=True)
class LeaseAnswer:
    """One lease-child run: ``answer`` is its JSON reply, None if it gave none."""

    answer: dict[str, object] | None
    timed_out: bool
    detail: str
    elapsed: float


def run_lease_child(request: dict[str, object], io_timeout: float) -> LeaseAnswer:
    """Run :func:`lease_io.main` in a fresh child; SIGKILL its group after ``io_timeout``.

    Returns within ``io_timeout + KILL_WAIT`` (plus a poll period); a child that
    survives SIGKILL (a hung NFS call) is abandoned to the registry.
    """
    started = time.monotonic()
    try:
        child = Child(
            python_call_argv(lease_io.__name__, "main", json.dumps(request)),
            owner=OWNER,
            stderr=STDOUT,
            cwd="/",
            output_cap=2 * lease_io.MAX_LEASE_BYTES,
            kill_wait=KILL_WAIT,
        )
    except OSError as exc:
        return LeaseAnswer(None, False, f"cannot start the lease child: {exc}", 0.0)
    with child:
        timed_out = not child.read_to_eof(started + io_timeout)
        if timed_out:
            child.kill()
        else:
            child.reap()
    elapsed = time.monotonic() - started
    if timed_out:
        return LeaseAnswer(None, True, f"no answer within {io_timeout:g} s", elapsed)
    for line in reversed(child.stdout.text().splitlines()):
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        if isinstance(doc, dict):
            return LeaseAnswer(doc, False, "answered", elapsed)
    tail = bytes(child.stdout.data[-300:]).decode("utf-8", "replace").strip()
    return LeaseAnswer(None, False, f"lease child failed: {tail or 'no output'}", elapsed)


class StorageWitness:
    """The lease file on the shared export that gives its holder the witness vote.

    ``renew_or_acquire`` is called once per check interval by the server that wants the
    vote; keep ``check_interval + 2 * io_timeout <= ttl``
    (:func:`standfast.cluster.quorum.validate_timing`). ``max_skew`` is the largest
    wall-clock difference between servers (see :mod:`standfast.cluster.lease_io`);
    ``settle`` the wait between taking the lease and confirming it (default
    ``io_timeout / 4``, at most 1 s).
    """

    def __init__(
        self,
        path: Path,
        server: str,
        ttl: float,
        io_timeout: float,
        *,
        max_skew: float = 1.0,
        settle: float | None = None,
    ) -> None:
        if not valid_server_name(server):
            raise ValueError(f"server name {server!r} is not valid")
        if not Path(path).is_absolute():
            raise ValueError(f"lease path {path} is not absolute")
        for name, value in (("ttl", ttl), ("io_timeout", io_timeout), ("max_skew", max_skew)):
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number of seconds")
        if io_timeout <= 0 or ttl < 2 * io_timeout:
            raise ValueError("io_timeout must be positive and ttl at least 2 x io_timeout")
        self.path = Path(path)
        self.server = server
        self.ttl = ttl
        self.io_timeout = io_timeout
        self.max_skew = max_skew
        self.settle = min(1.0, io_timeout / 4) if settle is None else settle
        if not (0 <= self.settle < io_timeout / 2):
            raise ValueError("settle must be zero or more and less than io_timeout / 2")
        self._lock = threading.Lock()
        self._held = False
        self._reachable = True
        self.generation = 0

    def _request(self, op: str) -> dict[str, object]:
        return {
            "op": op,
            "path": str(self.path),
            "server": self.server,
            "ttl": self.ttl,
            "max_skew": self.max_skew,
            "settle": self.settle,
        }

    def _run(self, op: str) -> tuple[WitnessView, dict[str, object] | None]:
        started = time.monotonic()
        if not self._lock.acquire(timeout=self.io_timeout + KILL_WAIT):
            return WitnessView(False, False, "another lease operation is still running"), None
        try:
            result = run_lease_child(self._request(op), self.io_timeout)
        finally:
            self._lock.release()
        answer = result.answer
        if answer is None:
            if result.timed_out:
                log.warning(
                    "%s: storage lease %s did not answer within %g seconds",
                    LEASE_HUNG,
                    self.path,
                    self.io_timeout,
                )
            return WitnessView(False, False, f"lease {self.path}: {result.detail}"), None
        if answer.get("ok") is not True:
            reason = f"{answer.get('error')} (errno {answer.get('errno')})"
            log.warning(
                "%s: storage lease file %s cannot be used: %s", LEASE_FILE_BAD, self.path, reason
            )
            return WitnessView(False, False, f"lease {self.path}: {reason}"), answer
        owner = answer.get("owner")
        holder = (owner,) if isinstance(owner, str) else ()
        generation = answer.get("generation")
        if isinstance(generation, int):
            self.generation = generation
        granted = answer.get("granted") is True
        detail = str(answer.get("detail", ""))
        if answer.get("event") == "bad":
            log.error(
                "%s: storage lease file %s cannot be used: %s", LEASE_FILE_BAD, self.path, detail
            )
        valid_until = started + self.ttl if granted else None
        return WitnessView(True, granted, detail, holder, valid_until), answer

    def renew_or_acquire(self) -> WitnessView:
        """Renew our lease, or take it if free or expired; never blocks past io_timeout.

        Returns within ``io_timeout`` plus a small bound for killing the child
        (``KILL_WAIT``). ``granted`` means this server holds the lease until
        ``valid_until``.
        """
        view, _answer = self._run("acquire")
        if view.granted and not self._held:
            log.info(
                "%s: server %s took the storage lease %s (generation %d)",
                LEASE_TAKEN,
                self.server,
                self.path,
                self.generation,
            )
        elif self._held and not view.granted:
            if view.reachable:
                log.error(
                    "%s: server %s lost the storage lease %s to %s",
                    LEASE_LOST,
                    self.server,
                    self.path,
                    ", ".join(view.holder) or "nobody",
                )
        elif not view.granted and view.reachable and view.holder and not self._held:
            log.debug(
                "%s: storage lease %s is held by %s", LEASE_HELD_BY_OTHER, self.path, view.holder[0]
            )
        self._held = view.granted
        return view

    def release(self) -> WitnessView:
        """Give the lease up now (clean shutdown), so another server need not wait."""
        view, answer = self._run("release")
        if answer is not None and answer.get("event") == "released":
            log.info(
                "%s: server %s released the storage lease %s",
                LEASE_RELEASED,
                self.server,
                self.path,
            )
            self._held = False
        return view

    def read(self) -> WitnessView:
        """Who holds the lease (for status displays); ``granted`` is always False."""
        view, _answer = self._run("read")
        return view

    async def renew_or_acquire_async(self) -> WitnessView:
        return await asyncio.to_thread(self.renew_or_acquire)


# --------------------------------------------------------------------------- command
