"""Runs kit actions off the event loop, each bounded by a deadline.

Kit code blocks (mount, commands, NFS calls) but every blocking call inside it
has its own timeout; the deadline here is the outer bound, so a kit bug can
never stall the loop, heartbeats or the API. A thread that overruns is
abandoned (it cannot be killed) and reported with 190207.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from standfast.messages import StandfastError

T = TypeVar("T")


class ActionRunner:
    def __init__(self, workers: int = 32) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sf-action")

    async def call(self, fn: Callable[[], T], *, deadline: float, action: str, tag: str) -> T:
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._pool, fn)
        try:
            return await asyncio.wait_for(future, timeout=deadline)
        except TimeoutError:
            raise StandfastError(
                "190207", action=action, tag=tag, seconds=f"{deadline:g}"
            ) from None

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
