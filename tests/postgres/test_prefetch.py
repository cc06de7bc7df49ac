"""Prefetched jobs (claimed beyond a worker's free slots) do not starve other
workers: a worker whose slots stay busy hands them back within a poll interval."""

from __future__ import annotations

from tests.conformance import jobs
from tests.conformance.harness import ok
from tests.conformance.recorder import Recorder

from .conftest import MakeApp, MakeWorker
from .workers import wait_until

SETTINGS = {"worker": {"max_concurrent_tasks": 1, "poll_interval": 0.1}}


async def test_a_busy_worker_hands_its_prefetched_job_to_an_idle_one(
    make_app: MakeApp, make_worker: MakeWorker, recorder: Recorder
) -> None:
    app = await make_app(**SETTINGS)
    ok(await app.queue.enqueue(jobs.slow("long", [5.0])))
    ok(await app.queue.enqueue(jobs.noop("short")))
    busy = await make_worker(**SETTINGS).start()

    async def long_started() -> bool:
        return recorder.runs("slow.start", "long") == 1

    await wait_until(long_started, "the busy worker started the long job")
    idle = await make_worker(**SETTINGS).start()

    async def short_ran() -> bool:
        return len(recorder.entries("noop")) == 1

    await wait_until(short_ran, "the short job ran", timeout=4.0)

    [short] = recorder.entries("noop")
    assert short.pid == idle.pid
    assert recorder.runs("slow.end", "long") == 0, "the short job did not wait for the long one"
    assert (await idle.stop(), await busy.stop()) == (0, 0)
