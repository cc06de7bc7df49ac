"""Graceful shutdown: running jobs finish within ``shutdown_timeout`` or go back
to the queue; none is lost or run twice because of the shutdown (SPEC §3)."""

from __future__ import annotations

import pytest

from lexigram_compat import JobStatus

from . import jobs
from .harness import EngineHarness, ok


async def started(engine: EngineHarness, key: str) -> None:
    async def has_started() -> bool:
        return engine.recorder.runs("slow.start", key) >= 1

    await engine.wait_until(has_started, f"slow job {key!r} has started")


@pytest.mark.tasks_config({"worker": {"max_concurrent_tasks": 1, "shutdown_timeout": 10.0}})
async def test_a_running_job_finishes_when_the_worker_is_stopped(engine: EngineHarness) -> None:
    queue = engine.app.queue
    running = ok(await queue.enqueue(jobs.slow("running", [0.5])))
    waiting = ok(await queue.enqueue(jobs.noop("waiting")))
    await engine.start_worker()
    await started(engine, "running")

    await engine.stop_worker()

    info = await engine.info(running)
    assert (info.status, info.attempts) == (JobStatus.COMPLETED, 1)
    assert engine.recorder.runs("slow.end", "running") == 1
    # A stopping worker takes no new job: the waiting one is still there, untouched.
    assert (await engine.info(waiting)).status is JobStatus.PENDING
    assert engine.recorder.entries("noop") == []

    await engine.drain()

    assert (await engine.info(waiting)).status is JobStatus.COMPLETED
    assert engine.recorder.runs("slow.start", "running") == 1
    assert [e.data["tag"] for e in engine.recorder.entries("noop")] == ["waiting"]


@pytest.mark.tasks_config({"worker": {"max_concurrent_tasks": 1, "shutdown_timeout": 0.2}})
async def test_a_job_running_past_shutdown_timeout_goes_back_to_the_queue(engine: EngineHarness) -> None:
    queue = engine.app.queue
    # 60 s on its first run, which the shutdown interrupts; instant on the next.
    running = ok(await queue.enqueue(jobs.slow("running", [60.0, 0.0])))
    waiting = ok(await queue.enqueue(jobs.noop("waiting")))
    await engine.start_worker()
    await started(engine, "running")

    await engine.stop_worker()

    returned = await engine.info(running)
    assert (returned.status, returned.attempts) == (JobStatus.PENDING, 0)
    assert engine.recorder.runs("slow.end", "running") == 0
    assert (await engine.info(waiting)).status is JobStatus.PENDING
    assert await queue.count() == 2
    assert await engine.app.dead_letters.count() == 0

    await engine.drain()

    done = await engine.info(running)
    assert (done.status, done.attempts) == (JobStatus.COMPLETED, 1)
    assert [e.data["run"] for e in engine.recorder.entries("slow.start", key="running")] == [1, 2]
    assert [e.data["run"] for e in engine.recorder.entries("slow.end", key="running")] == [2]
    assert (await engine.info(waiting)).status is JobStatus.COMPLETED
    assert [e.data["tag"] for e in engine.recorder.entries("noop")] == ["waiting"]
