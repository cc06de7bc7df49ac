"""A task injects its own ``JobContext`` (job id, attempt, max attempts, queue, headers,
ETA) on every engine, and ``Retry(exc=...)`` leaves the real cause in the dead letter."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from lexigram_compat import JobStatus
from lexigram_compat.envelope import utcnow

from . import jobs
from .harness import EngineHarness, ok, qualified


async def test_a_task_sees_its_job_id_attempts_queue_and_headers(engine: EngineHarness) -> None:
    headers = {"request_id": "r-1", "tenant": {"id": 7}, "tags": ["a", "b"]}
    job_id = ok(await engine.app.queue.enqueue(jobs.knows_its_job("k", 1), headers=headers))

    await engine.drain()

    info = await engine.info(job_id)
    assert (info.status, info.attempts, info.result) == (JobStatus.COMPLETED, 2, job_id)
    seen = engine.recorder.entries("knows_its_job", key="k")
    assert [e.data["attempt"] for e in seen] == [1, 2]
    for entry in seen:
        assert entry.data["job_id"] == job_id
        assert entry.data["task_name"] == "conformance.knows_its_job"
        assert entry.data["max_attempts"] == 3
        assert entry.data["queue"] == engine.default_queue
        assert entry.data["headers"] == headers  # kept across the retry
        assert entry.data["current_is_ctx"] is True
    assert seen[0].data["eta"] is None
    assert seen[1].data["eta"] is not None  # the retry's due time


@pytest.mark.requires("delay")
async def test_the_eta_a_job_was_enqueued_with_reaches_its_context(engine: EngineHarness) -> None:
    await engine.start_worker()
    eta = utcnow() + timedelta(seconds=0.3)
    job_id = ok(await engine.app.queue.enqueue(jobs.knows_its_job("late", 0), eta=eta))

    await engine.wait_for(job_id, JobStatus.COMPLETED)
    await engine.stop_worker()

    [entry] = engine.recorder.entries("knows_its_job", key="late")
    seen = entry.data["eta"]
    assert seen is not None
    assert abs((datetime.fromisoformat(seen) - eta).total_seconds()) < 0.001
    assert entry.data["headers"] == {}


async def test_a_sync_task_gets_its_context_in_its_thread(engine: EngineHarness) -> None:
    job_id = ok(await engine.app.queue.enqueue(jobs.sync_knows_its_job("s"), headers={"h": 1}))

    await engine.drain()

    info = await engine.info(job_id)
    assert (info.status, info.result) == (JobStatus.COMPLETED, job_id)
    [entry] = engine.recorder.entries("sync_knows_its_job", key="s")
    assert entry.data == {"key": "s", "attempt": 1, "headers": {"h": 1}, "current_id": job_id}


async def test_a_dead_letter_after_retry_with_exc_shows_the_real_cause(engine: EngineHarness) -> None:
    job_id = ok(await engine.app.queue.enqueue(jobs.knows_its_job("dead", 5)))

    await engine.drain()

    info = await engine.info(job_id)
    assert (info.status, info.attempts) == (JobStatus.FAILED, 3)
    letter = await engine.app.dead_letters.get(job_id)
    assert letter is not None
    assert letter.error_type == qualified(LookupError)
    assert letter.error_message == "dead: the real cause, attempt 3"
    assert letter.traceback is not None
    assert "LookupError" in letter.traceback
    assert info.last_error is not None
    assert "the real cause, attempt 3" in info.last_error
