"""Lease-file I/O for the storage witness, run ONLY in a short-lived child process.

:class:`standfast.cluster.storage_witness.StorageWitness` runs :func:`main` in a fresh
interpreter (:func:`standfast.host.children.python_call_argv`, ``python -I -S``, with
the JSON request as its one argument) and kills it after its I/O timeout, so a hung NFS
export blocks this child, never the daemon. It imports nothing but the standard library
and :mod:`standfast.host.atomic` (which imports only the standard library: ``-S``, no
site packages) and prints exactly one JSON line.

Lease record (JSON, written atomically by :func:`standfast.host.atomic.write_atomic`:
temp file in the same directory, fsync, rename, fsync of the directory)::

    {"version": 1, "owner": "server1", "generation": 42, "nonce": "<random hex>",
     "written": <writer's wall clock>, "expires": <written + ttl>, "ttl": <ttl>}

Clock assumption: the servers' wall clocks differ by less than ``max_skew`` seconds
(NTP). A reader treats another server's lease as live until ``expires + max_skew`` on
its own clock. The holder itself counts its lease only until its own monotonic start of
the renewal + ttl (see the parent), which is earlier, so nobody takes a lease that its
holder still counts. ``generation`` rises by one with every write; ``nonce`` identifies
one write, which is how a writer recognises its own record on the re-read.

Taking a lease that is not ours-and-live: read; if free or expired, write our record
(only if the write starts within ``settle / 2`` seconds of the read); wait ``settle``;
re-read. Whoever's record is in the file after the wait has it. Two servers racing: both
read "free" and both rename; the rename that lands last wins, and because each writer
renames within ``settle / 2`` of its read and re-reads ``settle`` after its own
rename, the earlier writer's re-read already sees the later record. (This assumes the
rename itself reaches the server within ``settle / 2``; a write that was stuck for longer
can only make the file show a lease whose holder does not count it, and fencing guards
that corner.) NFS: mount with close-to-open consistency (the default, not ``nocto``) so
each open revalidates the file.

Renewing our own live lease writes the next generation without the settle wait, then
re-reads to confirm nobody replaced it.
"""

from __future__ import annotations

import json
import math
import os
import secrets
import sys
import time
from collections.abc import Sequence

from standfast.host.atomic import write_atomic

LEASE_VERSION = 1
MAX_LEASE_BYTES = 64 * 1024

Record = dict[str, object]


class BadLease(Exception):
    """The lease file exists but does not hold a lease record."""


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    result = float(value)
    return result if math.isfinite(result) else None


