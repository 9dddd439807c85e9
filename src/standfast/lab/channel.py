"""The host end of a guest's control port: one connection, one reader, many requests.

Each lab guest serves newline-delimited JSON requests on virtio-serial ports (see
:mod:`standfast.lab.agent`); qemu exposes each port on the host as a UNIX socket
(a ``socket,server=on`` chardev).  qemu takes one client per socket at a time and
leaves later ones waiting in the listen queue, so a guest has several ports and
each process takes one of its own, claimed by an ``flock`` on ``SOCKET.lock``
(released when the process ends, however it ends).

:class:`ControlChannel` keeps one connection open and lets many threads use it:

* the socket stays blocking and has **no timeout**: one reader thread frames the
  stream into lines and hands each reply to the request with its id.  (A socket
  timeout set for one request would also end the reader's ``recv`` when the guest
  is quiet that long, and with it every other request in flight: that was the lab's
  ``control connection lost: timed out``);
* a request's deadline is its wait for its own reply; a late reply is dropped;
* a send is bounded by ``poll`` for room and non-blocking writes under a lock, so
  lines never interleave;
* a connection that closes, cannot take a whole line in time, or stays silent
  through the whole deadline of the last request waiting on it is dropped; the
  next request opens a new one.

*alive* (the qemu process still runs) is checked while connecting and waiting, so
a request to a guest whose qemu is gone fails within a second, not at its deadline.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import select
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

#: How often a waiting request checks that qemu still runs.
ALIVE_POLL = 0.5
#: Longest line the reader keeps (a reply carries at most 2 x 1 MiB of output).
MAX_LINE = 8 << 20


class GuestError(RuntimeError):
    """A guest could not be started or driven."""


class AgentTimeout(GuestError):
    """The agent did not answer in time."""


class GuestGone(GuestError):
    """The guest's qemu process is not running."""


class _Pending:
    def __init__(self) -> None:
        self.event = threading.Event()
        self.reply: dict[str, Any] | None = None
        self.error: GuestError | None = None


