"""The poison-pill rule (SPEC §3, the settle step's ``lost_attempt``), the same on
every crash-safe engine: an attempt whose worker died counts; the job's next
attempt waits the retry policy's delay; after ``max_attempts`` such attempts the
job is dead-lettered as ``WorkerLostError`` and never runs attempt max+1.

Each attempt of ``kills_worker`` SIGKILLs the process running it; the test then
kills what is left of that worker (a supervisor may outlive its child) and starts
a new one, as an operator's process manager would.
"""

from __future__ import annotations

import time

import pytest

from lexigram_compat import JobStatus
from lexigram_compat.errors import WorkerLostError

from . import jobs
from .harness import CLOCK_SLACK, EngineHarness, ok, qualified

MAX_ATTEMPTS = 2
LOST_DELAY = 6.0
"""The policy's delay after a lost attempt: longer than any engine's redelivery
window here (leases of 2 s, Redis visibility 4 s), so a rescue that skipped the
backoff would start the next attempt before it."""
POLICY = {
    "max_attempts": MAX_ATTEMPTS,
    "base_delay": LOST_DELAY,
    "backoff_factor": 1.0,
    "max_delay": LOST_DELAY,
    "jitter": False,
}
REDELIVERY_BOUND = 20.0
"""An upper bound for: noticing the lost worker (lease, visibility timeout,
heartbeat), starting a new worker process, and a due job's lateness."""


@pytest.mark.requires("crash_safe")
@pytest.mark.tasks_config({"retry": POLICY})
async def test_a_job_that_kills_its_worker_every_time_is_dead_lettered_after_max_attempts(
    engine: EngineHarness,
) -> None:
    job_id = ok(await engine.app.queue.enqueue(jobs.kills_worker("pill")))
    killed_at: list[float] = []
    for attempt in range(1, MAX_ATTEMPTS + 1):
        await engine.start_worker()

        async def started(n: int = attempt) -> bool:
            return engine.recorder.runs("kills_worker", "pill") >= n

        # The base wait: a subprocess harness's own fails as soon as the worker
        # exits, and this worker is meant to die.
        await EngineHarness.wait_until(
            engine, started, f"attempt {attempt} started", timeout=LOST_DELAY + REDELIVERY_BOUND
        )
        await engine.kill_worker()  # the task killed its own process; this ends the rest
        killed_at.append(time.time())

    # The next worker finds the last attempt lost with none left: a dead letter, no run.
    await engine.start_worker()
    info = await engine.wait_for(job_id, JobStatus.FAILED, timeout=REDELIVERY_BOUND)
    await engine.stop_worker()

    runs = engine.recorder.entries("kills_worker", key="pill")
    assert [e.data["run"] for e in runs] == list(range(1, MAX_ATTEMPTS + 1)), "never attempt max+1"
    assert len({e.pid for e in runs}) == MAX_ATTEMPTS, "each attempt ran in a new worker process"
    assert info.attempts == MAX_ATTEMPTS, info
    letter = await engine.app.dead_letters.get(job_id)
    assert letter is not None
    assert letter.error_type == qualified(WorkerLostError), letter
    assert letter.attempts == MAX_ATTEMPTS
    assert f"attempt {MAX_ATTEMPTS} of {MAX_ATTEMPTS}" in letter.error_message

    # The retry after the lost first attempt waited the policy's delay, counted from
    # when that attempt died at the latest (the rescue notices it later still). The
    # attempt dies the instant after it records its run; the harness's kill may come
    # much later (a worker process the job killed before it reported online keeps
    # its `dramatiq` main process waiting, and the harness starts another, which
    # rescues the job, before the test's kill), so the lower bound counts from the
    # death and the upper bound from the harness's kill.
    since_death = runs[1].at - runs[0].at
    assert since_death >= LOST_DELAY - CLOCK_SLACK, (
        f"attempt 2 started {since_death:.2f}s after attempt 1 died, before the backoff"
    )
    since_kill = runs[1].at - killed_at[0]
    assert since_kill <= LOST_DELAY + REDELIVERY_BOUND, f"attempt 2 started {since_kill:.2f}s after the kill"