def parse_record(data: bytes) -> Record:
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadLease(f"not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise BadLease("not a JSON object")
    owner = doc.get("owner")
    generation = doc.get("generation")
    if not isinstance(owner, str) or not owner:
        raise BadLease("no owner")
    if isinstance(generation, bool) or not isinstance(generation, int) or generation < 0:
        raise BadLease("no generation")
    expires = _number(doc.get("expires"))
    if expires is None:
        raise BadLease("no expiry")
    if not isinstance(doc.get("nonce"), str):
        raise BadLease("no nonce")
    doc["expires"] = expires
    return doc


def read_record(path: str) -> Record | None:
    """The lease record, or None if there is no lease file."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOCTTY)
    except FileNotFoundError:
        return None
    try:
        chunks: list[bytes] = []
        size = 0
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if size > MAX_LEASE_BYTES:
                raise BadLease(f"larger than {MAX_LEASE_BYTES} bytes")
    finally:
        os.close(fd)
    return parse_record(b"".join(chunks))


def write_record(path: str, record: Record) -> None:
    """Write ``record`` to ``path`` atomically (temp file + rename in the same directory)."""
    data = json.dumps(record, sort_keys=True).encode("utf-8") + b"\n"
    write_atomic(path, data, tag=str(record["owner"]))


def _new_record(
    server: str, generation: int, ttl: float, *, expires: float | None = None
) -> Record:
    now = time.time()
    return {
        "version": LEASE_VERSION,
        "owner": server,
        "generation": generation,
        "nonce": secrets.token_hex(8),
        "written": now,
        "expires": now + ttl if expires is None else expires,
        "ttl": ttl,
    }


def _answer(granted: bool, event: str, detail: str, rec: Record | None) -> Record:
    return {
        "ok": True,
        "granted": granted,
        "event": event,
        "detail": detail,
        "owner": None if rec is None else rec["owner"],
        "generation": 0 if rec is None else rec["generation"],
        "expires": None if rec is None else rec["expires"],
    }


def _expires(rec: Record | None) -> float:
    if rec is None:
        return 0.0
    value = rec["expires"]
    assert isinstance(value, float)
    return value


def _generation(rec: Record | None) -> int:
    if rec is None:
        return 0
    value = rec["generation"]
    assert isinstance(value, int)
    return value


def acquire(path: str, server: str, ttl: float, max_skew: float, settle: float) -> Record:
    try:
        rec = read_record(path)
    except BadLease as exc:
        return _answer(False, "bad", f"lease file is not a lease record: {exc}", None)
    read_done = time.monotonic()
    now = time.time()
    expires = _expires(rec)
    if rec is not None and rec["owner"] != server and now <= expires + max_skew:
        return _answer(False, "held", f"held by {rec['owner']} for {expires - now:.1f} s", rec)
    ours_live = rec is not None and rec["owner"] == server and now <= expires
    if not ours_live and time.monotonic() - read_done > settle / 2:
        return _answer(False, "slow", "storage too slow to take the lease safely", rec)
    mine = _new_record(server, _generation(rec) + 1, ttl)
    write_record(path, mine)
    if not ours_live:
        time.sleep(settle)
    try:
        back = read_record(path)
    except BadLease as exc:
        return _answer(False, "bad", f"lease file is not a lease record: {exc}", None)
    if back is not None and back["nonce"] == mine["nonce"]:
        event = "renewed" if ours_live else "taken"
        return _answer(True, event, f"{event} generation {mine['generation']}", back)
    who = "nobody" if back is None else back["owner"]
    return _answer(False, "lost", f"lost the lease to {who}", back)


def release(path: str, server: str, ttl: float) -> Record:
    try:
        rec = read_record(path)
    except BadLease as exc:
        return _answer(False, "bad", f"lease file is not a lease record: {exc}", None)
    if rec is None or rec["owner"] != server:
        return _answer(False, "not_ours", "the lease is not ours", rec)
    mine = _new_record(server, _generation(rec) + 1, ttl, expires=0.0)
    write_record(path, mine)
    return _answer(False, "released", f"released at generation {mine['generation']}", mine)


def inspect(path: str) -> Record:
    try:
        rec = read_record(path)
    except BadLease as exc:
        return _answer(False, "bad", f"lease file is not a lease record: {exc}", None)
    return _answer(False, "read", "read", rec)


def handle(request: Record) -> Record:
    op = request.get("op")
    path = request.get("path")
    server = request.get("server")
    ttl = _number(request.get("ttl"))
    if not isinstance(path, str) or not isinstance(server, str) or ttl is None:
        return {"ok": False, "error": "bad request", "errno": 0}
    try:
        if op == "acquire":
            max_skew = _number(request.get("max_skew")) or 0.0
            settle = _number(request.get("settle")) or 0.0
            return acquire(path, server, ttl, max_skew, settle)
        if op == "release":
            return release(path, server, ttl)
        if op == "read":
            return inspect(path)
    except OSError as exc:
        return {"ok": False, "error": exc.strerror or str(exc), "errno": exc.errno or 0}
    return {"ok": False, "error": f"unknown operation {op!r}", "errno": 0}


def main(args: Sequence[str]) -> int:
    """Handle the JSON request ``args[0]``; print the one-line JSON answer; exit status 0."""
    try:
        request = json.loads(args[0])
    except (IndexError, ValueError):
        request = None
    answer = handle(request) if isinstance(request, dict) else {"ok": False, "error": "usage"}
    sys.stdout.write(json.dumps(answer) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
