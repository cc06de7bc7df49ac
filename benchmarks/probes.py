"""Latency probes for subjects whose worker runs in the benchmark's own process.

A probe job calls :func:`mark_started` with its token as its first line;
:func:`await_probe` enqueues one and returns the seconds from just before the
enqueue call to that line (``time.perf_counter``, one process).
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable

__all__ = ["PROBE_TIMEOUT", "await_probe", "mark_started"]

PROBE_TIMEOUT = 10.0

# token -> the future a probe job resolves with its start time.
_probes: dict[int, asyncio.Future[float]] = {}
_tokens = itertools.count()


def mark_started(token: int) -> None:
    """Called by the probe job: record when it started."""
    started = time.perf_counter()
    future = _probes.pop(token, None)
    if future is not None and not future.done():
        future.set_result(started)


async def await_probe(enqueue: Callable[[int], Awaitable[None]]) -> float:
    """Enqueue a probe with ``enqueue(token)`` and wait until it has started."""
    token = next(_tokens)
    future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
    _probes[token] = future
    try:
        before = time.perf_counter()
        await enqueue(token)
        async with asyncio.timeout(PROBE_TIMEOUT):
            started = await future
    finally:
        _probes.pop(token, None)
    return started - before
