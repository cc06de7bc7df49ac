"""Pool threads handing their attempts to the worker process's event loop.

Every attempt of a ``celery worker`` runs on the process's one loop while the
pool thread that Celery gave it waits (:mod:`.runtime`). ``asyncio``'s
``run_coroutine_threadsafe`` does that hop with a ``concurrent.futures.Future``
chained to the task (callbacks both ways, a condition variable to wake the
waiter) and one wake-up of the loop per call. Here the thread leaves its
coroutine in an inbox and waits on a lock of its own, which the task's done
callback releases; the loop is woken once for all the coroutines left before
it looks (a RabbitMQ worker's deliveries arrive together): the same hop with
about half the work per job.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections import deque
from collections.abc import Coroutine
from typing import Any, Generic, TypeVar

__all__ = ["Handoff", "LoopInbox"]

T = TypeVar("T")


class Handoff(Generic[T]):
    """One coroutine handed to the loop, and the lock its thread waits on."""

    __slots__ = ("_done", "_task", "coro")

    def __init__(self, coro: Coroutine[Any, Any, T]) -> None:
        self.coro = coro
        self._task: asyncio.Task[T] | None = None
        self._done = threading.Lock()
        self._done.acquire()

    def begin(self, loop: asyncio.AbstractEventLoop) -> None:
        """On the loop: run the coroutine as a task."""
        task = loop.create_task(self.coro)
        self._task = task
        task.add_done_callback(self._finished)

    def _finished(self, _: asyncio.Task[T]) -> None:
        self._done.release()

    def result(self) -> T:
        """Wait for the task and return its result (raise its exception). A task
        cancelled on the loop (the loop stopping) raises
        ``concurrent.futures.CancelledError``, as ``run_coroutine_threadsafe``'s
        future does."""
        self._done.acquire()
        task = self._task
        assert task is not None
        if task.cancelled():
            raise concurrent.futures.CancelledError()
        return task.result()


class LoopInbox:
    """Hands coroutines from other threads to ``loop`` (see the module docstring)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._inbox: deque[Handoff[Any]] = deque()
        self._scheduled = False

    def submit(self, coro: Coroutine[Any, Any, T]) -> Handoff[T]:
        """Hand ``coro`` to the loop; wait with :meth:`Handoff.result`."""
        handoff = Handoff(coro)
        self._inbox.append(handoff)
        if not self._scheduled:
            # Checked after the append: a drain that already cleared the flag either
            # takes this coroutine or is followed by the one scheduled here.
            self._scheduled = True
            try:
                self.loop.call_soon_threadsafe(self._drain)
            except RuntimeError:  # the loop is closed
                self._scheduled = False
                self._inbox.remove(handoff)
                coro.close()
                raise
        return handoff

    def _drain(self) -> None:
        self._scheduled = False
        inbox, loop = self._inbox, self.loop
        while inbox:
            inbox.popleft().begin(loop)
