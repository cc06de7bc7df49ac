"""Soft timeouts on every engine's native worker: ``TaskSoftTimeoutError`` (Celery's
``SoftTimeLimitExceeded``) arrives inside the task no earlier than the soft timeout and
before the hard one, in async tasks and in sync tasks' threads; a task that catches it
and returns completes; one that does not fails the attempt, which follows the retry policy.

Both bounds are checked from the side that makes them honest: the lower from the
``attempt_started`` hook's stamp (taken before the attempt, so before the soft timer is
armed), the upper from the task's own first stamp (taken after it was armed)."""

from __future__ import annotations

import asyncio
from typing import Any

from lexigram_compat import JobStatus, TaskSoftTimeoutError
from lexigram_compat.celery.exceptions import SoftTimeLimitExceeded
from tests.celery_shim.proj import tasks_limits

from . import jobs
from .harness import EngineHarness, ok, qualified
from .hook_probe import PROBE_HEADER
from .shim_jobs import shim_app


def _attempt_started_at(engine: EngineHarness, key: str) -> float:
    [entry] = [e for e in engine.recorder.entries("hook", key=key) if e.data["point"] == "attempt_started"]
    return entry.at


def _assert_caught_in_time(
    engine: EngineHarness, key: str, stamps: list[float], soft: float, hard: float
) -> None:
    started, caught = stamps  # two stamps: the task caught the soft timeout and returned
    attempt_started = _attempt_started_at(engine, key)
    assert caught - attempt_started >= soft, f"raised {caught - attempt_started:.3f}s in, before {soft}s"
    assert caught - started < hard, f"raised {caught - started:.3f}s in, not before the hard {hard}s"


async def test_a_task_that_catches_its_soft_timeout_cleans_up_and_completes(engine: EngineHarness) -> None:
    queue = engine.app.queue
    ids = {
        key: ok(await queue.enqueue(call, headers={PROBE_HEADER: key}))
        for key, call in (
            ("async", jobs.soft_async(60.0)),
            ("sync", jobs.soft_sync(60.0)),
            ("in-time", jobs.soft_async(0.01)),
        )
    }

    await engine.drain()

    done = {key: await engine.info(job_id) for key, job_id in ids.items()}
    assert {key: (i.status, i.attempts) for key, i in done.items()} == dict.fromkeys(
        ids, (JobStatus.COMPLETED, 1)
    )
    for key in ("async", "sync"):
        _assert_caught_in_time(engine, key, done[key].result, jobs.SOFT_TIMEOUT, jobs.HARD_TIMEOUT)
    assert len(done["in-time"].result) == 1, "a task done before its soft timeout is not interrupted"


async def test_an_uncaught_soft_timeout_fails_the_attempt_and_follows_the_retry_policy(
    engine: EngineHarness,
) -> None:
    job_id = ok(await engine.app.queue.enqueue(jobs.soft_uncaught("soft")))

    await engine.drain()

    info = await engine.info(job_id)
    letter = await engine.app.dead_letters.get(job_id)
    assert letter is not None
    assert (info.status, info.attempts) == (JobStatus.FAILED, 2)  # its policy: 2 attempts
    assert engine.recorder.runs("soft_uncaught", "soft") == 2
    assert letter.error_type == qualified(TaskSoftTimeoutError)


async def call(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Sync Celery-style code (``.apply_async()``, ``.get()``) from the test's event loop."""
    return await asyncio.to_thread(fn, *args, **kwargs)


async def test_celery_soft_time_limit_raises_soft_time_limit_exceeded_inside_the_task(
    engine: EngineHarness,
) -> None:
    shim_app.use(engine.app)
    caught = await call(tasks_limits.cleans_up.apply_async, (60.0,), headers={PROBE_HEADER: "shim"})
    retried = await call(tasks_limits.retries_when_late.delay, 60.0)

    await engine.drain()

    stamps = await call(caught.get, timeout=5)
    _assert_caught_in_time(engine, "shim", stamps, tasks_limits.SOFT_LIMIT, tasks_limits.HARD_LIMIT)
    info = await engine.info(retried.id)
    letter = await engine.app.dead_letters.get(retried.id)
    assert letter is not None
    # autoretry_for=(SoftTimeLimitExceeded,), max_retries=1: retried once, then FAILURE with it.
    assert (info.status, info.attempts) == (JobStatus.FAILED, 2)
    assert letter.error_type == qualified(SoftTimeLimitExceeded)
    assert await call(lambda: retried.state) == "FAILURE"
