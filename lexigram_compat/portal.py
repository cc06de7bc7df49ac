"""Running the async API from sync code: the one place sync twins are derived.

An app started with ``start_sync()`` runs its event loop in a daemon thread;
an app started with ``async with`` keeps its caller's loop. Either way a sync
call is submitted to the app's loop and waited for; calling a sync twin from
that loop's own thread would deadlock, so it is refused with a clear error.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

__all__ = ["LoopThread", "call_in_loop"]

T = TypeVar("T")

_LIVENESS_CHECK = 0.1
"""Seconds between checks that the loop a sync call waits on is still open."""


def call_in_loop(loop: asyncio.AbstractEventLoop | None, make: Callable[[], Awaitable[T]]) -> T:
    """Run ``make()`` on ``loop`` from another thread and return its result."""
    if loop is None or loop.is_closed():
        raise RuntimeError(
            "the tasks app is not started; call app.start_sync() (or use 'async with app') first"
        )
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        raise RuntimeError(
            "a *_sync method was called from the app's own event loop; use the async "
            "method with 'await' there"
        )

    async def runner() -> T:
        return await make()

    coro = runner()
    try:
        future = asyncio.run_coroutine_threadsafe(coro, loop)
    except RuntimeError:  # closed since the check above
        coro.close()
        raise _closed_under_call() from None
    # A loop closed before it ran the call (close_sync() in another thread)
    # would leave result() waiting forever. (result(timeout) rather than wait():
    # no waiter object per call.)
    while True:
        try:
            return future.result(timeout=_LIVENESS_CHECK)
        except concurrent.futures.CancelledError:
            # LoopThread.stop() cancels what is left on the loop as it closes it.
            raise _closed_under_call() from None
        except TimeoutError:
            if future.done():
                raise  # the call's own TimeoutError
        if loop.is_closed():
            future.cancel()
            coro.close()
            raise _closed_under_call()


def _closed_under_call() -> RuntimeError:
    return RuntimeError(
        "the tasks app's event loop was closed before this *_sync call completed; "
        "the app is closed (start it again with app.start_sync())"
    )


class LoopThread:
    """An event loop running forever in a daemon thread."""

    def __init__(self, name: str = "lexigram-compat-loop") -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the thread's loop and wait for it."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def stop(self) -> None:
        """Stop the loop and join the thread."""
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        if not self._thread.is_alive():
            # As asyncio.run does: cancel what is left, so nothing (a sync call
            # in another thread) waits on it forever.
            leftover = asyncio.all_tasks(self.loop)
            for task in leftover:
                task.cancel()
            if leftover:
                gathered = asyncio.gather(*leftover, return_exceptions=True)
                for _ in range(3):  # a stray stop() queued earlier ends a run early
                    with contextlib.suppress(RuntimeError):
                        self.loop.run_until_complete(gathered)
                    if gathered.done():
                        break
        self.loop.close()
