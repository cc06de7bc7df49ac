"""The memory engine through the facade, and a bare ``asyncio.Queue`` as its floor.

Both run the worker in this process (the memory engine lives in one process),
so "one worker process" is the benchmark process itself.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from benchmarks.harness import Subject
from benchmarks.probes import await_probe, mark_started
from lexigram_compat import TaskConfig, TaskRegistry, TasksApp, task, testing

__all__ = ["AsyncioQueueFloor", "MemoryFacade", "MemoryFacadeNoMetrics"]

# The benchmark's own registry: the user's default registry stays untouched.
registry = TaskRegistry()


@task(registry=registry, name="benchmarks.noop")
async def noop() -> None:
    """Does nothing: what is measured is the queue's cost."""


@task(registry=registry, name="benchmarks.probe")
async def probe(token: int) -> None:
    """Records when a job started running."""
    mark_started(token)


class MemoryFacade(Subject):
    """``TasksApp`` on the memory engine with its default worker settings."""

    title = "memory (facade)"
    metrics = True

    def __init__(self) -> None:
        section = {
            "backend": {"type": "memory"},
            "scheduler": {"enabled": False},
            "observability": {"metrics": self.metrics},
        }
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

        return await await_probe(enqueue)


class MemoryFacadeNoMetrics(MemoryFacade):
    """The same, with ``tasks.observability.metrics: false``: the baseline of the
    metrics' cost (the ``memory`` row counts every job event in Prometheus
    metrics when prometheus-client is installed)."""

    title = "memory (facade, metrics off)"
    metrics = False


Job = tuple[Callable[..., Awaitable[None]], tuple[Any, ...]]


async def _noop() -> None:
    pass


async def _probe(token: int) -> None:
    mark_started(token)


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

        return await await_probe(enqueue)


SUBJECTS = {
    "memory": MemoryFacade,
    "memory-metrics-off": MemoryFacadeNoMetrics,
    "memory-floor": AsyncioQueueFloor,
}
"""Found by ``benchmarks.harness.all_subjects``."""
