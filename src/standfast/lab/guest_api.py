#!/usr/bin/python3
"""Ask a Standfast daemon's API over its Unix socket: standard library only.

The lab runs this inside its guests with Debian's ``/usr/bin/python3 -I`` to poll
states quickly (a guest imports the full CLI in about 3 s, this in well under 1 s).

usage: guest_api.py METHOD PATH [SOCKET] [TIMEOUT]   (a JSON body on stdin for POST)

Prints one JSON object ``{"status": HTTP status, "body": decoded body, "seconds": time
from connect to the last byte of the answer, "sent_at": the guest's wall clock just
before connecting}`` (the daemon's own latency, without this interpreter's start or the
lab's control channel; ``sent_at`` lets a benchmark time from the request itself);
exits 0 when the daemon answered (whatever the status), 2 when it could not be reached.
"""

from __future__ import annotations

import http.client
import json
import socket
import sys
import time

DEFAULT_SOCKET = "/run/standfast/standfast.sock"


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("standfast", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self._path)
        self.sock = sock


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 64
    method, path = argv[0].upper(), argv[1]
    sock_path = argv[2] if len(argv) > 2 else DEFAULT_SOCKET
    timeout = float(argv[3]) if len(argv) > 3 else 10.0
    body = sys.stdin.read() if method != "GET" else None
    conn = _UnixConnection(sock_path, timeout)
    sent_at = time.time()
    started = time.monotonic()
    try:
        headers = {"Content-Type": "application/json"} if body else {}
        conn.request(method, path, body=body or None, headers=headers)
        resp = conn.getresponse()
        raw = resp.read()
        seconds = time.monotonic() - started
    except OSError as exc:
        print(json.dumps({"status": None, "error": str(exc)}))
        return 2
    finally:
        conn.close()
    try:
        decoded: object = json.loads(raw)
    except ValueError:
        decoded = raw.decode("utf-8", errors="replace")
    reply = {
        "status": resp.status,
        "body": decoded,
        "seconds": round(seconds, 4),
        "sent_at": sent_at,
    }
    print(json.dumps(reply))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
