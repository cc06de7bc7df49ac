"""A graceful shutdown never makes a job run twice: while a SIGTERMed worker
drains, it keeps heartbeating the jobs still running, so no other worker
rescues them."""

from __future__ import annotations

import asyncio
import signal

from lexigram_compat import JobStatus
from tests.conformance import jobs
from tests.conformance.harness import ok
from tests.conformance.recorder import Recorder

from .conftest import MakeApp, MakeWorker
from .workers import wait_until

KEY = "draining"
SETTINGS = {"worker": {"shutdown_timeout": 6.0, "max_concurrent_tasks": 1}}


async def test_a_job_running_through_the_drain_is_not_rescued_by_another_worker(
    make_app: MakeApp, make_worker: MakeWorker, recorder: Recorder
) -> None:
    app = await make_app(**SETTINGS)  # lease_seconds=1.0, heartbeat 0.25
    job_id = ok(await app.queue.enqueue(jobs.slow(KEY, [3.0])))
    first = await make_worker(**SETTINGS).start()

    async def started() -> bool:
        return recorder.runs("slow.start", KEY) >= 1

    await wait_until(started, "the first worker started the job")
    first.signal(signal.SIGTERM)
    await first.wait_for_log(r"waiting up to")
    second = await make_worker(**SETTINGS).start()

    async def finished() -> bool:
        info = await app.queue.get_job(job_id)
        return info is not None and info.status is JobStatus.COMPLETED

    await wait_until(finished, "the draining worker finished the job")
    assert first.process is not None
    assert await asyncio.to_thread(first.process.wait, 10) == 0
    assert await second.stop() == 0
    done = await app.queue.get_job(job_id)
    assert done is not None
    assert (done.status, done.attempts) == (JobStatus.COMPLETED, 1)
    assert [e.pid for e in recorder.entries("slow.start", key=KEY)] == [first.pid]
