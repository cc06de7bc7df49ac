"""The soft timeout of an attempt: ``TaskSoftTimeoutError`` raised *inside* the task.

``@task(soft_timeout=s, timeout=h)``: at ``s`` seconds the running task gets
:class:`~lexigram_compat.errors.TaskSoftTimeoutError` where it is, so it can catch
it and clean up; at ``h`` the attempt fails with ``TaskTimeoutError`` as before.
Every engine's worker runs attempts through :func:`~lexigram_compat.worker.execution.execute`,
so the mechanism is the same on every engine:

- **async tasks**: the coroutine runs under :class:`SoftDeadline`, which sits between
  the asyncio task and the coroutine. At the deadline it cancels the asyncio task (the
  only way to wake a task that waits on a future) and, when that cancellation reaches
  it, throws ``TaskSoftTimeoutError`` into the coroutine instead, at its pending
  ``await``. The cancel is taken back (``uncancel``) so ``asyncio.timeout`` and the
  worker see no cancellation; one that arrives with it (the worker stopping) is passed
  on as a ``CancelledError``, so a shutdown stays uncounted.
- **sync tasks** (a thread of the worker's pool): :class:`ThreadDeadline` raises it in
  that thread with CPython's ``PyThreadState_SetAsyncExc`` (what Dramatiq's
  ``TimeLimit`` does). The interpreter checks for it between bytecodes only: a thread
  blocked in a C call (``time.sleep``, a socket read, a database driver's C code) gets
  it when the call returns, maybe after the hard timeout, which fails the attempt on
  time regardless. A lock makes sure it is raised only while this attempt's function
  runs, never in the pool's thread afterwards.

Celery's own soft limit (prefork's ``SIGUSR1``) is not used, also on the Celery engine:
the task runs in the facade's loop or thread pool inside the Celery child, where a
signal handler would interrupt the wrong thread.
"""

from __future__ import annotations

import asyncio
import ctypes
import threading
from collections.abc import Callable, Coroutine, Generator
from typing import Any, TypeVar

from lexigram_compat.errors import TaskSoftTimeoutError

__all__ = ["SoftDeadline", "ThreadDeadline"]

T = TypeVar("T")

# Own prototypes (not ctypes.pythonapi's shared attributes, which other code may set).
_set_async_exc = ctypes.PYFUNCTYPE(ctypes.c_int, ctypes.c_ulong, ctypes.py_object)(
    ("PyThreadState_SetAsyncExc", ctypes.pythonapi)
)
_clear_async_exc = ctypes.PYFUNCTYPE(ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p)(
    ("PyThreadState_SetAsyncExc", ctypes.pythonapi)
)


class SoftDeadline:
    """``await SoftDeadline(coro, seconds)``: run ``coro``; at ``seconds`` throw
    ``TaskSoftTimeoutError`` into it at its pending ``await`` (once)."""

    def __init__(self, coro: Coroutine[Any, Any, T], seconds: float) -> None:
        self._coro = coro
        self._seconds = seconds
        self._task: asyncio.Task[Any] | None = None
        self._pending = False
        self._cancelling = 0

    def _fire(self) -> None:
        task = self._task
        if task is None or task.done():
            return
        self._pending = True
        task.cancel()

    def _converted(self, exc: BaseException) -> BaseException:
        """What to throw into the coroutine for ``exc``, thrown into this awaitable."""
        if not (self._pending and isinstance(exc, asyncio.CancelledError)):
            return exc
        self._pending = False
        assert self._task is not None
        if self._task.uncancel() > self._cancelling:
            return exc  # someone else cancelled too (the worker stopping): theirs wins
        return TaskSoftTimeoutError(
            f"the attempt ran past its soft timeout of {self._seconds:g}s (raised inside the task)"
        )

    def __await__(self) -> Generator[Any, None, Any]:
        # A trampoline, as asyncio.Task drives a coroutine: every value the coroutine
        # yields goes to the task, every value or exception the task sends comes back
        # through here, so the soft deadline's cancellation can be turned into the
        # exception the task code expects, at the await where it is.
        self._task = task = asyncio.current_task()
        # As asyncio.timeout does: cancels requested after this point and still counted
        # when ours arrives were not only ours (the worker stopping): they win.
        self._cancelling = task.cancelling() if task is not None else 0
        timer = asyncio.get_running_loop().call_later(self._seconds, self._fire)
        coro = self._coro
        send: Any = None
        throw: BaseException | None = None
        try:
            while True:
                try:
                    if throw is not None:
                        error, throw = throw, None
                        yielded = coro.throw(error)
                    else:
                        yielded = coro.send(send)
                except StopIteration as stop:
                    return stop.value
                send = None
                try:
                    send = yield yielded
                except GeneratorExit:
                    coro.close()
                    raise
                except BaseException as exc:
                    throw = self._converted(exc)
        finally:
            # Once fired, the cancellation reaches the task at its next step, which is
            # always here (the task is suspended nowhere else while the timer is armed).
            timer.cancel()


class ThreadDeadline:
    """The soft deadline of a sync task: :meth:`run` the function in the pool's
    thread, :meth:`fire` (on the event loop) raises ``TaskSoftTimeoutError`` in that
    thread while the function still runs."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._thread: int | None = None
        self._fired = False

    def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        with self._lock:
            self._thread = threading.get_ident()
        try:
            return fn(*args, **kwargs)
        finally:
            with self._lock:
                thread, self._thread = self._thread, None
                if self._fired and thread is not None:
                    # Not raised yet (the function was in a C call, or just returned):
                    # it must not surface in the pool's thread after this attempt.
                    _clear_async_exc(thread, None)

    def fire(self) -> None:
        with self._lock:
            if self._thread is not None and not self._fired:
                self._fired = True
                _set_async_exc(self._thread, TaskSoftTimeoutError)
