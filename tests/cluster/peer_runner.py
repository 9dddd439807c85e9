"""Run one PeerServer in a child process (so a test can SIGSTOP it).

Usage: python peer_runner.py CONFIG_JSON

CONFIG_JSON: {"name": str, "cluster": str, "key_hex": str, "listen": [[host, port], ...],
"lifetime": float}

Methods: ``echo`` returns its params. Prints one JSON line {"type": "ready", "listen":
[[host, port], ...]} once listening. Exits on SIGTERM, on EOF of stdin, or after
``lifetime`` seconds, whichever comes first.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from typing import Any

from standfast.cluster.peer import PeerServer


async def handler(sender: str, method: str, params: dict[str, Any]) -> dict[str, Any]:
    if method == "echo":
        return {"sender": sender, "params": params}
    raise ValueError(f"unknown method {method}")


async def main(config: dict[str, Any]) -> None:
    loop = asyncio.get_running_loop()
    done = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, done.set)
    loop.add_reader(sys.stdin.fileno(), lambda: done.set() if not sys.stdin.read(1) else None)
    server = PeerServer(
        config["name"],
        config["cluster"],
        bytes.fromhex(config["key_hex"]),
        [(h, p) for h, p in config["listen"]],
        handler,
    )
    await server.start()
    sys.stdout.write(json.dumps({"type": "ready", "listen": server.addresses}) + "\n")
    sys.stdout.flush()
    try:
        await asyncio.wait_for(done.wait(), timeout=config.get("lifetime", 60.0))
    except TimeoutError:
        pass
    finally:
        await server.stop()


if __name__ == "__main__":
    asyncio.run(main(json.loads(sys.argv[1])))
