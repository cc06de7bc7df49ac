"""Transactional enqueue: a job written on the caller's connection commits or
rolls back with the caller's own rows."""

from __future__ import annotations

import asyncio

import psycopg

from lexigram_compat import JobStatus, TaskValidationError
from tests.conformance import jobs
from tests.conformance.harness import err, ok

from .conftest import MakeApp
from .databases import ScratchDatabase


async def _orders(db: ScratchDatabase) -> list[str]:
    async with await psycopg.AsyncConnection.connect(db.dsn) as conn:
        rows = await (await conn.execute("SELECT id FROM orders ORDER BY id")).fetchall()
    return [row[0] for row in rows]


async def _create_orders(db: ScratchDatabase) -> None:
    async with await psycopg.AsyncConnection.connect(db.dsn, autocommit=True) as conn:
        await conn.execute("CREATE TABLE orders (id text PRIMARY KEY)")


async def test_the_job_commits_with_the_callers_rows(make_app: MakeApp, database: ScratchDatabase) -> None:
    app = await make_app()
    await _create_orders(database)
    async with await psycopg.AsyncConnection.connect(database.dsn) as conn:
        await conn.execute("INSERT INTO orders VALUES ('o-1')")
        job_id = ok(await app.queue.enqueue(jobs.noop("o-1"), connection=conn))
        # Another connection sees neither the row nor the job before the commit.
        assert await app.queue.get_job(job_id) is None
        await conn.commit()

    assert await _orders(database) == ["o-1"]
    assert (await app.queue.get_job(job_id)) is not None
    await app.run_worker(until_idle=True, scheduler=False)
    info = await app.queue.get_job(job_id)
    assert info is not None
    assert info.status is JobStatus.COMPLETED


async def test_a_rollback_leaves_neither_the_rows_nor_the_job(
    make_app: MakeApp, database: ScratchDatabase
) -> None:
    app = await make_app()
    await _create_orders(database)
    async with await psycopg.AsyncConnection.connect(database.dsn) as conn:
        await conn.execute("INSERT INTO orders VALUES ('o-2')")
        single = ok(await app.queue.enqueue(jobs.noop("o-2"), connection=conn))
        await conn.rollback()

    assert await _orders(database) == []
    assert await app.queue.get_job(single) is None
    assert await app.queue.count() == 0
    assert await app.run_worker(until_idle=True, scheduler=False) == 0


async def test_enqueue_sync_takes_a_sync_connection(make_app: MakeApp, database: ScratchDatabase) -> None:
    app = await make_app()
    await _create_orders(database)

    def in_a_thread() -> tuple[str, str]:
        with psycopg.connect(database.dsn) as conn:
            conn.execute("INSERT INTO orders VALUES ('o-3')")
            kept = ok(app.queue.enqueue_sync(jobs.noop("kept"), connection=conn))
            conn.commit()
            conn.execute("INSERT INTO orders VALUES ('o-4')")
            dropped = ok(app.queue.enqueue_sync(jobs.noop("dropped"), connection=conn))
            conn.rollback()
        return kept, dropped

    kept, dropped = await asyncio.to_thread(in_a_thread)

    assert await _orders(database) == ["o-3"]
    assert await app.queue.get_job(kept) is not None
    assert await app.queue.get_job(dropped) is None


async def test_something_that_is_not_a_psycopg_connection_is_err_naming_it(make_app: MakeApp) -> None:
    app = await make_app()

    error = err(await app.queue.enqueue(jobs.noop("x"), connection="not-a-connection"))

    assert isinstance(error, TaskValidationError)
    assert "'not-a-connection'" in error.message
    assert "psycopg" in (error.hint or "")
    assert await app.queue.count() == 0


async def test_a_sync_transactional_enqueue_waiting_on_a_lock_does_not_stall_the_apps_loop(
    make_app: MakeApp, database: ScratchDatabase
) -> None:
    """``enqueue_sync(connection=)`` runs the caller's blocking connection off the
    app's event loop: the loop (workers, scheduler, other enqueues) keeps going
    while the insert waits on a lock."""
    app = await make_app()
    async with await psycopg.AsyncConnection.connect(database.dsn) as holder:
        held_call = jobs.noop("held").options(idempotency_key="K-lock")
        ok(await app.queue.enqueue(held_call, connection=holder))
        with psycopg.connect(database.dsn) as conn:
            conn.execute("SET lock_timeout = '5s'")
            waiting_call = jobs.noop("waits").options(idempotency_key="K-lock")
            blocked = asyncio.create_task(
                asyncio.to_thread(app.queue.enqueue_sync, waiting_call, connection=conn)
            )
            # The loop still serves other work while that insert waits.
            other = await asyncio.wait_for(app.queue.enqueue(jobs.noop("other")), 3)
            assert other.is_ok()
            assert not blocked.done()
            await holder.commit()
            result = await blocked
            conn.commit()
    assert result.is_ok(), result
