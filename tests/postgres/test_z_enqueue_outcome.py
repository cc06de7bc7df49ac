"""An enqueue whose insert committed but whose answer never came (issue 14, finding 7).

The server is made to hold the answer deterministically: with a synchronous standby
named that never connects, a commit is flushed to the local WAL and then waits for
the standby (``wait_event = 'SyncRep'``). The test sees that wait, crashes the server
(``pg_ctl -m immediate``) and restarts it: the job is there, so the enqueue must not
have said ``BrokerUnavailableError`` (which promises no job was written), and
enqueueing it again under the id the error carries must not create a second job.

The server is a private cluster of this test; the shared server is never touched.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from lexigram_compat import BrokerUnavailableError, EnqueueOutcomeUnknownError, TasksApp
from lexigram_compat.adapters.postgres.sql import DEFAULT_SCHEMA
from tests.conformance import jobs

from .conftest import MakeApp
from .private_cluster import PrivateCluster, cluster_section, required_cluster
from .workers import wait_until

ABSENT_STANDBY = "lexigram_absent_standby"


@pytest.fixture
def cluster() -> Iterator[PrivateCluster]:
    yield from required_cluster()


@pytest.fixture
async def section(cluster: PrivateCluster) -> dict[str, Any]:
    """This test's apps use the private cluster (overrides conftest's)."""
    return await cluster_section(cluster)


async def _admin(cluster: PrivateCluster, *statements: str) -> list[tuple[Any, ...]]:
    """Run ``statements`` on a connection of its own that never waits for a standby;
    the rows of the last one."""
    dsn = f"{cluster.dsn}?options=-c%20synchronous_commit%3Dlocal"
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        rows: list[tuple[Any, ...]] = []
        for statement in statements:
            cursor = await conn.execute(statement)
            rows = await cursor.fetchall() if cursor.description else []
        return rows


async def _jobs_in_table(cluster: PrivateCluster) -> list[tuple[Any, ...]]:
    return await _admin(cluster, f"SELECT id, task_name FROM {DEFAULT_SCHEMA}.jobs ORDER BY seq")


async def test_a_commit_whose_answer_is_lost_is_outcome_unknown_and_a_retry_creates_no_second_job(
    make_app: MakeApp, cluster: PrivateCluster
) -> None:
    app: TasksApp = await make_app()
    await _admin(cluster, f"ALTER SYSTEM SET synchronous_standby_names = '{ABSENT_STANDBY}'",
                 "SELECT pg_reload_conf()")  # fmt: skip

    async def reloaded() -> bool:
        # pg_reload_conf() only signals the postmaster. A new connection sees the setting once
        # the postmaster reloaded, which it does before it signals the pool's backends: from
        # then on each applies it before its next statement (else the enqueue could commit
        # before its backend had the setting, and never wait).
        rows = await _admin(cluster, "SHOW synchronous_standby_names")
        return bool(rows[0][0] == ABSENT_STANDBY)

    await wait_until(reloaded, "the server reloaded synchronous_standby_names", timeout=30)
    pending = asyncio.create_task(app.queue.enqueue(jobs.noop("maybe-written")))

    async def committed_and_waiting() -> bool:
        rows = await _admin(cluster, "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'SyncRep'")
        return bool(rows[0][0])

    await wait_until(committed_and_waiting, "the enqueue's commit waits for the standby", timeout=30)
    assert not pending.done()
    await asyncio.to_thread(cluster.stop)  # pg_ctl -m immediate: the answer is never sent

    result = await asyncio.wait_for(pending, 30)
    unknown = result.unwrap_err()
    assert isinstance(unknown, EnqueueOutcomeUnknownError), result
    assert not isinstance(unknown, BrokerUnavailableError)
    assert unknown.job_id is not None
    assert unknown.job_ids == [unknown.job_id]
    assert "job_id=error.job_id" in str(unknown)

    # With the server down, nothing is sent: that is BrokerUnavailableError, no job written.
    down = await app.queue.enqueue(jobs.noop("server-down"))
    assert type(down.unwrap_err()) is BrokerUnavailableError, down

    await asyncio.to_thread(cluster.start)
    await _admin(cluster, "ALTER SYSTEM RESET synchronous_standby_names", "SELECT pg_reload_conf()")
    # The crash came after the local commit: the job was written although enqueue said Err.
    assert await _jobs_in_table(cluster) == [(unknown.job_id, "conformance.noop")]

    async def retried() -> str | None:
        again = await app.queue.enqueue(jobs.noop("maybe-written"), job_id=unknown.job_id)
        if again.is_err():
            assert isinstance(again.unwrap_err(), BrokerUnavailableError), again
            return None
        return again.unwrap()

    ids: list[str] = []

    async def retry_answered() -> bool:
        job_id = await retried()
        if job_id is not None:
            ids.append(job_id)
        return bool(ids)

    await wait_until(retry_answered, "the retried enqueue is answered", timeout=30)
    assert ids == [unknown.job_id]
    assert await _jobs_in_table(cluster) == [(unknown.job_id, "conformance.noop")]
