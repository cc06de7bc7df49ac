"""The memory engine through the facade, and a bare ``asyncio.Queue`` as its floor.

Both run the worker in this process (the memory engine lives in one process),
so "one worker process" is the benchmark process itself.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from benchmarks.harness import Subject
from lexigram_compat import TaskConfig, TaskRegistry, TasksApp, task, testing

__all__ = ["AsyncioQueueFloor", "MemoryFacade"]

PROBE_TIMEOUT = 10.0

# The benchmark's own registry: the user's default registry stays untouched.
registry = TaskRegistry()

# token -> the future a probe job resolves with its start time.
_probes: dict[int, asyncio.Future[float]] = {}
_tokens = itertools.count()


def _mark_started(token: int) -> None:
    started = time.perf_counter()
    future = _probes.pop(token, None)
    if future is not None and not future.done():
        future.set_result(started)


@task(registry=registry, name="benchmarks.noop")
async def noop() -> None:
    """Does nothing: what is measured is the queue's cost."""


@task(registry=registry, name="benchmarks.probe")
async def probe(token: int) -> None:
    """Records when a job started running."""
    _mark_started(token)


async def _await_probe(enqueue: Callable[[int], Awaitable[None]]) -> float:
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


class MemoryFacade(Subject):
    """``TasksApp`` on the memory engine with its default worker settings."""

    title = "memory (facade)"

    def __init__(self) -> None:
        section = {"backend": {"type": "memory"}, "scheduler": {"enabled": False}}
        config = TaskConfig.from_dict({"tasks": section})
        self.app = TasksApp(config, registry=registry)
        self._logger = logging.getLogger("lexigram_compat")
        self._saved_level = self._logger.level

    async def open(self) -> None:
        # One INFO line per finished job would measure the log handler, not the queue.
        self._logger.setLevel(logging.WARNING)
        await self.app.start()

    async def close(self) -> None:
        await self.app.close()
        self._logger.setLevel(self._saved_level)

    async def enqueue_one(self) -> None:
        (await self.app.queue.enqueue(noop())).unwrap()

    async def enqueue_many(self, count: int) -> None:
        (await self.app.queue.enqueue_many([noop() for _ in range(count)])).unwrap()

    async def drain(self, count: int) -> None:
        before = self.app.events.total("succeeded")
        processed = await testing.drain(self.app)
        succeeded = self.app.events.total("succeeded") - before
        if processed != count or succeeded != count:
            raise RuntimeError(f"drain ran {processed} attempts, {succeeded} succeeded; expected {count}")

    @asynccontextmanager
    async def worker(self) -> AsyncIterator[None]:
        running = asyncio.create_task(self.app.run_worker(scheduler=False))
        await asyncio.sleep(0)  # let run_worker set up its stop event before anything can stop it
        try:
            yield
        finally:
            self.app.stop_worker()
            await running

    async def probe(self) -> float:
        async def enqueue(token: int) -> None:
            (await self.app.queue.enqueue(probe(token))).unwrap()

        return await _await_probe(enqueue)


Job = tuple[Callable[..., Awaitable[None]], tuple[Any, ...]]


async def _noop() -> None:
    pass


async def _probe(token: int) -> None:
    _mark_started(token)


class AsyncioQueueFloor(Subject):
    """The same workload on a bare ``asyncio.Queue`` and one consumer coroutine:
    no serialization, no job records, no retries. What no in-process queue can beat."""

    title = "memory (raw asyncio.Queue floor)"

    def __init__(self) -> None:
        self.queue: asyncio.Queue[Job] = asyncio.Queue()

    async def _consume(self, count: int | None) -> int:
        done = 0
        while count is None or done < count:
            fn, args = await self.queue.get()
            await fn(*args)
            done += 1
        return done

    async def enqueue_one(self) -> None:
        self.queue.put_nowait((_noop, ()))

    async def enqueue_many(self, count: int) -> None:
        for _ in range(count):
            self.queue.put_nowait((_noop, ()))

    async def drain(self, count: int) -> None:
        done = await asyncio.create_task(self._consume(count))
        if done != count or not self.queue.empty():
            raise RuntimeError(f"drain ran {done} jobs, {self.queue.qsize()} left; expected {count}")

    @asynccontextmanager
    async def worker(self) -> AsyncIterator[None]:
        running = asyncio.create_task(self._consume(None))
        try:
            yield
        finally:
            running.cancel()
            await asyncio.gather(running, return_exceptions=True)

    async def probe(self) -> float:
        async def enqueue(token: int) -> None:
            self.queue.put_nowait((_probe, (token,)))

        return await _await_probe(enqueue)


SUBJECTS = {"memory": MemoryFacade, "memory-floor": AsyncioQueueFloor}
"""Found by ``benchmarks.harness.all_subjects``."""
