"""Enqueue, job status, counting, clearing and cancelling (SPEC §1.4)."""

from __future__ import annotations

import asyncio

import pytest

from lexigram_compat import JobStatus, TaskCall, TaskNotFoundError, TaskValidationError

from . import jobs
from .harness import EngineHarness, err, ok


async def test_enqueue_returns_ok_job_id_and_the_job_completes(engine: EngineHarness) -> None:
    job_id = ok(await engine.app.queue.enqueue(jobs.noop("first")))
    assert isinstance(job_id, str)
    assert job_id

    pending = await engine.info(job_id)
    assert pending.status is JobStatus.PENDING
    assert (pending.job_id, pending.task_name) == (job_id, "conformance.noop")
    assert pending.queue == engine.default_queue
    assert (pending.attempts, pending.max_attempts) == (0, 3)
    assert pending.enqueued_at.tzinfo is not None
    assert (pending.started_at, pending.finished_at, pending.last_error) == (None, None, None)

    await engine.drain()

    done = await engine.info(job_id)
    assert done.status is JobStatus.COMPLETED
    assert done.attempts == 1
    assert done.last_error is None
    assert done.started_at is not None
    assert done.finished_at is not None
    assert done.enqueued_at <= done.started_at <= done.finished_at
    assert [e.data["tag"] for e in engine.recorder.entries("noop")] == ["first"]


async def test_get_job_of_an_unknown_id_is_none(engine: EngineHarness) -> None:
    assert await engine.app.queue.get_job("conformance-no-such-job") is None


@pytest.mark.requires("results")
async def test_the_return_value_is_kept_for_async_and_sync_tasks(engine: EngineHarness) -> None:
    async_id = ok(await engine.app.queue.enqueue(jobs.add(2, 3)))
    sync_id = ok(await engine.app.queue.enqueue(jobs.sync_add(a=40, b=2)))

    await engine.drain()

    assert (await engine.info(async_id)).result == 5
    sync_info = await engine.info(sync_id)
    assert sync_info.status is JobStatus.COMPLETED
    assert sync_info.result == 42
    assert [e.data for e in engine.recorder.entries("sync_add")] == [{"a": 40, "b": 2}]


async def test_a_plain_def_task_runs(engine: EngineHarness) -> None:
    job_id = ok(await engine.app.queue.enqueue(jobs.sync_add(1, 1)))

    await engine.drain()

    assert (await engine.info(job_id)).status is JobStatus.COMPLETED
    assert len(engine.recorder.entries("sync_add")) == 1


async def test_enqueue_sync_from_another_thread(engine: EngineHarness) -> None:
    queue = engine.app.queue
    job_id = ok(await asyncio.to_thread(queue.enqueue_sync, jobs.noop("from-a-thread")))

    await engine.drain()

    assert (await engine.info(job_id)).status is JobStatus.COMPLETED
    assert [e.data["tag"] for e in engine.recorder.entries("noop")] == ["from-a-thread"]


async def test_an_unregistered_task_name_is_err(engine: EngineHarness) -> None:
    error = err(await engine.app.queue.enqueue(TaskCall("conformance.not_declared")))

    assert isinstance(error, TaskNotFoundError)
    assert "conformance.not_declared" in error.message
    assert await engine.app.queue.count() == 0


async def test_enqueue_many_returns_every_id_and_every_job_runs(engine: EngineHarness) -> None:
    queue = engine.app.queue
    ids = ok(await queue.enqueue_many([jobs.noop("a"), jobs.noop("b"), jobs.add(1, 2)]))

    assert len(ids) == 3
    assert len(set(ids)) == 3
    assert await queue.count() == 3
    assert ok(await queue.enqueue_many([])) == []

    await engine.drain()

    for job_id in ids:
        assert (await engine.info(job_id)).status is JobStatus.COMPLETED
    assert sorted(e.data["tag"] for e in engine.recorder.entries("noop")) == ["a", "b"]


