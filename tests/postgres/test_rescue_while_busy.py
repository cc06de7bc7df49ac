"""A dead worker's job is rescued even while every surviving worker is busy:
upkeep runs on its own timer, not only when a worker has a free slot."""

from __future__ import annotations

from lexigram_compat import JobStatus, TasksApp
from tests.conformance import jobs
from tests.conformance.harness import ok
from tests.conformance.recorder import Recorder

from .conftest import MakeApp, MakeWorker
from .workers import wait_until

SETTINGS = {"worker": {"max_concurrent_tasks": 1}}


async def _started(recorder: Recorder, key: str) -> None:
    async def started() -> bool:
        return recorder.runs("slow.start", key) >= 1

    await wait_until(started, f"job {key} started")


async def _status(app: TasksApp, job_id: str) -> JobStatus | None:
    info = await app.queue.get_job(job_id)
    return info.status if info else None


async def test_the_job_of_a_killed_worker_is_rescued_while_the_survivor_is_busy(
    make_app: MakeApp, make_worker: MakeWorker, recorder: Recorder
) -> None:
    app = await make_app(**SETTINGS)  # lease_seconds=1.0
    doomed = await make_worker(**SETTINGS).start()
    lost = ok(await app.queue.enqueue(jobs.slow("lost", [30.0, 0.0])))
    await _started(recorder, "lost")
    survivor = await make_worker(**SETTINGS).start()
    busy = ok(await app.queue.enqueue(jobs.slow("busy", [30.0])))
    await _started(recorder, "busy")
    assert [e.pid for e in recorder.entries("slow.start", key="busy")] == [survivor.pid]

    doomed.kill()

    async def rescued() -> bool:
        return await _status(app, lost) is JobStatus.RETRYING

    # lease (1 s) plus upkeep's period (a quarter lease) plus slack.
    await wait_until(rescued, "the lost job was rescued", timeout=6.0)
    assert await _status(app, busy) is JobStatus.RUNNING
    survivor.kill()
