"""Recording an outcome while the server is unreachable: the worker keeps
trying (the job still heartbeated) for as long as the outage lasts, so a job
that succeeded is never re-run or dead-lettered because of it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import psycopg
import pytest

from lexigram_compat import JobStatus
from tests.conformance import jobs
from tests.conformance.harness import ok

from .conftest import MakeApp
from .databases import ScratchDatabase
from .proxy import Relay
from .test_job_source import source_of
from .workers import wait_until


@pytest.fixture
async def relay(database: ScratchDatabase) -> AsyncIterator[Relay]:
    relay = await Relay(database.dsn).start()
    try:
        yield relay
    finally:
        await relay.close()


async def test_an_outcome_is_recorded_after_an_outage_longer_than_half_the_lease(
    make_app: MakeApp, relay: Relay
) -> None:
    app = await make_app(backend={"postgres_dsn": relay.dsn})  # lease_seconds=1.0
    job_id = ok(await app.queue.enqueue(jobs.add(1, 2)))
    source = source_of(app)
    [claimed] = await source.claim([app.queue.backend.queue_name], 1)

    relay.outage()
    completing = asyncio.create_task(source.complete(claimed, 3))
    await asyncio.sleep(2.5)  # the outage itself: what the test is about
    assert not completing.done(), "the outcome was given up while the server was away"
    relay.restore()

    assert await asyncio.wait_for(completing, 20) is True
    info = await app.queue.get_job(job_id)
    assert info is not None
    assert (info.status, info.attempts, info.result) == (JobStatus.COMPLETED, 1, 3)


async def test_the_first_operations_after_the_server_dropped_every_connection_succeed(
    make_app: MakeApp, database: ScratchDatabase
) -> None:
    app = await make_app()
    # Fill the pool with idle connections.
    await asyncio.gather(*(app.queue.enqueue(jobs.noop(str(n))) for n in range(8)))
    async with await psycopg.AsyncConnection.connect(database.dsn, autocommit=True) as admin:
        cursor = await admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        row = await cursor.fetchone()
        assert row is not None
        assert row[0] >= 1

        async def gone() -> bool:
            cursor = await admin.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            row = await cursor.fetchone()
            return row is not None and row[0] == 0

        await wait_until(gone, "the server ended the terminated backends")

    results = [await app.queue.enqueue(jobs.noop(f"after-{n}")) for n in range(4)]

    assert all(r.is_ok() for r in results), results
    assert await app.queue.count() == 12
