"""A server crash right after a claim forgets no counted attempt (issue 14,
finding 6): the claim, and the start of a prefetched job, commit
synchronously, so ``max_attempts`` and the poison-pill rule count every
attempt that ran.

The crash is ``pg_ctl -m immediate`` on a private cluster of this test (the
shared server is never touched). Its WAL writer runs every 10 s (the maximum):
an asynchronously committed claim would still sit in the WAL buffers when the
crash comes, and be forgotten by recovery — as it was, every run, when the
worker's connections committed claims with ``synchronous_commit=off``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from lexigram_compat import JobStatus, TasksApp
from lexigram_compat.queue import JobInfo
from tests.conformance import jobs
from tests.conformance.harness import ok

from .conftest import MakeApp
from .private_cluster import PrivateCluster, cluster_section, required_cluster
from .test_job_source import source_of

SLOW_WAL_WRITER = {"wal_writer_delay": "10s"}


@pytest.fixture
def cluster() -> Iterator[PrivateCluster]:
    yield from required_cluster(SLOW_WAL_WRITER)


@pytest.fixture
async def section(cluster: PrivateCluster) -> dict[str, Any]:
    """This test's apps use the private cluster (overrides conftest's)."""
    return await cluster_section(cluster)


async def _job(app: TasksApp, job_id: str) -> JobInfo:
    info = await app.queue.get_job(job_id)
    assert info is not None, f"job {job_id} is gone after the crash"
    return info


async def test_claimed_and_started_attempts_survive_a_server_crash(
    make_app: MakeApp, cluster: PrivateCluster
) -> None:
    app = await make_app()
    queue = app.queue.backend.queue_name
    first, second = ok(await app.queue.enqueue_many([jobs.noop("run"), jobs.noop("prefetched")]))
    source = source_of(app)

    # One job starts at once (attempt counted), one is prefetched (reserved).
    claimed = await source.claim_ahead([queue], 1, 1)
    assert [c.job_id for c in claimed] == [first, second]
    await asyncio.to_thread(cluster.crash)

    running = await _job(app, first)
    assert (running.status, running.attempts) == (JobStatus.RUNNING, 1), running
    reserved = await _job(app, second)
    assert (reserved.status, reserved.attempts) == (JobStatus.PENDING, 0), reserved

    # The prefetched job starts (its claim survived, so its token still holds).
    [started] = await source.start([claimed[1]])
    assert started.envelope is not None
    assert started.envelope.attempts == 1
    await asyncio.to_thread(cluster.crash)

    info = await _job(app, second)
    assert (info.status, info.attempts) == (JobStatus.RUNNING, 1), info


async def test_a_start_carried_by_a_completion_survives_a_server_crash(
    make_app: MakeApp, cluster: PrivateCluster
) -> None:
    app = await make_app(worker={"max_concurrent_tasks": 2})
    queue = app.queue.backend.queue_name
    first, second = ok(await app.queue.enqueue_many([jobs.noop("run"), jobs.noop("prefetched")]))
    source = source_of(app)
    claimed = await source.claim_ahead([queue], 1, 1)

    # The completion's statement starts the prefetched job: it must wait for
    # its WAL flush, or the crash forgets an attempt that then runs.
    assert await source.complete(claimed[0], None)
    await asyncio.to_thread(cluster.crash)

    info = await _job(app, second)
    assert (info.status, info.attempts) == (JobStatus.RUNNING, 1), info
    [started] = await source.start([claimed[1]])
    assert started.envelope is not None
    assert started.envelope.attempts == 1
    assert (await _job(app, first)).status == JobStatus.COMPLETED
