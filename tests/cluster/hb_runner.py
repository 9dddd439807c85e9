"""Run one HeartbeatService in a child process (e.g. inside ``ip netns exec``).

Usage: python hb_runner.py CONFIG_JSON

CONFIG_JSON: {"name": str, "key_file": str, "interval": float, "miss_count": int,
"lifetime": float, "paths": [{CommPath fields}, ...]}

Prints JSON lines on stdout: {"type": "ready", ...} once started, then one
{"type": "event", ...} per PathEvent with the full path states. Exits on SIGTERM, on
EOF of stdin, or after ``lifetime`` seconds, whichever comes first.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from typing import Any

from standfast.cluster.auth import load_key
from standfast.cluster.comm_paths import CommPath, PathEvent
from standfast.cluster.heartbeat import HeartbeatService


def emit(doc: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(doc) + "\n")
    sys.stdout.flush()


async def main(config: dict[str, Any]) -> None:
    loop = asyncio.get_running_loop()
    done = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, done.set)
    loop.add_reader(sys.stdin.fileno(), lambda: done.set() if not sys.stdin.read(1) else None)
    service: HeartbeatService

    def on_change(event: PathEvent) -> None:
        emit(
            {
                "type": "event",
                "peer": event.peer,
                "network": event.network,
                "old": event.old_state.value,
                "new": event.new_state.value,
                "peer_alive": event.peer_alive,
                "peer_failed": event.peer_failed,
                "restarted": event.restarted,
                "states": {
                    p: {n: s.value for n, s in nets.items()}
                    for p, nets in service.path_states().items()
                },
            }
        )

    service = HeartbeatService(
        config["name"],
        load_key(config["key_file"]),
        [CommPath(**p) for p in config["paths"]],
        interval=config["interval"],
        miss_count=config["miss_count"],
        on_change=on_change,
    )
    await service.start()
    emit({"type": "ready", "boot_id": service.boot_id})
    try:
        await asyncio.wait_for(done.wait(), timeout=config.get("lifetime", 60.0))
    except TimeoutError:
        pass
    finally:
        await service.stop()
    emit({"type": "stopped", "counters": service.counters()})


if __name__ == "__main__":
    asyncio.run(main(json.loads(sys.argv[1])))
