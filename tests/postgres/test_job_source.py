"""The consumer side, statement by statement: batched claims, guarded outcomes
(attempt tokens), heartbeats, rescue and retention."""

from __future__ import annotations

import asyncio

import psycopg

from lexigram_compat import JobStatus, TasksApp
from lexigram_compat.adapters.postgres import PostgresEngine
from lexigram_compat.adapters.postgres.source import PostgresJobSource
from lexigram_compat.engine_contract import ClaimedJob, FailureInfo
from lexigram_compat.envelope import utcnow
from lexigram_compat.errors import WorkerLostError
from lexigram_compat.letters import dead_letter_of
from lexigram_compat.outcomes import qualified_name
from tests.conformance import jobs
from tests.conformance.harness import ok

from .conftest import MakeApp
from .databases import ScratchDatabase
from .workers import wait_until

FAILURE = FailureInfo("RuntimeError", "boom", "Traceback ...")
LOST_WORKER = qualified_name(WorkerLostError)


async def dead_letter(source: PostgresJobSource, job: ClaimedJob, failure: FailureInfo) -> bool:
    """``source.dead_letter`` with the letter the settle step would build."""
    assert job.envelope is not None
    return await source.dead_letter(job, dead_letter_of(job.envelope, failure), failure)


def source_of(app: TasksApp) -> PostgresJobSource:
    engine = app.queue.backend.engine
    assert isinstance(engine, PostgresEngine)
    source = engine.job_source()
    assert isinstance(source, PostgresJobSource)
    return source


async def test_one_claim_takes_a_batch_in_priority_then_age_order(make_app: MakeApp) -> None:
    app = await make_app()
    ids = ok(await app.queue.enqueue_many([jobs.noop(str(n)) for n in range(30)]))
    urgent = ok(await app.queue.enqueue(jobs.noop("urgent"), priority=20))
    source = source_of(app)

    claimed = await source.claim([app.queue.backend.queue_name], 50)

    assert [c.job_id for c in claimed] == [urgent, *ids]
    assert all(c.envelope is not None and c.envelope.attempts == 1 for c in claimed)
    assert await app.queue.count(status=JobStatus.RUNNING) == 31
    assert await source.claim([app.queue.backend.queue_name], 50) == []


async def test_concurrent_claims_never_share_a_job(make_app: MakeApp) -> None:
    producer = await make_app()
    ok(await producer.queue.enqueue_many([jobs.noop(str(n)) for n in range(200)]))
    sources = [source_of(await make_app()) for _ in range(4)]
    queue = producer.queue.backend.queue_name

    async def claim_all(source: PostgresJobSource) -> list[str]:
        got: list[str] = []
        while batch := await source.claim([queue], 7):
            got += [c.job_id for c in batch]
        return got

    results = await asyncio.gather(*(claim_all(s) for s in sources))

    every = [job_id for got in results for job_id in got]
    assert len(every) == 200
    assert len(set(every)) == 200


async def test_outcomes_are_written_in_one_batch_and_a_stale_token_is_rejected(
    make_app: MakeApp, database: ScratchDatabase
) -> None:
    app = await make_app()
    ok(await app.queue.enqueue_many([jobs.add(n, 1) for n in range(20)]))
    source = source_of(app)
    claimed = await source.claim([app.queue.backend.queue_name], 20)

    accepted = await asyncio.gather(*(source.complete(c, n) for n, c in enumerate(claimed)))

    assert accepted == [True] * 20
    assert await app.queue.count(status=JobStatus.COMPLETED) == 20
    # Rows one statement wrote (autocommit: one transaction) share their xmin.
    # The first outcome is written at once, the others together by the next
    # statement: at most two writes for twenty outcomes.
    async with await psycopg.AsyncConnection.connect(database.dsn) as conn:
        cursor = await conn.execute("SELECT count(DISTINCT xmin::text) FROM lexigram.jobs")
        row = await cursor.fetchone()
    assert row is not None
    assert row[0] <= 2, f"20 outcomes took {row[0]} statements"
    assert (await app.queue.get_job(claimed[3].job_id)).result == 3  # type: ignore[union-attr]
    # A second outcome for the same attempt (or any older token) changes nothing.
    assert await source.complete(claimed[0], "late") is False
    assert await source.retry(claimed[1], utcnow(), FAILURE) is False
    assert await dead_letter(source, claimed[2], FAILURE) is False
    assert (await app.queue.get_job(claimed[0].job_id)).result == 0  # type: ignore[union-attr]


