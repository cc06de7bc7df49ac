"""``delay``/``eta`` and priority (SPEC §3)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from lexigram_compat import JobStatus, Priority

from . import jobs
from .harness import EngineHarness, assert_waited, ok

DELAY = 0.3


@pytest.mark.requires("delay")
async def test_a_delayed_job_runs_not_before_its_time_and_not_much_after(engine: EngineHarness) -> None:
    # The worker runs first: its start-up (a subprocess for some engines) is not
    # the delay being measured, and a running worker could run the job too early.
    await engine.start_worker()
    enqueued_at = datetime.now(UTC).timestamp()
    job_id = ok(await engine.app.queue.enqueue(jobs.noop("delayed"), delay=DELAY))

    done = await engine.wait_for(job_id, JobStatus.COMPLETED)
    await engine.stop_worker()

    [entry] = engine.recorder.entries("noop")
    assert_waited(entry.at - enqueued_at, DELAY, DELAY)
    assert done.run_at is not None
    assert done.started_at is not None
    assert done.started_at >= done.run_at


@pytest.mark.requires("delay")
async def test_an_eta_in_another_timezone_is_honoured(engine: EngineHarness) -> None:
    await engine.start_worker()  # as above: the worker's start-up is not the delay
    eta = datetime.now(timezone(timedelta(hours=5))) + timedelta(seconds=DELAY)
    job_id = ok(await engine.app.queue.enqueue(jobs.noop("eta").options(eta=eta)))

    await engine.wait_for(job_id, JobStatus.COMPLETED)
    await engine.stop_worker()

    [entry] = engine.recorder.entries("noop")
    assert_waited(entry.at - eta.timestamp(), 0.0, 0.0)


@pytest.mark.requires("delay")
async def test_drain_does_not_wait_for_a_job_delayed_into_the_future(engine: EngineHarness) -> None:
    queue = engine.app.queue
    later = ok(await queue.enqueue(jobs.noop("later"), delay=3600))
    at_eta = ok(await queue.enqueue(jobs.noop("at-eta"), eta=datetime.now(UTC) + timedelta(hours=1)))
    now = ok(await queue.enqueue(jobs.noop("now")))

    await engine.drain()

    assert (await engine.info(now)).status is JobStatus.COMPLETED
    for job_id in (later, at_eta):
        info = await engine.info(job_id)
        assert (info.status, info.attempts) == (JobStatus.SCHEDULED, 0)
    assert await queue.count(status=JobStatus.SCHEDULED) == 2
    assert await queue.count() == 2
    assert [e.data["tag"] for e in engine.recorder.entries("noop")] == ["now"]


@pytest.mark.requires("priority")
@pytest.mark.tasks_config({"worker": {"max_concurrent_tasks": 1}})
async def test_higher_priority_runs_first_among_ready_jobs(engine: EngineHarness) -> None:
    queue = engine.app.queue
    calls = [
        jobs.ordered("low").options(priority=Priority.LOW),
        jobs.ordered("normal"),  # Priority.NORMAL by default
        jobs.urgent("declared-critical"),  # @task(priority=Priority.CRITICAL)
        jobs.urgent("demoted").options(priority=1),  # the call's priority wins
        jobs.ordered("high").options(priority=Priority.HIGH),
    ]
    for call in calls:
        ok(await queue.enqueue(call))
    ok(await queue.enqueue(jobs.ordered("fifteen"), priority=15))

    await engine.drain()

    labels = [e.data["label"] for e in engine.recorder.entries("ordered")]
    assert labels == ["declared-critical", "fifteen", "high", "normal", "demoted", "low"]
