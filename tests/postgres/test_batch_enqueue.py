"""``enqueue_many`` of one task: one statement over two arrays, with no ON CONFLICT;
an id the caller chose that is taken makes the engine write the batch again
resolving each id, so nothing is lost and nothing doubled."""

from __future__ import annotations

import dataclasses

import psycopg

from lexigram_compat import JobStatus
from lexigram_compat.adapters.postgres import PostgresEngine
from lexigram_compat.envelope import JobEnvelope
from tests.conformance import jobs
from tests.conformance.harness import ok

from .conftest import MakeApp
from .databases import ScratchDatabase


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
    assert engine._batch([job.envelope for job in app.builder.build_many(calls, origin=app.queue.backend)])

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
    assert engine._batch(envelopes) is not None  # the one-statement path is the one tried

    ids = await engine.enqueue(envelopes)

    assert ids == [taken, built[1].job_id]
    rows = await _rows(database)
    assert [job_id for job_id, _ in rows] == [taken, built[1].job_id]
    assert JobEnvelope.from_bytes(rows[0][1]).args[0] == "first"
