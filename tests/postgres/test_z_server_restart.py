"""PostgreSQL restarted under running workers: they reconnect, and every job
whose enqueue returned ``Ok`` completes.

The file name sorts last in this directory on purpose: the restart cuts every
connection to the shared server (other suites' too), so it runs once, late,
and the outage is kept to the restart itself. The server is started again
whatever happens.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import time

from lexigram_compat import BrokerUnavailableError, JobStatus, TasksApp
from tests.conformance import jobs
from tests.services import Service

from .conftest import MakeApp, MakeWorker
from .workers import wait_until


def _cluster() -> list[str]:
    version = sorted(os.listdir("/etc/postgresql"))[-1]
    return ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main"]


def _answers(service: Service) -> bool:
    try:
        with socket.create_connection((service.host, service.port), timeout=1):
            return True
    except OSError:
        return False


def _restart(service: Service) -> None:
    try:
        subprocess.run([*_cluster(), "restart"], check=True, capture_output=True, timeout=60)
    finally:
        deadline = time.monotonic() + 30
        while not _answers(service) and time.monotonic() < deadline:
            subprocess.run([*_cluster(), "start"], check=False, capture_output=True, timeout=60)
            time.sleep(0.2)


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
    make_app: MakeApp, make_worker: MakeWorker, postgres_service: Service
) -> None:
    app = await make_app()
    workers = [await make_worker().start(), await make_worker().start()]
    # Long enough that jobs are running when the server goes away.
    before = [await _enqueue_until_ok(app, f"before-{n}", 0.3) for n in range(20)]

    await asyncio.to_thread(_restart, postgres_service)

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
