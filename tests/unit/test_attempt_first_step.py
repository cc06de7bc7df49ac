"""An async task's first step runs before its deadline's timer is armed (``execute``,
every engine's worker): a task that then waits goes on under the same deadline, due
from its start, and values, exceptions and cancellations pass through as before."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from lexigram_compat import RetryPolicy, TaskRegistry, TaskTimeoutError, task
from lexigram_compat.envelope import JobEnvelope
from lexigram_compat.job_context import current_job
from lexigram_compat.outcomes import Completed, DeadLettered
from lexigram_compat.worker.execution import ExecutionContext, execute

TIMEOUT = 0.3


def _context(registry: TaskRegistry) -> ExecutionContext:
    policy = RetryPolicy(max_attempts=1)
    return ExecutionContext(registry, None, policy, default_timeout=30.0)


def _attempt(name: str, *args: Any) -> JobEnvelope:
    return JobEnvelope("job-1", name, "default", list(args)).next_attempt()


async def test_a_task_that_waits_gets_every_value_it_awaits_and_returns_its_result() -> None:
    registry = TaskRegistry()

    @task(name="first.waits", registry=registry)
    async def waits(n: int) -> list[object]:
        seen: list[object] = []
        for i in range(n):
            future = asyncio.get_running_loop().create_future()
            asyncio.get_running_loop().call_soon(future.set_result, i)
            seen.append(await future)
            await asyncio.sleep(0)  # a bare yield to the loop
        job = current_job()
        seen.append(None if job is None else job.job_id)
        return seen

    outcome = await execute(_context(registry), _attempt("first.waits", 3))

    assert isinstance(outcome, Completed)
    assert outcome.result == [0, 1, 2, "job-1"]


async def test_an_exception_after_a_wait_and_one_in_the_first_step_fail_the_attempt() -> None:
    registry = TaskRegistry()

    @task(name="first.late_error", registry=registry)
    async def late_error() -> None:
        await asyncio.sleep(0)
        raise ValueError("after a wait")

    @task(name="first.early_error", registry=registry)
    async def early_error() -> None:
        raise TimeoutError("the task's own, not the deadline")

    late = await execute(_context(registry), _attempt("first.late_error"))
    early = await execute(_context(registry), _attempt("first.early_error"))

    assert isinstance(late, DeadLettered)
    assert late.failure.error_type == "ValueError"
    assert isinstance(early, DeadLettered)
    assert early.failure.error_type == "TimeoutError"


async def test_a_task_that_waits_past_its_timeout_fails_with_the_timeout() -> None:
    registry = TaskRegistry()

    @task(name="first.sleeps", registry=registry, timeout=TIMEOUT)
    async def sleeps() -> None:
        await asyncio.sleep(0)
        await asyncio.sleep(60)

    outcome = await execute(_context(registry), _attempt("first.sleeps"))

    assert isinstance(outcome, DeadLettered)
    assert isinstance(outcome.error, TaskTimeoutError)


async def test_the_deadline_is_due_from_the_start_when_the_first_step_blocks() -> None:
    registry = TaskRegistry()
    finished: list[bool] = []

    @task(name="first.blocks", registry=registry, timeout=TIMEOUT)
    async def blocks() -> None:
        time.sleep(TIMEOUT * 1.5)  # noqa: ASYNC251 - a first step that overruns the deadline
        await asyncio.sleep(0)
        finished.append(True)

    outcome = await execute(_context(registry), _attempt("first.blocks"))

    assert isinstance(outcome, DeadLettered)
    assert isinstance(outcome.error, TaskTimeoutError)
    assert finished == []


async def test_a_worker_stopping_while_the_task_waits_lets_the_cancellation_out() -> None:
    registry = TaskRegistry()
    heard: list[str] = []
    started = asyncio.Event()

    @task(name="first.stopped", registry=registry)
    async def stopped() -> None:
        started.set()
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            heard.append("cancelled")
            raise

    attempt = asyncio.create_task(execute(_context(registry), _attempt("first.stopped")))
    await started.wait()
    attempt.cancel()
    with pytest.raises(asyncio.CancelledError):
        await attempt  # the attempt does not count: execute lets the cancellation out
    assert heard == ["cancelled"]
