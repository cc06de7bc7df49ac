"""A completion carries the worker's next step (issue 15): the statement that
records it also starts the reserved job the freed slot takes next and, while
the queue is busy, reserves the following ones, so a busy worker makes one
round trip per batch of completions instead of a completion, a start and a
claim. Counted by statement, never timed."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import psycopg
import pytest
from psycopg import sql

from lexigram_compat import JobStatus, TasksApp
from lexigram_compat.adapters.postgres.source import ADVANCE_UP_TO, PostgresJobSource
from lexigram_compat.engine_contract import FailureInfo
from lexigram_compat.envelope import utcnow
from tests.conformance import jobs
from tests.conformance.harness import ok

from .conftest import MakeApp
from .test_job_source import source_of

PREFETCH = {"worker": {"max_concurrent_tasks": 2}}


@pytest.fixture
def statements(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Statements executed by any psycopg connection, by the first words of their text."""
    seen: Counter[str] = Counter()
    execute = psycopg.AsyncConnection.execute

    async def counted(self: psycopg.AsyncConnection[Any], query: Any, *args: Any, **kwargs: Any) -> Any:
        seen[str(query)] += 1
        return await execute(self, query, *args, **kwargs)

    monkeypatch.setattr(psycopg.AsyncConnection, "execute", counted)
    return seen


def _runs(statements: Counter[str], source: PostgresJobSource, *names: str) -> int:
    queries = source.engine.queries
    return sum(statements[queries[name]] for name in names)


async def _status(app: TasksApp, job_id: str) -> tuple[JobStatus, int]:
    info = await app.queue.get_job(job_id)
    assert info is not None
    return info.status, info.attempts


async def test_a_completion_starts_the_next_reserved_job_and_reserves_ahead(
    make_app: MakeApp, statements: Counter[str]
) -> None:
    app = await make_app(**PREFETCH)
    queue = app.queue.backend.queue_name
    ids = ok(await app.queue.enqueue_many([jobs.noop(str(n)) for n in range(5)]))
    source = source_of(app)
    # One job runs, two are reserved; the claim came back full: the queue is busy.
    claimed = await source.claim_ahead([queue], 1, 2)
    assert [c.job_id for c in claimed] == ids[:3]
    statements.clear()

    assert await source.complete(claimed[0], None)

    assert _runs(statements, source, "complete_and_advance") == 1
    assert await _status(app, ids[0]) == (JobStatus.COMPLETED, 1)
    # Started by that statement: the attempt is counted before the job runs.
    assert await _status(app, ids[1]) == (JobStatus.RUNNING, 1)
    [started] = await source.start([claimed[1]])
    assert started.envelope is not None
    assert started.envelope.attempts == 1
    # The third stays reserved; the fourth was reserved in the started one's place
    # (no attempt counted) and the next claim hands it out without a statement.
    assert await _status(app, ids[3]) == (JobStatus.PENDING, 0)
    ahead = await source.claim_ahead([queue], 0, 1)
    assert [job.job_id for job in ahead] == [ids[3]]
    assert _runs(statements, source, "start", "claim", "complete") == 0

    # The next completion starts the third and reserves the fifth, which the
    # worker loop never takes: handed back as it was.
    assert await source.complete(started, None)
    assert await _status(app, ids[2]) == (JobStatus.RUNNING, 1)
    await source.release_prefetched()
    assert await _status(app, ids[4]) == (JobStatus.PENDING, 0)
    other = source_of(await make_app(**PREFETCH))
    assert [job.job_id for job in await other.claim([queue], 5)] == [ids[4]]


async def test_a_reserved_job_cancelled_meanwhile_is_not_started_by_a_completion(
    make_app: MakeApp,
) -> None:
    app = await make_app(**PREFETCH)
    queue = app.queue.backend.queue_name
    first, second = ok(await app.queue.enqueue_many([jobs.noop("a"), jobs.noop("b")]))
    source = source_of(app)
    claimed = await source.claim_ahead([queue], 1, 1)
    assert ok(await app.queue.cancel(second))

    assert await source.complete(claimed[0], None)

    assert await _status(app, second) == (JobStatus.CANCELLED, 0)
    assert await source.start([claimed[1]]) == []
    assert await _status(app, first) == (JobStatus.COMPLETED, 1)


async def test_above_the_advance_limit_a_completion_is_written_alone(
    make_app: MakeApp, statements: Counter[str]
) -> None:
    concurrency = ADVANCE_UP_TO + 1
    app = await make_app(worker={"max_concurrent_tasks": concurrency})
    queue = app.queue.backend.queue_name
    _, second = ok(await app.queue.enqueue_many([jobs.noop("a"), jobs.noop("b")]))
    source = source_of(app)
    claimed = await source.claim_ahead([queue], 1, concurrency)
    statements.clear()

    assert await source.complete(claimed[0], None)

    assert _runs(statements, source, "complete") == 1
    assert _runs(statements, source, "complete_and_advance") == 0
    assert await _status(app, second) == (JobStatus.PENDING, 0)


