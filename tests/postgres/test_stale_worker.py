"""A worker paused past its lease (SIGSTOP) loses the job to another worker;
when it resumes (SIGCONT), its late outcome is rejected by the attempt token."""

from __future__ import annotations

import signal

from lexigram_compat import JobStatus, TasksApp
from tests.conformance import jobs
from tests.conformance.harness import ok
from tests.conformance.recorder import Recorder

from .conftest import MakeApp, MakeWorker
from .workers import wait_until

KEY = "paused"


async def _status(app: TasksApp, job_id: str) -> JobStatus | None:
    info = await app.queue.get_job(job_id)
    return info.status if info else None


async def test_the_late_ack_of_a_resumed_stale_worker_is_rejected(
    make_app: MakeApp, make_worker: MakeWorker, recorder: Recorder
) -> None:
    app = await make_app()  # lease_seconds=1.0, heartbeat 0.25
    # Run 1 sleeps 1.5 s (the pause makes it outlive its lease); run 2 is quick.
    job_id = ok(await app.queue.enqueue(jobs.slow(KEY, [1.5, 0.1])))
    first = await make_worker().start()

    async def started() -> bool:
        return recorder.runs("slow.start", KEY) >= 1

    await wait_until(started, "the first worker started the job")
    first.signal(signal.SIGSTOP)
    try:
        second = await make_worker().start()

        async def completed_by_second() -> bool:
            return await _status(app, job_id) is JobStatus.COMPLETED

        await wait_until(completed_by_second, "the second worker completed the rescued job")
        done = await app.queue.get_job(job_id)
        assert done is not None
        assert (done.attempts, done.result) == (2, 2)
    finally:
        first.signal(signal.SIGCONT)

    await first.wait_for_log(r"outcome of attempt 1 rejected")
    assert await first.stop() == 0
    assert await second.stop() == 0

    after = await app.queue.get_job(job_id)
    assert after is not None
    assert (after.status, after.attempts, after.result) == (JobStatus.COMPLETED, 2, 2)
    ends = recorder.entries("slow.end", key=KEY)
    assert sorted(e.data["run"] for e in ends) == [1, 2], "both attempts ran to their end"
    starts = recorder.entries("slow.start", key=KEY)
    assert starts[0].pid == first.pid
    assert starts[1].pid == second.pid
    assert await app.dead_letters.count() == 0
