"""Retries, delays between attempts, ``Retry``/``Reject`` and timeouts (SPEC §2.2, §2.3)."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from lexigram_compat import JobStatus, Reject, Retry, TaskTimeoutError
from lexigram_compat.queue import DeadLetter

from . import jobs
from .harness import EngineHarness, assert_waited, ok, qualified


def gaps(times: list[float]) -> list[float]:
    return [later - earlier for earlier, later in itertools.pairwise(times)]


async def dead_letter(engine: EngineHarness, job_id: str) -> DeadLetter:
    letter = await engine.app.dead_letters.get(job_id)
    assert letter is not None, f"job {job_id} is not in the dead letters"
    return letter


async def test_attempt_numbers_increase_and_delays_follow_the_config_policy(engine: EngineHarness) -> None:
    job_id = ok(await engine.app.queue.enqueue(jobs.flaky("k", succeed_on=3)))

    await engine.drain()

    info = await engine.info(job_id)
    assert info.status is JobStatus.COMPLETED
    assert (info.attempts, info.max_attempts) == (3, 3)
    runs = engine.recorder.entries("flaky", key="k")
    assert [e.data["run"] for e in runs] == [1, 2, 3]
    policy = engine.app.default_policy
    for attempt, gap in enumerate(gaps([e.at for e in runs]), start=1):
        assert_waited(gap, *policy.delay_bounds(attempt))
    assert await engine.app.dead_letters.count() == 0


async def test_jittered_backoff_stays_within_the_delay_bounds(engine: EngineHarness) -> None:
    job_id = ok(await engine.app.queue.enqueue(jobs.flaky_backoff("k", succeed_on=4)))

    await engine.drain()

    info = await engine.info(job_id)
    assert info.status is JobStatus.COMPLETED
    assert (info.attempts, info.max_attempts) == (4, jobs.BACKOFF_POLICY.max_attempts)
    runs = engine.recorder.entries("flaky_backoff", key="k")
    assert [e.data["run"] for e in runs] == [1, 2, 3, 4]
    for attempt, gap in enumerate(gaps([e.at for e in runs]), start=1):
        assert_waited(gap, *jobs.BACKOFF_POLICY.delay_bounds(attempt))


@pytest.mark.tasks_config({"retry": {"base_delay": 30.0, "jitter": False}})
async def test_a_job_waiting_on_its_retry_delay_is_retrying_with_the_last_error(
    engine: EngineHarness,
) -> None:
    job_id = ok(await engine.app.queue.enqueue(jobs.always_fails("waiting")))
    await engine.start_worker()

    info = await engine.wait_for(job_id, JobStatus.RETRYING)
    await engine.stop_worker()

    assert info.attempts == 1
    assert info.last_error is not None
    assert "RuntimeError" in info.last_error
    assert "always fails: waiting" in info.last_error
    assert engine.recorder.runs("always_fails", "waiting") == 1


async def test_exhausting_the_attempts_dead_letters_the_job(engine: EngineHarness) -> None:
    job_id = ok(await engine.app.queue.enqueue(jobs.always_fails("k")))

    await engine.drain()

    info = await engine.info(job_id)
    assert info.status is JobStatus.FAILED
    assert info.attempts == 3
    assert info.last_error is not None
    assert "always fails: k" in info.last_error
    assert engine.recorder.runs("always_fails", "k") == 3
    letter = await dead_letter(engine, job_id)
    assert letter.attempts == 3
    assert letter.error_type == qualified(RuntimeError)


@pytest.mark.parametrize(
    ("error", "attempts", "error_type"),
    [
        pytest.param("connection", 3, ConnectionError, id="retry_on-matches"),
        pytest.param("value", 1, ValueError, id="retry_on-does-not-match"),
        pytest.param("permission", 1, PermissionError, id="abort_on-wins-over-retry_on"),
    ],
)
async def test_retry_on_and_abort_on_choose_which_errors_retry(
    engine: EngineHarness, error: str, attempts: int, error_type: type[Exception]
) -> None:
    job_id = ok(await engine.app.queue.enqueue(jobs.selective("k", error)))

    await engine.drain()

    assert engine.recorder.runs("selective", "k") == attempts
    info = await engine.info(job_id)
    assert (info.status, info.attempts) == (JobStatus.FAILED, attempts)
    letter = await dead_letter(engine, job_id)
    assert (letter.attempts, letter.error_type) == (attempts, qualified(error_type))


async def test_retry_with_a_delay_consumes_an_attempt_and_overrides_the_policy_delay(
    engine: EngineHarness,
) -> None:
    job_id = ok(await engine.app.queue.enqueue(jobs.asks_retry("k", delay=0.2, times=1)))

    await engine.drain()

    info = await engine.info(job_id)
    assert (info.status, info.attempts) == (JobStatus.COMPLETED, 2)
    runs = engine.recorder.entries("asks_retry", key="k")
    assert [e.data["run"] for e in runs] == [1, 2]
    # The task's policy would wait 30 s; Retry(delay=0.2) asked for 0.2 s.
    assert_waited(runs[1].at - runs[0].at, 0.2, 0.2)


async def test_retry_on_every_attempt_ends_in_the_dead_letters(engine: EngineHarness) -> None:
    job_id = ok(await engine.app.queue.enqueue(jobs.asks_retry("k", delay=0.01, times=99)))

    await engine.drain()

    assert engine.recorder.runs("asks_retry", "k") == 3
    letter = await dead_letter(engine, job_id)
    assert (letter.attempts, letter.error_type) == (3, qualified(Retry))


async def test_reject_dead_letters_at_once(engine: EngineHarness) -> None:
    job_id = ok(await engine.app.queue.enqueue(jobs.rejects("k")))

    await engine.drain()

    info = await engine.info(job_id)
    assert (info.status, info.attempts, info.max_attempts) == (JobStatus.FAILED, 1, 5)
    assert engine.recorder.runs("rejects", "k") == 1
    letter = await dead_letter(engine, job_id)
    assert letter.error_type == qualified(Reject)
    assert letter.error_message == "rejected: k"


async def test_a_task_raising_cancelled_error_itself_fails_its_attempt(engine: EngineHarness) -> None:
    # Only a stopping worker's cancellation returns a job uncounted; a task
    # raising CancelledError on its own must not run again forever.
    job_id = ok(await engine.app.queue.enqueue(jobs.cancels_itself("k")))

    await engine.drain()

    runs = engine.recorder.runs("cancels_itself", "k")
    assert 1 <= runs <= 3
    info = await engine.info(job_id)
    assert (info.status, info.attempts) == (JobStatus.FAILED, runs)
    letter = await dead_letter(engine, job_id)
    assert (letter.attempts, letter.error_type) == (runs, qualified(asyncio.CancelledError))


async def test_a_timeout_counts_as_a_failed_attempt(engine: EngineHarness) -> None:
    job_id = ok(await engine.app.queue.enqueue(jobs.timed("k", [5.0, 0.0])))

    await engine.drain()

    info = await engine.info(job_id)
    assert (info.status, info.attempts) == (JobStatus.COMPLETED, 2)
    starts = engine.recorder.entries("timed.start", key="k")
    ends = engine.recorder.entries("timed.end", key="k")
    assert [e.data["run"] for e in starts] == [1, 2]
    assert [e.data["run"] for e in ends] == [2]


async def test_timing_out_on_every_attempt_dead_letters_with_task_timeout_error(
    engine: EngineHarness,
) -> None:
    job_id = ok(await engine.app.queue.enqueue(jobs.timed("k", [5.0])))

    await engine.drain()

    letter = await dead_letter(engine, job_id)
    assert (letter.attempts, letter.error_type) == (2, qualified(TaskTimeoutError))
    assert f"{jobs.TASK_TIMEOUT:g}s" in letter.error_message
    assert engine.recorder.entries("timed.end") == []


@pytest.mark.tasks_config({"worker": {"default_timeout": 0.2}, "retry": {"max_attempts": 1}})
async def test_worker_default_timeout_bounds_tasks_without_their_own(engine: EngineHarness) -> None:
    job_id = ok(await engine.app.queue.enqueue(jobs.slow("k", [5.0])))

    await engine.drain()

    letter = await dead_letter(engine, job_id)
    assert (letter.attempts, letter.error_type) == (1, qualified(TaskTimeoutError))
    assert engine.recorder.runs("slow.start", "k") == 1
    assert engine.recorder.entries("slow.end") == []
