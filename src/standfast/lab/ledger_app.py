"""A stand-in application for cluster tests: records every start and stop it is asked
for in a shared ledger, so a test can prove from outside the cluster where the
application really ran, and when.

usage: ledger_app.py start|stop|check LEDGER SERVER NAME
"""

from __future__ import annotations

import fcntl
import os
import sys
import time
from pathlib import Path


def main() -> int:
    action, ledger, server, name = sys.argv[1:5]
    marker = Path(ledger).with_name(f"{name}.{server}.up")
    if action == "check":
        return 0 if marker.exists() else 1
    if action == "start":
        marker.touch()
    elif action == "stop":
        marker.unlink(missing_ok=True)
    else:
        return 2
    with open(ledger, "a", encoding="utf-8") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        f.write(f"{time.time():.6f} {server} {name} {action}\n")
        f.flush()
        os.fsync(f.fileno())
    return 0


if __name__ == "__main__":
    sys.exit(main())