async def test_enqueue_many_validates_every_call_before_writing_any(engine: EngineHarness) -> None:
    error = err(await engine.app.queue.enqueue_many([jobs.noop("good"), jobs.add.s("not-an-int", 1)]))

    assert isinstance(error, TaskValidationError)
    assert await engine.app.queue.count() == 0


async def test_a_chosen_job_id_is_used_and_not_duplicated(engine: EngineHarness) -> None:
    queue = engine.app.queue
    job_id = "conformance-chosen-id"

    assert ok(await queue.enqueue(jobs.noop("chosen"), job_id=job_id)) == job_id
    assert ok(await queue.enqueue(jobs.noop("chosen-again").options(job_id=job_id))) == job_id
    assert await queue.count() == 1

    await engine.drain()

    assert (await engine.info(job_id)).status is JobStatus.COMPLETED
    assert [e.data["tag"] for e in engine.recorder.entries("noop")] == ["chosen"]


async def test_count_and_clear_per_queue_and_status(engine: EngineHarness) -> None:
    queue = engine.app.queue
    for tag in ("a", "b"):
        ok(await queue.enqueue(jobs.noop(tag)))
    named_id = ok(await queue.enqueue(jobs.on_named_queue("n")))

    assert await queue.count() == 2
    assert await queue.count(status=JobStatus.PENDING) == 2
    assert await queue.count(jobs.NAMED_QUEUE) == 1
    assert await queue.count(jobs.NAMED_QUEUE, JobStatus.PENDING) == 1
    assert await queue.count(status=JobStatus.COMPLETED) == 0

    assert await queue.clear(jobs.NAMED_QUEUE) == 1
    assert await queue.count(jobs.NAMED_QUEUE) == 0
    assert await queue.count() == 2
    assert await queue.get_job(named_id) is None

    cleared_id = ok(await queue.enqueue(jobs.noop("c")))
    assert await queue.clear() == 3
    assert await queue.count() == 0
    ok(await queue.enqueue(jobs.noop("d")))
    await engine.drain()

    assert await queue.count() == 0
    assert await queue.count(status=JobStatus.COMPLETED) == 1
    assert await queue.get_job(cleared_id) is None
    assert [e.data["tag"] for e in engine.recorder.entries("noop")] == ["d"]
    assert engine.recorder.entries("on_named_queue") == []


async def test_a_task_declared_on_a_named_queue_is_routed_and_consumed(engine: EngineHarness) -> None:
    job_id = ok(await engine.app.queue.enqueue(jobs.on_named_queue("routed")))
    assert (await engine.info(job_id)).queue == jobs.NAMED_QUEUE

    await engine.drain()

    assert (await engine.info(job_id)).status is JobStatus.COMPLETED
    assert [e.data["tag"] for e in engine.recorder.entries("on_named_queue")] == ["routed"]


@pytest.mark.requires("cancel")
async def test_a_cancelled_pending_job_never_runs(engine: EngineHarness) -> None:
    queue = engine.app.queue
    cancelled = ok(await queue.enqueue(jobs.noop("cancelled")))
    kept = ok(await queue.enqueue(jobs.noop("kept")))

    assert ok(await queue.cancel(cancelled)) is True
    assert (await engine.info(cancelled)).status is JobStatus.CANCELLED
    assert await queue.count() == 1

    await engine.drain()

    assert (await engine.info(cancelled)).status is JobStatus.CANCELLED
    assert (await engine.info(cancelled)).attempts == 0
    assert (await engine.info(kept)).status is JobStatus.COMPLETED
    assert [e.data["tag"] for e in engine.recorder.entries("noop")] == ["kept"]
    assert ok(await queue.cancel(cancelled)) is False


@pytest.mark.requires("cancel")
async def test_cancelling_a_finished_or_unknown_job_is_ok_false(engine: EngineHarness) -> None:
    queue = engine.app.queue
    job_id = ok(await queue.enqueue(jobs.noop("done")))
    await engine.drain()

    assert ok(await queue.cancel(job_id)) is False
    assert (await engine.info(job_id)).status is JobStatus.COMPLETED
    assert ok(await queue.cancel("conformance-no-such-job")) is False