async def test_a_slot_and_a_completion_starting_the_same_reserved_job_run_it_once_counted_once(
    make_app: MakeApp,
) -> None:
    # The worker loop starts a reserved job in a freed slot while a completion's
    # statement would start the same job: whichever goes first, the loop gets the
    # job with its one counted attempt (the loser once dropped it as "cancelled",
    # leaving it running with nobody running it).
    app = await make_app(**PREFETCH)
    queue = app.queue.backend.queue_name
    ids = ok(await app.queue.enqueue_many([jobs.noop(str(n)) for n in range(4)]))
    source = source_of(app)
    claimed = await source.claim_ahead([queue], 1, 2)

    completed, started = await asyncio.gather(source.complete(claimed[0], None), source.start([claimed[1]]))

    assert completed
    assert [job.job_id for job in started] == [ids[1]]
    assert started[0].envelope is not None
    assert started[0].envelope.attempts == 1
    assert await _status(app, ids[1]) == (JobStatus.RUNNING, 1)


async def test_a_start_whose_completion_statement_reply_was_lost_is_counted_once(
    make_app: MakeApp,
) -> None:
    # complete_and_advance committed (the job running, its attempt counted) but its
    # reply was lost: the loop's own start of the job returns that attempt, adds none.
    app = await make_app(**PREFETCH)
    queue = app.queue.backend.queue_name
    ids = ok(await app.queue.enqueue_many([jobs.noop("a"), jobs.noop("b")]))
    source = source_of(app)
    claimed = await source.claim_ahead([queue], 1, 1)
    async with source.engine.worker_pool.connection("test") as conn:
        await conn.execute(
            sql.SQL("UPDATE {}.jobs SET state = 'running', attempts = attempts + 1 WHERE id = %s").format(
                sql.Identifier(source.engine.schema)
            ),
            [ids[1]],
        )

    [started] = await source.start([claimed[1]])

    assert started.envelope is not None
    assert started.envelope.attempts == 1
    assert await _status(app, ids[1]) == (JobStatus.RUNNING, 1)


async def test_handing_back_waits_for_a_completion_that_reserves_ahead(make_app: MakeApp) -> None:
    # A completion's statement in flight as the worker hands back its held jobs
    # (shutdown) brings more reserved jobs: they are handed back too, none left
    # reserved, or started, by a worker that will never run them.
    app = await make_app(**PREFETCH)
    queue = app.queue.backend.queue_name
    ids = ok(await app.queue.enqueue_many([jobs.noop(str(n)) for n in range(6)]))
    source = source_of(app)
    claimed = await source.claim_ahead([queue], 1, 2)

    completing = asyncio.ensure_future(source.complete(claimed[0], None))
    await asyncio.sleep(0)  # the completion's write is under way
    for job in claimed[1:]:
        await source.release(job)
    await source.release_prefetched()
    assert await completing

    assert await _status(app, ids[0]) == (JobStatus.COMPLETED, 1)
    for job_id in ids[1:]:
        assert await _status(app, job_id) == (JobStatus.PENDING, 0)


async def test_a_prefetched_retry_starts_as_its_next_attempt_by_either_side(make_app: MakeApp) -> None:
    """A reserved job's envelope is built once, at its reservation, with the count its
    start makes: the worker loop's start and a completion's start both hand it out as
    the attempt the row counted (here a retry's second one), due when the row says."""
    app = await make_app(**PREFETCH)
    queue = app.queue.backend.queue_name
    ids = ok(await app.queue.enqueue_many([jobs.noop(str(n)) for n in range(4)]))
    source = source_of(app)
    first = await source.claim([queue], 4)
    failure = FailureInfo("RuntimeError", "again")
    for job in first[:2]:  # two retries due now; the other two done
        assert await source.retry(job, utcnow(), failure)
    for job in first[2:]:
        assert await source.complete(job, None)

    # One runs, one is reserved; the reserved retry started by the worker loop.
    claimed = await source.claim_ahead([queue], 1, 1)
    assert [c.job_id for c in claimed] == ids[:2]
    [by_loop] = await source.start([claimed[1]])
    assert by_loop.envelope is not None
    assert by_loop.envelope.attempts == 2
    assert await _status(app, ids[1]) == (JobStatus.RUNNING, 2)

    # Both retried once more; this time a completion's statement starts the reserved one.
    for job in (claimed[0], by_loop):
        assert await source.retry(job, utcnow(), failure)
    claimed = await source.claim_ahead([queue], 1, 1)
    assert await source.complete(claimed[0], None)
    assert await _status(app, ids[1]) == (JobStatus.RUNNING, 3)
    [by_completion] = await source.start([claimed[1]])
    assert by_completion.envelope is not None
    assert by_completion.envelope.attempts == 3
    assert by_completion.envelope.run_at is not None