class _Connection:
    """One open socket, its reader thread and the requests waiting on it."""

    def __init__(self, sock: socket.socket, on_end: Callable[[_Connection], None]) -> None:
        self.sock = sock
        self.send_lock = threading.Lock()
        self.lock = threading.Lock()
        self.pending: dict[str, _Pending] = {}
        self.closed = False
        #: monotonic time of the last bytes received (for the silence rule).
        self.last_rx = time.monotonic()
        self._on_end = on_end
        self._reader = threading.Thread(target=self._read, name="lab-ctl-reader", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        buf = bytearray()
        error = GuestError("control connection closed by the guest's qemu")
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    break
                self.last_rx = time.monotonic()
                buf += chunk
                while (nl := buf.find(b"\n")) >= 0:
                    line = bytes(buf[:nl])
                    del buf[: nl + 1]
                    self._deliver(line)
                if len(buf) > MAX_LINE:
                    buf.clear()  # not a reply of ours: drop it, keep framing on newlines
        except OSError as exc:
            if not self.closed:
                error = GuestError(f"control connection lost: {exc}")
        self.close(error)

    def _deliver(self, line: bytes) -> None:
        try:
            msg = json.loads(line)
        except ValueError:
            return  # the tail of a reply meant for a former client
        if not isinstance(msg, dict):
            return
        with self.lock:
            pending = self.pending.pop(str(msg.get("id")), None)
        if pending is not None:
            pending.reply = msg
            pending.event.set()

    def send(self, data: bytes, deadline: float) -> None:
        """Write all of *data* by *deadline*, or close the connection and raise."""
        with self.send_lock:
            view = memoryview(data)
            poller = select.poll()
            poller.register(self.sock, select.POLLOUT)
            while view:
                left = deadline - time.monotonic()
                if left <= 0 or self.closed:
                    # Part of a line may be out: only a new connection frames cleanly.
                    self.close(GuestError("control connection dropped: the guest did not read"))
                    raise AgentTimeout("the guest's agent is not reading its control port")
                if not poller.poll(min(left, ALIVE_POLL) * 1000):
                    continue
                try:
                    n = self.sock.send(view, socket.MSG_DONTWAIT)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError as exc:
                    self.close(GuestError(f"control connection lost: {exc}"))
                    raise GuestError(f"cannot send to the agent: {exc}") from exc
                view = view[n:]

    def close(self, error: GuestError | None = None) -> None:
        """Close once; every request still waiting fails with *error*."""
        with self.lock:
            if self.closed:
                return
            self.closed = True
            waiting = list(self.pending.values())
            self.pending.clear()
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        for p in waiting:
            p.error = error or GuestError("control connection closed")
            p.event.set()
        self._on_end(self)


class ControlChannel:
    """A guest's control ports seen from one process (see the module docstring).

    *paths*: the host sockets of the guest's ports, in order of preference.
    *alive*: returns False once the guest's qemu is gone.  Thread-safe.
    """

    def __init__(
        self, paths: Path | Sequence[Path], alive: Callable[[], bool] | None = None
    ) -> None:
        self.paths = [paths] if isinstance(paths, Path) else list(paths)
        self.alive = alive or (lambda: True)
        self._lock = threading.Lock()
        self._conn: _Connection | None = None
        self._claim: tuple[Path, IO[str]] | None = None

    @property
    def path(self) -> Path:
        """The socket in use (or the first one)."""
        return self._claim[0] if self._claim is not None else self.paths[0]

    def _check_alive(self) -> None:
        if not self.alive():
            raise GuestGone("its qemu process is not running")

    def _claim_port(self, deadline: float) -> Path:
        """A port no other process holds (flock on SOCKET.lock), kept until close()."""
        if self._claim is not None:
            return self._claim[0]
        while True:
            for path in self.paths:
                lock = open(path.with_name(path.name + ".lock"), "a+")  # noqa: SIM115
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    lock.close()
                    continue
                self._claim = (path, lock)
                return path
            self._check_alive()
            if time.monotonic() >= deadline:
                raise AgentTimeout(
                    f"all {len(self.paths)} control ports of this guest are held by other processes"
                )
            time.sleep(0.2)

    def _connect(self, deadline: float) -> _Connection:
        with self._lock:
            if self._conn is not None and not self._conn.closed:
                return self._conn
            path = self._claim_port(deadline)
            while True:
                self._check_alive()
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.settimeout(max(0.1, min(2.0, deadline - time.monotonic())))
                try:
                    sock.connect(str(path))
                    break
                except OSError as exc:
                    sock.close()
                    if time.monotonic() >= deadline:
                        raise GuestError(f"cannot connect to {path}: {exc}") from exc
                    time.sleep(0.1)
            sock.settimeout(None)  # blocking for good: deadlines are the requests'
            conn = _Connection(sock, self._ended)
            # A newline before any request: the agent drops a partial line a former
            # client left (sent before other threads can see the connection).
            conn.send(b"\n", deadline)
            self._conn = conn
            return conn

    def _ended(self, conn: _Connection) -> None:
        with self._lock:
            if self._conn is conn:
                self._conn = None

    def request(self, message: Mapping[str, Any], timeout: float) -> dict[str, Any]:
        """Send one request and wait up to *timeout* s for its reply.

        Raises :class:`GuestGone` at once when qemu is not running (or stops while
        waiting), :class:`AgentTimeout` when no reply comes in time, GuestError when
        the connection breaks or the agent reports an error.
        """
        deadline = time.monotonic() + timeout
        self._check_alive()
        conn = self._connect(deadline)
        rid = uuid.uuid4().hex
        pending = _Pending()
        with conn.lock:
            if conn.closed:
                raise GuestError("control connection closed")
            conn.pending[rid] = pending
        sent_at = time.monotonic()
        try:
            conn.send((json.dumps({**message, "id": rid}) + "\n").encode(), deadline)
            self._wait(pending, deadline)
        finally:
            with conn.lock:
                conn.pending.pop(rid, None)
        if pending.error is not None:
            raise pending.error
        if pending.reply is None:
            with conn.lock:
                others = bool(conn.pending)
            if conn.last_rx < sent_at and not others:
                # Not a byte from the guest during the whole wait and nobody else
                # waiting: presume the connection dead; the next request opens a new
                # one.  (With others waiting, the last of them to time out decides.)
                conn.close(GuestError("control connection silent: reconnecting"))
            raise AgentTimeout(f"no reply from the agent on {self.path} within {timeout:.1f} s")
        reply = pending.reply
        if "error" in reply and "returncode" not in reply and "ok" not in reply:
            raise GuestError(f"agent error: {reply['error']}")
        return reply

    def _wait(self, pending: _Pending, deadline: float) -> None:
        while not pending.event.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            if pending.event.wait(min(left, ALIVE_POLL)):
                return
            self._check_alive()

    def close(self) -> None:
        """Drop the connection and the port claim (the guest keeps running)."""
        with self._lock:
            conn, self._conn = self._conn, None
            claim, self._claim = self._claim, None
        if conn is not None:
            conn.close(GuestError("control connection closed"))
        if claim is not None:
            claim[1].close()


__all__ = ["AgentTimeout", "ControlChannel", "GuestError", "GuestGone"]
