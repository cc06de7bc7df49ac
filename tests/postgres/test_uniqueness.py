"""Uniqueness enforced by the database, across processes: idempotency keys by a
unique index, and one job per (schedule, fire time) however many schedulers tick."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import psycopg

from lexigram_compat import JobStatus
from lexigram_compat.scheduling import schedule_job_id
from tests.conformance import jobs
from tests.conformance.harness import ok
from tests.conformance.recorder import Recorder

from .conftest import MakeApp
from .databases import ScratchDatabase
from .workers import wait_until

START = datetime(2032, 3, 1, 0, 1, tzinfo=UTC)


async def test_concurrent_producers_with_one_key_make_one_job(make_app: MakeApp) -> None:
    apps = [await make_app() for _ in range(5)]

    ids = await asyncio.gather(
        *(app.queue.enqueue(jobs.noop(f"from-{n}"), idempotency_key="once") for n, app in enumerate(apps))
    )

    assert len({ok(r) for r in ids}) == 1
    assert await apps[0].queue.count() == 1


async def test_enqueue_many_with_a_repeated_key_returns_the_first_id(make_app: MakeApp) -> None:
    app = await make_app()
    earlier = ok(await app.queue.enqueue(jobs.charge("o-0", 1)))

    ids = ok(
        await app.queue.enqueue_many([jobs.charge("o-1", 1), jobs.charge("o-1", 2), jobs.charge("o-0", 3)])
    )

    assert ids[0] == ids[1]
    assert ids[2] == earlier
    assert await app.queue.count() == 2


async def test_schedulers_in_many_apps_make_one_job_per_fire_time(
    make_app: MakeApp, recorder: Recorder
) -> None:
    apps = [await make_app(retention={"completed_seconds": 0}) for _ in range(4)]
    schedulers = [app.make_scheduler(start=START) for app in apps]
    fires = [START + timedelta(minutes=m) for m in (4, 9, 14)]
    expected = [schedule_job_id(jobs.SCHEDULE_NAME, fire) for fire in fires]

    ticked = await asyncio.gather(*(s.tick(START + timedelta(minutes=16)) for s in schedulers))

    assert all(ids == expected for ids in ticked)
    assert await apps[0].queue.count() == 3
    await apps[0].run_worker(until_idle=True, scheduler=False)
    assert len(recorder.entries("every_five_minutes")) == 3
    # The jobs are gone (completed_seconds=0); the fire-time guard is not.
    assert await apps[0].queue.get_job(expected[0]) is None
    late = apps[1].make_scheduler(start=START)
    assert await late.tick(START + timedelta(minutes=16)) == expected
    assert await apps[0].queue.count() == 0
    assert await apps[0].queue.count(status=JobStatus.COMPLETED) == 0


async def test_enqueue_many_returns_the_id_of_a_key_committed_while_it_waited(
    make_app: MakeApp, database: ScratchDatabase
) -> None:
    """The batch insert waits on a key another transaction holds; when that one
    commits, the id returned is the committed job's, which exists."""
    app = await make_app()
    async with await psycopg.AsyncConnection.connect(database.dsn) as holder:
        held = ok(
            await app.queue.enqueue(jobs.noop("held").options(idempotency_key="K-race"), connection=holder)
        )
        batch = asyncio.create_task(
            app.queue.enqueue_many([jobs.noop("mine").options(idempotency_key="K-race"), jobs.noop("other")])
        )

        async def waiting() -> bool:
            async with await psycopg.AsyncConnection.connect(database.dsn, autocommit=True) as probe:
                cursor = await probe.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock'"
                )
                row = await cursor.fetchone()
            return row is not None and row[0] >= 1

        await wait_until(waiting, "the batch insert waits on the held key")
        await holder.commit()

    first, second = ok(await batch)
    assert first == held
    assert await app.queue.get_job(first) is not None
    assert await app.queue.get_job(second) is not None
