"""Pool threads handing attempts to the worker's loop (``adapters/celery/handoff.py``):
results and errors come back to the thread that handed the coroutine, and the loop is
woken once for the coroutines handed before it looked."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Iterator

import pytest

from lexigram_compat.adapters.celery.handoff import LoopInbox
from lexigram_compat.portal import LoopThread


@pytest.fixture
def loop_thread() -> Iterator[LoopThread]:
    thread = LoopThread(name="test-handoff")
    yield thread
    thread.stop()


async def double(value: int) -> int:
    await asyncio.sleep(0)
    return value * 2


async def fail() -> None:
    raise KeyError("boom")


def test_each_thread_gets_its_own_result(loop_thread: LoopThread) -> None:
    inbox = LoopInbox(loop_thread.loop)
    results: dict[int, list[int]] = {}

    def work(n: int) -> None:
        results[n] = [inbox.submit(double(n * 100 + i)).result() for i in range(200)]

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert results == {n: [(n * 100 + i) * 2 for i in range(200)] for n in range(8)}


def test_an_error_is_raised_in_the_waiting_thread(loop_thread: LoopThread) -> None:
    inbox = LoopInbox(loop_thread.loop)
    with pytest.raises(KeyError, match="boom"):
        inbox.submit(fail()).result()


def test_coroutines_handed_together_share_one_wake_up(loop_thread: LoopThread) -> None:
    inbox = LoopInbox(loop_thread.loop)
    wakeups: list[int] = []
    original = inbox._drain

    def counted() -> None:
        wakeups.append(len(inbox._inbox))
        original()

    inbox._drain = counted  # type: ignore[method-assign]
    blocker = threading.Event()
    # Hold the loop so that the next three hand-offs are all waiting when it looks.
    loop_thread.loop.call_soon_threadsafe(blocker.wait)
    handoffs = [inbox.submit(double(n)) for n in range(3)]
    blocker.set()
    assert [h.result() for h in handoffs] == [0, 2, 4]
    assert wakeups == [3]


def test_a_cancelled_attempt_raises_as_a_cancelled_future(loop_thread: LoopThread) -> None:
    inbox = LoopInbox(loop_thread.loop)
    handoff = inbox.submit(asyncio.sleep(30))

    def cancel_all() -> None:
        for task in asyncio.all_tasks(loop_thread.loop):
            task.cancel()

    loop_thread.loop.call_soon_threadsafe(cancel_all)
    with pytest.raises(concurrent.futures.CancelledError):
        handoff.result()


def test_a_closed_loop_is_refused_and_the_coroutine_closed() -> None:
    thread = LoopThread(name="test-handoff-closed")
    inbox = LoopInbox(thread.loop)
    thread.stop()
    coro = double(1)
    with pytest.raises(RuntimeError):
        inbox.submit(coro)
    assert coro.cr_frame is None  # closed: no "never awaited" warning
