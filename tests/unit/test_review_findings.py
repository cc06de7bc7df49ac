"""Defects found in review, each pinned by a test that failed before its fix."""

from __future__ import annotations

import asyncio
import collections
import logging
import threading
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest
from pydantic import BaseModel, field_validator

from lexigram_compat import (
    Container,
    JobStatus,
    Retry,
    RetryPolicy,
    TaskRegistry,
    TaskValidationError,
    inject,
    task,
)
from lexigram_compat.adapters.memory import MemoryEngine
from lexigram_compat.portal import LoopThread, call_in_loop
from lexigram_compat.testing import drain, memory_app

if TYPE_CHECKING:
    # Only for type checkers, as ruff's TC rules arrange it: unresolvable at run time.
    from decimal import Decimal

REGISTRY = TaskRegistry()


class Mailer:
    def __init__(self) -> None:
        self.sent: list[datetime] = []


# -- string annotations (this module uses `from __future__ import annotations`) --


@task(name="review.stamp", registry=REGISTRY)
async def stamp(when: datetime, mailer: Mailer = inject(), note: Decimal | None = None) -> None:
    mailer.sent.append(when)


async def test_one_type_checking_only_annotation_does_not_break_the_others() -> None:
    mailer = Mailer()
    container = Container()
    container.register(Mailer, mailer)
    async with memory_app(registry=REGISTRY, container=container) as app:
        when = datetime(2024, 5, 1, 12, 30, tzinfo=UTC)
        result = await app.queue.enqueue(stamp(when=when))  # raised PydanticUserError before
        assert result.is_ok(), result
        bad = await app.queue.enqueue(stamp(when="not a time"))  # type: ignore[arg-type]
        assert isinstance(bad.unwrap_err(), TaskValidationError)
        assert "'when'" in bad.unwrap_err().message

        await drain(app, fail_fast=True)

    # The datetime arrived as a datetime and the Mailer came from the container.
    assert mailer.sent == [when]
    assert isinstance(mailer.sent[0], datetime)


# -- a validator raising something pydantic does not wrap --------------------


class Order(BaseModel):
    sku: str

    @field_validator("sku")
    @classmethod
    def _known(cls, value: str) -> str:
        return {"A-1": "A-1"}[value]  # KeyError for an unknown SKU


@task(name="review.ship", registry=REGISTRY)
async def ship(order: Order) -> None:
    pass


async def test_a_validator_raising_key_error_is_an_err_naming_the_argument() -> None:
    async with memory_app(registry=REGISTRY) as app:
        result = await app.queue.enqueue(ship(order={"sku": "Z-9"}))  # type: ignore[arg-type]
    assert result.is_err()
    error = result.unwrap_err()
    assert isinstance(error, TaskValidationError)
    assert "'order'" in error.message
    assert "KeyError" in error.message


# -- a failure outside the task body never leaves a job running -------------


@task(name="review.far_retry", registry=REGISTRY)
async def far_retry() -> None:
    raise Retry(delay=1e12)  # past the largest datetime


async def test_an_unrepresentable_retry_time_dead_letters_instead_of_hanging() -> None:
    async with memory_app(registry=REGISTRY) as app:
        job_id = (await app.queue.enqueue(far_retry())).unwrap()
        await asyncio.wait_for(drain(app), timeout=10)  # hung: the job stayed RUNNING
        info = await app.queue.get_job(job_id)
        assert info is not None
        assert info.status is JobStatus.FAILED
        letter = await app.dead_letters.get(job_id)
        assert letter is not None
        assert letter.error_type == "OverflowError"


# -- sync tasks: the timeout bounds the run, not the wait for a thread -------

RUNS: collections.Counter[int] = collections.Counter()


@task(name="review.sync_step", registry=REGISTRY, timeout=1.0)
def sync_step(n: int) -> None:
    RUNS[n] += 1
    time.sleep(0.3)


