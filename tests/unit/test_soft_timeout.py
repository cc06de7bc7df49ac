"""The soft timeout mechanism of ``execute`` (every engine's worker runs attempts
through it): what arrives where and when, how it tells itself from a worker's
shutdown, and the documented limit of sync tasks (a blocking C call)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from lexigram_compat import RetryPolicy, TaskRegistry, TaskSoftTimeoutError, TaskTimeoutError, task
from lexigram_compat.envelope import JobEnvelope
from lexigram_compat.outcomes import Completed, DeadLettered, RetryLater
from lexigram_compat.worker.execution import ExecutionContext, execute

SOFT = 0.2


@pytest.fixture
def executor() -> Iterator[ThreadPoolExecutor]:
    pool = ThreadPoolExecutor(1, thread_name_prefix="soft-timeout-test")
    yield pool
    pool.shutdown(wait=True)


def _context(registry: TaskRegistry, executor: ThreadPoolExecutor) -> ExecutionContext:
    policy = RetryPolicy(max_attempts=2, base_delay=0.01, jitter=False)
    return ExecutionContext(registry, None, policy, default_timeout=30.0, executor=executor)


def _attempt(name: str, *args: Any) -> JobEnvelope:
    return JobEnvelope("job-1", name, "default", list(args), max_attempts=2).next_attempt()


async def test_an_async_task_gets_it_at_its_pending_await_and_may_clean_up(
    executor: ThreadPoolExecutor,
) -> None:
    registry = TaskRegistry()

    @task(name="soft.async", registry=registry, soft_timeout=SOFT, timeout=5)
    async def sleeper() -> str:
        try:
            await asyncio.sleep(60)
        except TaskSoftTimeoutError:
            await asyncio.sleep(0.01)  # cleanup may await: the task is not cancelled
            return "cleaned up"
        return "slept"

    before = time.monotonic()
    outcome = await execute(_context(registry, executor), _attempt("soft.async"))
    took = time.monotonic() - before

    assert isinstance(outcome, Completed)
    assert outcome.result == "cleaned up"
    assert took >= SOFT
    current = asyncio.current_task()
    assert current is not None
    assert current.cancelling() == 0, "the soft timeout's cancel was taken back"


async def test_a_worker_stopping_around_the_soft_timeout_still_stops_it_uncounted(
    executor: ThreadPoolExecutor,
) -> None:
    registry = TaskRegistry()
    heard: list[str] = []

    @task(name="soft.stopped", registry=registry, soft_timeout=SOFT, timeout=5)
    async def sleeper() -> None:
        try:
            await asyncio.sleep(60)
        except TaskSoftTimeoutError:
            heard.append("soft")
            await asyncio.sleep(60)  # cleanup that the stop must still interrupt

    context = _context(registry, executor)
    loop = asyncio.get_running_loop()
    # The stop before the soft timeout, at its very time (either order in one loop
    # pass, when both cancels are delivered as one), and during the cleanup after it.
    for stop_after in (SOFT / 2, SOFT, SOFT * 2):
        heard.clear()
        attempt = asyncio.create_task(execute(context, _attempt("soft.stopped")))
        loop.call_later(stop_after, attempt.cancel)
        with pytest.raises(asyncio.CancelledError):
            await attempt  # the attempt does not count: execute lets the cancellation out
        assert heard == (["soft"] if stop_after > SOFT else []), stop_after


async def test_a_sync_task_gets_it_in_its_thread_between_bytecodes(executor: ThreadPoolExecutor) -> None:
    registry = TaskRegistry()

    @task(name="soft.sync", registry=registry, soft_timeout=SOFT, timeout=5)
    def busy() -> str:
        deadline = time.monotonic() + 60
        try:
            while time.monotonic() < deadline:
                time.sleep(0.005)
        except TaskSoftTimeoutError:
            return "cleaned up"
        return "ran out"

    before = time.monotonic()
    outcome = await execute(_context(registry, executor), _attempt("soft.sync"))

    assert isinstance(outcome, Completed)
    assert outcome.result == "cleaned up"
    assert time.monotonic() - before >= SOFT


async def test_a_sync_task_in_a_blocking_c_call_gets_it_only_when_the_call_returns(
    executor: ThreadPoolExecutor,
) -> None:
    """The documented limit: the hard timeout fails the attempt on time; the exception
    reaches the thread when ``time.sleep`` returns."""
    registry = TaskRegistry()
    arrived = threading.Event()
    sleep = 1.0
    timings: list[float] = []

    @task(name="soft.blocked", registry=registry, soft_timeout=0.05, timeout=0.3)
    def blocked() -> None:
        started = time.monotonic()
        try:
            time.sleep(sleep)
            time.sleep(0)  # a bytecode boundary after the C call
        except TaskSoftTimeoutError:
            timings.append(time.monotonic() - started)
            arrived.set()

    outcome = await execute(_context(registry, executor), _attempt("soft.blocked"))

    assert isinstance(outcome, RetryLater)
    assert isinstance(outcome.error, TaskTimeoutError)
    assert await asyncio.to_thread(arrived.wait, 5)
    assert timings[0] >= sleep


async def test_an_uncaught_soft_timeout_fails_the_attempt_by_the_retry_policy(
    executor: ThreadPoolExecutor,
) -> None:
    registry = TaskRegistry()

    @task(name="soft.uncaught", registry=registry, soft_timeout=0.05, timeout=5)
    async def sleeper() -> None:
        await asyncio.sleep(60)

    context = _context(registry, executor)
    first = await execute(context, _attempt("soft.uncaught"))
    last = await execute(context, _attempt("soft.uncaught").next_attempt())

    assert isinstance(first, RetryLater)
    assert isinstance(first.error, TaskSoftTimeoutError)
    assert isinstance(last, DeadLettered)
    assert last.failure.error_type == "lexigram_compat.errors.TaskSoftTimeoutError"


async def test_the_exception_never_reaches_the_pool_thread_after_the_attempt(
    executor: ThreadPoolExecutor,
) -> None:
    """Attempts that end right at their soft timeout: the exception is raised in the
    attempt or cleared, never left pending for the thread's next job."""
    registry = TaskRegistry()

    @task(name="soft.edge", registry=registry, soft_timeout=0.01, timeout=5)
    def edge() -> str:
        end = time.monotonic() + 0.01
        while time.monotonic() < end:
            pass
        return "done"

    context = _context(registry, executor)
    outcomes = [await execute(context, _attempt("soft.edge")) for _ in range(40)]

    assert all(isinstance(o, Completed) or isinstance(o.error, TaskSoftTimeoutError) for o in outcomes), (
        outcomes
    )

    def plain_work() -> int:
        total = 0
        for i in range(200_000):  # many bytecode boundaries, where a stray one would surface
            total += i
        return total

    for _ in range(5):
        assert await asyncio.get_running_loop().run_in_executor(executor, plain_work) == sum(range(200_000))


def test_soft_timeout_is_checked_at_declaration() -> None:
    registry = TaskRegistry()
    with pytest.raises(ValueError, match=r"soft_timeout=0 must be a number of seconds > 0"):
        task(name="bad.zero", registry=registry, soft_timeout=0)(lambda: None)
    with pytest.raises(ValueError, match=r"soft_timeout=6 is past timeout=5"):
        task(name="bad.past", registry=registry, soft_timeout=6, timeout=5)(lambda: None)