async def test_heartbeats_keep_a_long_job_from_being_rescued(make_app: MakeApp) -> None:
    app = await make_app()
    job_id = ok(await app.queue.enqueue(jobs.noop("alive")))
    source = source_of(app)
    [alive] = await source.claim([app.queue.backend.queue_name], 1)

    loop = asyncio.get_running_loop()
    until = loop.time() + 2.5  # longer than two leases
    while loop.time() < until:
        await source.heartbeat([alive])
        await source.maintain()
        await asyncio.sleep(0.2)

    assert (await app.queue.get_job(job_id)).status is JobStatus.RUNNING  # type: ignore[union-attr]
    assert await source.complete(alive, None) is True


async def test_a_lost_job_with_no_attempt_left_is_dead_lettered(make_app: MakeApp) -> None:
    app = await make_app()
    job_id = ok(await app.queue.enqueue(jobs.needs_missing("last")))  # max_retries=0: one attempt
    source = source_of(app)
    await source.claim([app.queue.backend.queue_name], 1)

    async def dead() -> bool:
        await source.maintain()
        return await app.dead_letters.get(job_id) is not None

    await wait_until(dead, "the job is dead-lettered")
    letter = await app.dead_letters.get(job_id)
    assert letter is not None
    assert (letter.error_type, letter.attempts) == (LOST_WORKER, 1)
    assert "lost during attempt 1 of 1; not run again" in letter.error_message


async def test_a_cancelled_job_is_never_claimed(make_app: MakeApp) -> None:
    app = await make_app()
    cancelled = ok(await app.queue.enqueue(jobs.noop("cancelled")))
    kept = ok(await app.queue.enqueue(jobs.noop("kept")))
    assert ok(await app.queue.cancel(cancelled)) is True

    claimed = await source_of(app).claim([app.queue.backend.queue_name], 10)

    assert [c.job_id for c in claimed] == [kept]


async def test_completed_jobs_are_swept_after_their_retention(make_app: MakeApp) -> None:
    app = await make_app(retention={"completed_seconds": 0.5})
    ids = ok(await app.queue.enqueue_many([jobs.noop(str(n)) for n in range(5)]))
    await app.run_worker(until_idle=True, scheduler=False)
    assert await app.queue.count(status=JobStatus.COMPLETED) == 5
    source = source_of(app)

    async def swept() -> bool:
        await source.maintain()
        return await app.queue.count(status=JobStatus.COMPLETED) == 0

    await wait_until(swept, "completed jobs are deleted")
    assert [await app.queue.get_job(i) for i in ids] == [None] * 5


async def test_retention_zero_deletes_a_completed_job_at_once(make_app: MakeApp) -> None:
    app = await make_app(retention={"completed_seconds": 0})
    job_id = ok(await app.queue.enqueue(jobs.noop("gone")))

    assert await app.run_worker(until_idle=True, scheduler=False) == 1

    assert await app.queue.get_job(job_id) is None
    assert await app.queue.count(status=JobStatus.COMPLETED) == 0


async def test_a_claim_lost_with_unflushed_wal_cannot_reuse_the_attempt_token(
    make_app: MakeApp, database: ScratchDatabase
) -> None:
    """Workers commit asynchronously: a server crash may forget a claim. The
    next claim of that row must still get a token the lost one never had."""
    app = await make_app()
    job_id = ok(await app.queue.enqueue(jobs.add(1, 1)))
    queue = app.queue.backend.queue_name
    first = source_of(app)
    [lost] = await first.claim([queue], 1)
    # What the row looks like after a crash lost the claim's commit record.
    async with await psycopg.AsyncConnection.connect(database.dsn, autocommit=True) as conn:
        await conn.execute(
            "UPDATE lexigram.jobs SET state = 'pending', attempts = 0, token = 0, worker = NULL, "
            "started_at = NULL, heartbeat_at = NULL WHERE id = %s",
            [job_id],
        )
    second = source_of(await make_app())
    [again] = await second.claim([queue], 1)

    assert again.token != lost.token
    assert await first.complete(lost, "stale") is False
    assert await second.complete(again, 2) is True
    info = await app.queue.get_job(job_id)
    assert info is not None
    assert info.result == 2
