"""The hop from a Dramatiq worker thread to the app's event loop and back
(:func:`~lexigram_compat.adapters.dramatiq.actors.run_on_loop`): the coroutine's
result or error comes back to the thread, and an ``Interrupt`` raised into the
waiting thread cancels the coroutine and waits for it to end."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Iterator

import pytest
from dramatiq.asyncio import EventLoopThread
from dramatiq.middleware import Interrupt
from dramatiq.middleware.threading import raise_thread_exception

from lexigram_compat.adapters.dramatiq.actors import run_on_loop


@pytest.fixture
def loop_thread() -> Iterator[EventLoopThread]:
    thread = EventLoopThread(logging.getLogger("test-hop"), interrupt_check_ival=0.05)
    thread.start()
    yield thread
    thread.stop()  # type: ignore[no-untyped-call]


async def _double(value: int) -> int:
    await asyncio.sleep(0)
    return value * 2


async def _fail() -> None:
    raise KeyError("boom")


def test_the_result_comes_back_to_the_thread(loop_thread: EventLoopThread) -> None:
    assert [run_on_loop(loop_thread, _double(n)) for n in range(3)] == [0, 2, 4]


def test_an_error_comes_back_to_the_thread(loop_thread: EventLoopThread) -> None:
    with pytest.raises(KeyError, match="boom"):
        run_on_loop(loop_thread, _fail())


def test_an_interrupt_cancels_the_coroutine_and_waits_for_its_cleanup(loop_thread: EventLoopThread) -> None:
    steps: list[str] = []
    raised: list[BaseException] = []

    async def long() -> None:
        steps.append("started")
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            await asyncio.sleep(0.05)  # its cleanup runs before the thread goes on
            steps.append("cleaned up")
            raise

    def worker() -> None:
        try:
            run_on_loop(loop_thread, long())
        except Interrupt as exc:
            raised.append(exc)

    thread = threading.Thread(target=worker)
    thread.start()
    deadline = time.monotonic() + 5
    while not steps and time.monotonic() < deadline:
        time.sleep(0.01)
    assert thread.ident is not None
    raise_thread_exception(thread.ident, Interrupt)  # type: ignore[no-untyped-call]
    thread.join(timeout=5)
    assert steps == ["started", "cleaned up"]
    assert len(raised) == 1
