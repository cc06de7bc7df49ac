"""``enqueue_many`` of one task: one statement over two arrays, with no ON CONFLICT;
an id the caller chose that is taken makes the engine write the batch again
resolving each id, so nothing is lost and nothing doubled."""

from __future__ import annotations

import asyncio
import dataclasses

import psycopg

from lexigram_compat import JobStatus
from lexigram_compat.adapters.postgres import PostgresEngine
from lexigram_compat.envelope import JobEnvelope
from tests.conformance import jobs
from tests.conformance.harness import ok
from tests.conformance.recorder import Recorder

from .conftest import MakeApp, MakeWorker
from .databases import ScratchDatabase
from .workers import wait_until

# A worker that polls every 30 s and runs its upkeep every 5 s (a quarter of the
# lease, at most 5 s): a job it starts within 2.5 s of a 1 s idle was announced by NOTIFY.
IDLE = {"worker": {"poll_interval": 30.0, "lease_seconds": 120.0}}


async def _rows(database: ScratchDatabase) -> list[tuple[str, bytes]]:
    async with await psycopg.AsyncConnection.connect(database.dsn) as conn:
        cursor = await conn.execute("SELECT id, payload FROM lexigram.jobs ORDER BY seq")
        return [(row[0], bytes(row[1])) for row in await cursor.fetchall()]


async def test_a_batch_of_one_task_is_stored_in_call_order(
    make_app: MakeApp, database: ScratchDatabase
) -> None:
    app = await make_app()
    calls = [jobs.noop(f"n-{n}") for n in range(50)]
    engine = app.queue.backend.engine
    assert isinstance(engine, PostgresEngine)
    assert engine._fresh([job.envelope for job in app.builder.build_many(calls, origin=app.queue.backend)])

    ids = ok(await app.queue.enqueue_many(calls))

    rows = await _rows(database)
    assert [job_id for job_id, _ in rows] == ids
    stored = [JobEnvelope.from_bytes(payload) for _, payload in rows]
    assert [e.args[0] for e in stored] == [f"n-{n}" for n in range(50)]
    assert all(e.job_id == job_id for e, job_id in zip(stored, ids, strict=True))
    assert await app.queue.count(status=JobStatus.PENDING) == 50


async def test_a_batch_with_a_taken_id_keeps_that_job_and_writes_the_others(
    make_app: MakeApp, database: ScratchDatabase
) -> None:
    app = await make_app()
    taken = ok(await app.queue.enqueue(jobs.noop("first"), job_id="taken"))
    built = [
        job.envelope
        for job in app.builder.build_many([jobs.noop("again"), jobs.noop("new")], origin=app.queue.backend)
    ]
    envelopes = [dataclasses.replace(built[0], job_id=taken), built[1]]
    engine = app.queue.backend.engine
    assert isinstance(engine, PostgresEngine)
    assert engine._fresh(envelopes) is not None  # the one-statement path is the one tried

    ids = await engine.enqueue(envelopes)

    assert ids == [taken, built[1].job_id]
    rows = await _rows(database)
    assert [job_id for job_id, _ in rows] == [taken, built[1].job_id]
    assert JobEnvelope.from_bytes(rows[0][1]).args[0] == "first"


async def test_a_single_job_and_a_batch_wake_an_idle_worker(
    make_app: MakeApp, make_worker: MakeWorker, recorder: Recorder
) -> None:
    app = await make_app(**IDLE)
    await make_worker(**IDLE).start()
    await asyncio.sleep(1.0)  # its listener connected and its first claims found nothing

    ok(await app.queue.enqueue(jobs.noop("one")))

    async def ran_one() -> bool:
        return len(recorder.entries("noop", tag="one")) == 1

    await wait_until(ran_one, "the idle worker ran the single job", timeout=2.5)
    ok(await app.queue.enqueue_many([jobs.noop(f"b-{n}") for n in range(3)]))

    async def ran_batch() -> bool:
        return all(len(recorder.entries("noop", tag=f"b-{n}")) == 1 for n in range(3))

    await wait_until(ran_batch, "the idle worker ran the batch", timeout=2.5)


async def test_a_single_job_with_a_taken_id_returns_that_job(
    make_app: MakeApp, database: ScratchDatabase
) -> None:
    app = await make_app()
    taken = ok(await app.queue.enqueue(jobs.noop("first"), job_id="taken"))

    again = ok(await app.queue.enqueue(jobs.noop("again"), job_id="taken"))

    assert again == taken
    rows = await _rows(database)
    assert [job_id for job_id, _ in rows] == [taken]
    assert JobEnvelope.from_bytes(rows[0][1]).args[0] == "first"
