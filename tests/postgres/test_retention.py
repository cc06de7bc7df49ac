"""Retention keeps up with throughput: one upkeep pass deletes every finished
job past retention, however many (in batches, within a time budget)."""

from __future__ import annotations

import psycopg

from .conftest import MakeApp
from .databases import ScratchDatabase
from .test_job_source import source_of

COUNT = 12_000


async def test_one_upkeep_pass_deletes_more_than_one_batch_of_completed_jobs(
    make_app: MakeApp, database: ScratchDatabase
) -> None:
    app = await make_app(worker={"lease_seconds": 30.0, "heartbeat_interval": 10.0})  # a 2 s sweep budget
    async with await psycopg.AsyncConnection.connect(database.dsn, autocommit=True) as conn:
        await conn.execute(
            "INSERT INTO lexigram.jobs (id, queue, task_name, state, payload, finished_at) "
            "SELECT 'old-' || n, 'tasks', 'conformance.noop', 'completed', '\\x7b7d'::bytea, "
            "now() - interval '30 days' FROM generate_series(1, %s) AS n",
            [COUNT],
        )
        await conn.execute(
            "INSERT INTO lexigram.jobs (id, queue, task_name, state, payload, finished_at) "
            "VALUES ('recent', 'tasks', 'conformance.noop', 'completed', '\\x7b7d'::bytea, now())"
        )

        await source_of(app).maintain()

        cursor = await conn.execute("SELECT id FROM lexigram.jobs WHERE state = 'completed'")
        left = [row[0] for row in await cursor.fetchall()]
    assert left == ["recent"]