async def test_sync_jobs_queued_for_a_thread_do_not_time_out_and_run_twice() -> None:
    RUNS.clear()
    async with memory_app(registry=REGISTRY, worker={"max_concurrent_tasks": 1}) as app:
        ids = [(await app.queue.enqueue(sync_step(n))).unwrap() for n in range(5)]
        # --concurrency above the thread pool (max_concurrent_tasks): jobs wait for the thread.
        await app.run_worker(until_idle=True, concurrency=5)
        infos = [await app.queue.get_job(job_id) for job_id in ids]
        assert [i.status if i else None for i in infos] == [JobStatus.COMPLETED] * 5
        assert [i.attempts if i else None for i in infos] == [1] * 5
        assert await app.dead_letters.count() == 0
    assert {n: 1 for n in range(5)} == RUNS


# -- a TimeoutError raised by the task is the task's error -------------------

UPSTREAM_CALLS: list[int] = []


@task(
    name="review.upstream",
    registry=REGISTRY,
    retry=RetryPolicy(max_attempts=2, base_delay=0, jitter=False, retry_on=(TimeoutError,)),
)
async def upstream() -> None:
    UPSTREAM_CALLS.append(1)
    raise TimeoutError("upstream did not answer")


async def test_a_timeout_error_from_the_task_is_not_reported_as_the_attempt_deadline() -> None:
    UPSTREAM_CALLS.clear()
    async with memory_app(registry=REGISTRY) as app:
        job_id = (await app.queue.enqueue(upstream())).unwrap()
        await drain(app)
        letter = await app.dead_letters.get(job_id)
    assert letter is not None
    # retry_on=(TimeoutError,) matched: two attempts, and the task's own error is kept.
    assert len(UPSTREAM_CALLS) == 2
    assert (letter.attempts, letter.error_type) == (2, "TimeoutError")
    assert letter.error_message == "upstream did not answer"


# -- retention.completed_seconds = 0 -----------------------------------------


@task(name="review.quick", registry=REGISTRY)
async def quick(n: int) -> int:
    return n


async def test_completed_seconds_zero_forgets_jobs_without_an_error(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="lexigram_compat")
    async with memory_app(registry=REGISTRY, retention={"completed_seconds": 0}) as app:
        job_id = (await app.queue.enqueue(quick(1))).unwrap()
        assert await drain(app) == 1
        assert await app.queue.get_job(job_id) is None
        assert app.events.total("succeeded") == 1  # was 0: recording the outcome raised KeyError
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


# -- memory engine: no lost wake-up ------------------------------------------


async def test_wait_for_work_returns_at_once_for_a_job_enqueued_after_the_last_claim() -> None:
    async with memory_app(registry=REGISTRY) as app:
        engine = app.queue.backend.engine
        assert isinstance(engine, MemoryEngine)
        queues = [app.queue.backend.queue_name]
        assert await engine.claim(queues, 10) == []
        # The job lands between the worker's empty claim and its wait.
        (await app.queue.enqueue(quick(2))).unwrap()
        # Waited the whole timeout (poll_interval in a worker) before.
        await asyncio.wait_for(engine.wait_for_work(queues, 30.0), timeout=5)
        assert len(await engine.claim(queues, 10)) == 1


# -- sync portal: a call never waits forever on a closed loop ----------------


async def _answer() -> int:
    return 42


def test_a_sync_call_fails_instead_of_hanging_when_the_loop_closes_under_it() -> None:
    portal = LoopThread()
    release = threading.Event()
    outcome: list[object] = []
    # The loop is busy, then told to stop (what close_sync() does) while a
    # sync call from another thread is still waiting for it.
    portal.loop.call_soon_threadsafe(release.wait, 10)
    portal.loop.call_soon_threadsafe(portal.loop.stop)

    def caller() -> None:
        try:
            outcome.append(call_in_loop(portal.loop, _answer))
        except RuntimeError as exc:
            outcome.append(exc)

    thread = threading.Thread(target=caller, daemon=True)
    thread.start()
    release.set()
    portal.stop()  # joins the loop's thread and closes the loop
    thread.join(timeout=10)
    assert not thread.is_alive(), "the sync call is still waiting on a closed loop"
    assert len(outcome) == 1
    assert isinstance(outcome[0], RuntimeError)
    assert "closed" in str(outcome[0])
