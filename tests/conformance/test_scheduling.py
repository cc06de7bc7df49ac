"""``@scheduled``: one job per fire time, however often and by however many schedulers
it is ticked (SPEC §1.3)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from lexigram_compat import JobStatus
from lexigram_compat.scheduling import schedule_job_id

from . import jobs
from .harness import EngineHarness

# Each test uses its own day, so fire times (and their job ids) never meet
# across tests on an engine whose storage outlives one test.
START = datetime(2031, 1, 1, 0, 1, tzinfo=UTC)


def window(day: int) -> tuple[datetime, list[datetime]]:
    """A start time and the three */5 fire times in the 16 minutes after it."""
    start = START + timedelta(days=day)
    return start, [start + timedelta(minutes=m) for m in (4, 9, 14)]


async def test_tick_enqueues_one_job_per_fire_time_with_its_deterministic_id(engine: EngineHarness) -> None:
    start, fires = window(0)
    scheduler = engine.app.make_scheduler(start=start)

    ids = await scheduler.tick(start + timedelta(minutes=16))

    assert ids == [schedule_job_id(jobs.SCHEDULE_NAME, fire) for fire in fires]
    assert await engine.app.queue.count() == 3
    for job_id in ids:
        info = await engine.info(job_id)
        assert (info.task_name, info.status) == (jobs.SCHEDULE_NAME, JobStatus.PENDING)

    await engine.drain()

    assert len(engine.recorder.entries("every_five_minutes")) == 3
    for job_id in ids:
        assert (await engine.info(job_id)).status is JobStatus.COMPLETED


async def test_ticking_again_and_a_second_scheduler_still_give_one_job_per_fire_time(
    engine: EngineHarness,
) -> None:
    start, fires = window(1)
    first = engine.app.make_scheduler(start=start)
    second = engine.app.make_scheduler(start=start)

    early = await first.tick(start + timedelta(minutes=10))
    repeated = await first.tick(start + timedelta(minutes=10))
    late = await first.tick(start + timedelta(minutes=16))
    overlapping = await second.tick(start + timedelta(minutes=16))

    expected = [schedule_job_id(jobs.SCHEDULE_NAME, fire) for fire in fires]
    assert early == expected[:2]
    assert repeated == []
    assert late == expected[2:]
    assert overlapping == expected
    assert await engine.app.queue.count() == 3

    await engine.drain()

    assert len(engine.recorder.entries("every_five_minutes")) == 3
    assert await engine.app.queue.count(status=JobStatus.COMPLETED) == 3


async def test_a_second_scheduler_after_the_jobs_ran_does_not_run_them_again(engine: EngineHarness) -> None:
    start, fires = window(2)
    await engine.app.make_scheduler(start=start).tick(start + timedelta(minutes=16))
    await engine.drain()

    again = await engine.app.make_scheduler(start=start).tick(start + timedelta(minutes=16))
    await engine.drain()

    assert again == [schedule_job_id(jobs.SCHEDULE_NAME, fire) for fire in fires]
    assert len(engine.recorder.entries("every_five_minutes")) == 3


@pytest.mark.tasks_config({"retention": {"completed_seconds": 0}})
async def test_a_fire_time_yields_one_job_even_after_its_record_expired(engine: EngineHarness) -> None:
    start, fires = window(3)
    ids = await engine.app.make_scheduler(start=start).tick(start + timedelta(minutes=16))
    await engine.drain()
    assert len(engine.recorder.entries("every_five_minutes")) == 3
    for job_id in ids:  # finished jobs are not kept: the guard must live apart from them
        assert await engine.app.queue.get_job(job_id) is None

    again = await engine.app.make_scheduler(start=start).tick(start + timedelta(minutes=16))
    await engine.drain()

    assert again == [schedule_job_id(jobs.SCHEDULE_NAME, fire) for fire in fires]
    assert len(engine.recorder.entries("every_five_minutes")) == 3, "a fire time ran twice"
    assert await engine.app.queue.count() == 0
