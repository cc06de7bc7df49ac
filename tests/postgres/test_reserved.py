"""A prefetched job (claimed beyond a worker's free slots, not started) is
reserved, not running: no attempt is counted until it starts, it reads as
pending, it can be cancelled, and a worker that dies holding it gives it back
without counting an attempt."""

from __future__ import annotations

import psycopg

from lexigram_compat import JobStatus
from tests.conformance import jobs
from tests.conformance.harness import ok
from tests.conformance.recorder import Recorder

from .conftest import MakeApp, MakeWorker
from .databases import ScratchDatabase
from .workers import wait_until

# One slot, and a long poll interval: the worker holds its prefetched job.
SETTINGS = {"worker": {"max_concurrent_tasks": 1, "poll_interval": 30.0}, "retry": {"max_attempts": 1}}


async def _held(database: ScratchDatabase, recorder: Recorder, job_id: str) -> None:
    async def long_started() -> bool:
        return recorder.runs("slow.start", "long") == 1

    await wait_until(long_started, "the worker started the long job")

    async def reserved() -> bool:
        async with await psycopg.AsyncConnection.connect(database.dsn) as conn:
            cursor = await conn.execute(
                "SELECT worker IS NOT NULL FROM lexigram.jobs WHERE id = %s", [job_id]
            )
            row = await cursor.fetchone()
        return bool(row and row[0])

    await wait_until(reserved, "the worker prefetched the short job")


async def test_a_prefetched_job_lost_with_its_worker_is_given_back_without_counting_an_attempt(
    make_app: MakeApp, make_worker: MakeWorker, recorder: Recorder, database: ScratchDatabase
) -> None:
    app = await make_app(**SETTINGS)
    long = ok(await app.queue.enqueue(jobs.slow("long", [30.0])))
    short = ok(await app.queue.enqueue(jobs.noop("short")))
    first = await make_worker(**SETTINGS).start()
    await _held(database, recorder, short)

    info = await app.queue.get_job(short)
    assert info is not None
    assert (info.status, info.attempts, info.started_at) == (JobStatus.PENDING, 0, None)
    running = await app.queue.get_job(long)
    assert running is not None
    assert (running.status, running.attempts) == (JobStatus.RUNNING, 1)
    queue = running.queue
    assert await app.queue.count(queue, JobStatus.RUNNING) == 1  # the long job only
    assert await app.queue.count(queue, JobStatus.PENDING) == 1  # the prefetched one

    first.kill()
    second = await make_worker(**{**SETTINGS, "worker": {"poll_interval": 0.2}}).start()

    async def short_ran() -> bool:
        return len(recorder.entries("noop")) == 1

    await wait_until(short_ran, "the short job ran on the second worker")

    async def short_done() -> bool:
        done = await app.queue.get_job(short)
        return done is not None and done.status is JobStatus.COMPLETED

    await wait_until(short_done, "the short job completed")
    done = await app.queue.get_job(short)
    assert done is not None
    assert done.attempts == 1
    assert [e.pid for e in recorder.entries("noop")] == [second.pid]
    assert await app.dead_letters.get(short) is None
    second.kill()


async def test_a_prefetched_job_can_be_cancelled_and_never_runs(
    make_app: MakeApp, make_worker: MakeWorker, recorder: Recorder, database: ScratchDatabase
) -> None:
    app = await make_app(**SETTINGS)
    ok(await app.queue.enqueue(jobs.slow("long", [1.0])))
    short = ok(await app.queue.enqueue(jobs.noop("short")))
    worker = await make_worker(**SETTINGS).start()
    await _held(database, recorder, short)

    assert ok(await app.queue.cancel(short)) is True

    async def long_done() -> bool:
        return recorder.runs("slow.end", "long") == 1

    await wait_until(long_done, "the long job finished")
    assert await worker.stop() == 0
    info = await app.queue.get_job(short)
    assert info is not None
    assert info.status is JobStatus.CANCELLED
    assert recorder.entries("noop") == []
