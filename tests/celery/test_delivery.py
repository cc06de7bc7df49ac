"""Delivery guarantees of facade tasks under ``celery worker``: an attempt whose
outcome cannot be recorded is never acked and lost (review finding 1)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

from lexigram_compat import JobStatus, TasksApp

from . import interop_tasks
from .conftest import Broker, Worker, celery_worker_argv, read_records


async def poll(condition: object, what: str, worker: Worker, timeout: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await condition():  # type: ignore[operator]
        assert worker.alive(), worker.text()[-3000:]
        assert asyncio.get_running_loop().time() < deadline, f"never {what}:\n{worker.text()[-3000:]}"
        await asyncio.sleep(0.02)


async def test_an_attempt_whose_outcome_cannot_be_stored_is_requeued_not_lost(
    broker: Broker, tmp_path: Path
) -> None:
    record = tmp_path / "facade.jsonl"
    marker = tmp_path / "marker"
    worker = Worker(
        celery_worker_argv("tests.celery.facade_app:celery_app", broker.queue),
        {"FACADE_SECTION": json.dumps(broker.section()), "FACADE_RECORD": str(record)},
        tmp_path / "worker.log",
    )
    app = TasksApp.from_dict({"tasks": broker.section()}, environ={}, registry=interop_tasks.registry)
    client = aioredis.Redis.from_url(broker.redis_url)
    job_key = f"{broker.prefix}job:"
    try:
        async with app:
            job = (await app.queue.enqueue(interop_tasks.held_once(str(marker)))).unwrap()
            job_key += job

            async def started() -> bool:
                return marker.exists()

            await poll(started, "started", worker)
            # The job store fails under the running attempt: its record is not a hash.
            await client.delete(job_key)
            await client.set(job_key, "not a hash")
            marker.with_suffix(".go").touch()

            async def failed_to_record() -> bool:
                return "ran, but the worker could not record its success" in worker.text()

            # The settle step tries again with backoff, then gives the message back.
            await poll(failed_to_record, "failed to record the outcome", worker)
            await client.delete(job_key)  # the store is back

            async def completed() -> bool:
                info = await app.queue.get_job(job)
                return info is not None and info.status is JobStatus.COMPLETED

            await poll(completed, "completed", worker)
            info = await app.queue.get_job(job)
    finally:
        await client.aclose()
        assert worker.stop() == 0, worker.text()[-3000:]

    assert info is not None
    assert info.result == "stored"
    runs = [r["first"] for r in read_records(record) if r["task"] == "interop.held_once"]
    assert runs[0] is True
    assert runs[-1] is False


async def test_a_cancelled_job_never_runs_once_its_record_is_gone(broker: Broker, tmp_path: Path) -> None:
    """``retention.completed_seconds: 0`` deletes a cancelled record at once; its
    delayed message, still on the broker, must not start the job (finding 4)."""
    record = tmp_path / "facade.jsonl"
    section = broker.section(retention={"completed_seconds": 0})
    app = TasksApp.from_dict({"tasks": section}, environ={}, registry=interop_tasks.registry)
    async with app:
        job = (await app.queue.enqueue(interop_tasks.multiply(3, 4), delay=0.5)).unwrap()
        assert (await app.queue.cancel(job)).unwrap() is True
        assert await app.queue.get_job(job) is None  # the record is gone
        worker = Worker(
            celery_worker_argv("tests.celery.facade_app:celery_app", broker.queue),
            {"FACADE_SECTION": json.dumps(section), "FACADE_RECORD": str(record)},
            tmp_path / "worker.log",
        )
        try:
            later = (await app.queue.enqueue(interop_tasks.multiply(5, 6), delay=0.6)).unwrap()

            async def later_ran() -> bool:
                return any(r.get("args") == [5, 6] for r in read_records(record))

            # The job enqueued after it, delayed a little longer, has run: the
            # cancelled one's message was delivered before it.
            await poll(later_ran, f"ran {later}", worker)

            async def refused() -> bool:
                return f"job {job} (interop.multiply) is cancelled: not run" in worker.text()

            await poll(refused, "refused the cancelled job", worker)
        finally:
            assert worker.stop() == 0, worker.text()[-3000:]

    assert [r["args"] for r in read_records(record) if r["task"] == "interop.multiply"] == [[5, 6]]


async def test_a_job_that_kills_its_worker_is_dead_lettered_after_max_attempts(
    broker: Broker, tmp_path: Path
) -> None:
    """Each attempt SIGKILLs its worker; once attempts run out the redelivered
    message is dead-lettered with WorkerLostError, not run again (finding 8)."""
    record = tmp_path / "facade.jsonl"
    celery: dict[str, Any] = {"key_prefix": broker.prefix, "transport_options": broker.transport}
    if broker.kind == "redis":  # unacked messages come back after 1 s, not 1 h
        celery |= {"visibility_timeout": 1}
        celery["transport_options"] = {
            **broker.transport,
            "unacked_restore_interval": 0.2,
            "unacked_mutex_expire": 2,  # the restore lock of a killed worker
        }
    section = broker.section(extra={"celery": celery})  # retry.max_attempts is 2
    app = TasksApp.from_dict({"tasks": section}, environ={}, registry=interop_tasks.registry)
    env = {"FACADE_SECTION": json.dumps(section), "FACADE_RECORD": str(record)}
    argv = celery_worker_argv("tests.celery.facade_app:celery_app", broker.queue)
    async with app:
        job = (await app.queue.enqueue(interop_tasks.kills_worker())).unwrap()
        starts = 0
        while await app.dead_letters.count() == 0:
            starts += 1
            assert starts <= 4, f"still not dead-lettered after {starts - 1} worker(s) were killed"
            worker = Worker(argv, env, tmp_path / f"worker-{starts}.log")
            deadline = asyncio.get_running_loop().time() + 20
            while worker.alive() and await app.dead_letters.count() == 0:
                assert asyncio.get_running_loop().time() < deadline, worker.text()[-3000:]
                await asyncio.sleep(0.05)
            worker.stop()
        [letter] = await app.dead_letters.list()
        info = await app.queue.get_job(job)

    assert letter.job_id == job
    assert letter.error_type == "lexigram_compat.errors.WorkerLostError"
    assert letter.attempts == 2
    assert info is not None
    assert info.status is JobStatus.FAILED
    assert len([r for r in read_records(record) if r["task"] == "interop.kills_worker"]) == 2


async def test_clear_keeps_no_record_of_cleared_jobs_but_refuses_their_messages(broker: Broker) -> None:
    """Cleared jobs left a ``q:<queue>:cleared`` index nobody read or trimmed (finding 12):
    the ledger keeps neither records nor indexes of them, only a tombstone per job
    that expires, so a message of one still on the broker never starts it."""
    app = TasksApp.from_dict({"tasks": broker.section()}, environ={}, registry=interop_tasks.registry)
    client = aioredis.Redis.from_url(broker.redis_url)
    try:
        async with app:
            jobs = [
                (await app.queue.enqueue(interop_tasks.multiply(n, 1), delay=60)).unwrap() for n in range(3)
            ]
            assert await app.queue.clear() == 3
            assert [await app.queue.get_job(job) for job in jobs] == [None, None, None]
            left = [key async for key in client.scan_iter(match=f"{broker.prefix}idx:*")]
            left += [key async for key in client.scan_iter(match=f"{broker.prefix}job:*")]
            assert left == []
            ttls = [await client.ttl(f"{broker.prefix}gone:{job}") for job in jobs]
            assert all(ttl > 0 for ttl in ttls), ttls  # the tombstones expire
    finally:
        await client.aclose()
