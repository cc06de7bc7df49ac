"""PostgreSQL restarted under running workers: they reconnect, and every job
whose enqueue returned ``Ok`` completes.

The restarted server is a private cluster of this test (``initdb``/``pg_ctl``
on a free port in a temporary directory): the shared server other suites,
benchmarks and pytest-xdist workers use is never touched.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from lexigram_compat import BrokerUnavailableError, JobStatus, TasksApp
from tests.conformance import jobs

from .conftest import MakeApp, MakeWorker
from .private_cluster import PrivateCluster, cluster_section, required_cluster
from .workers import wait_until


@pytest.fixture
def cluster() -> Iterator[PrivateCluster]:
    yield from required_cluster()


@pytest.fixture
async def section(cluster: PrivateCluster) -> dict[str, Any]:
    """This test's apps use the private cluster (overrides conftest's)."""
    return await cluster_section(cluster, worker={"lease_seconds": 1.0, "heartbeat_interval": 0.25})


async def _enqueue_until_ok(app: TasksApp, tag: str, seconds: float = 0.05) -> str:
    """Retry an ``Err(BrokerUnavailableError)`` until the server answers (as a producer would)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while True:
        result = await app.queue.enqueue(jobs.slow(tag, [seconds]))
        if result.is_ok():
            return result.unwrap()
        assert isinstance(result.unwrap_err(), BrokerUnavailableError), result
        assert loop.time() < deadline, f"enqueue kept failing: {result!r}"
        await asyncio.sleep(0.1)


async def test_workers_reconnect_and_every_ok_job_completes(
    make_app: MakeApp, make_worker: MakeWorker, cluster: PrivateCluster
) -> None:
    app = await make_app()
    workers = [await make_worker().start(), await make_worker().start()]
    # Long enough that jobs are running when the server goes away.
    before = [await _enqueue_until_ok(app, f"before-{n}", 0.3) for n in range(20)]

    await asyncio.to_thread(cluster.restart)

    after = [await _enqueue_until_ok(app, f"after-{n}") for n in range(20)]

    async def all_completed() -> bool:
        for job_id in before + after:
            try:
                info = await app.queue.get_job(job_id)
            except BrokerUnavailableError:
                return False
            if info is None or info.status is not JobStatus.COMPLETED:
                return False
        return True

    await wait_until(all_completed, "every job enqueued with Ok has completed", timeout=60)
    for worker in workers:
        assert worker.process is not None
        assert worker.process.poll() is None, f"a worker exited:\n{worker.log()}"
        assert await worker.stop() == 0
