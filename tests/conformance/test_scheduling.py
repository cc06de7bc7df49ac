"""``@scheduled``: one job per fire time, however often and by however many schedulers
it is ticked (SPEC §1.3)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from lexigram_compat import JobStatus
from lexigram_compat.scheduling import Schedule, schedule_job_id

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


# -- interval schedules (issue 10) ----------------------------------------------------
INTERVAL = timedelta(minutes=7)
INTERVAL_NAME = "conformance.every_seven_minutes_with_args"


def epoch_multiples(after: datetime, until: datetime) -> list[datetime]:
    """The multiples of INTERVAL since 1970-01-01 UTC in ``(after, until]``, counted
    here in whole seconds, apart from the library's arithmetic."""
    step = int(INTERVAL.total_seconds())
    first = (int(after.timestamp()) // step + 1) * step
    last = int(until.timestamp())
    return [datetime.fromtimestamp(s, UTC) for s in range(first, last + 1, step)]


@pytest.fixture
def interval_schedule(engine: EngineHarness) -> Iterator[Schedule]:
    """``every=7 minutes`` firing ``conformance.add(40, b=2)``: added to the app's
    registry for one test (the cron schedule of jobs.py fires beside it)."""
    schedule = Schedule(INTERVAL_NAME, "conformance.add", every=INTERVAL, args=(40,), kwargs={"b": 2})
    engine.app.registry.add_schedule(schedule)
    try:
        yield schedule
    finally:
        engine.app.registry.remove_schedule(INTERVAL_NAME)


async def fire_from_two_schedulers(engine: EngineHarness, start: datetime) -> tuple[list[str], list[str]]:
    """Two schedulers started 3 minutes apart (inside one interval), ticked
    interleaved over 20 minutes: the fire times each enqueued, as job ids."""
    first = engine.app.make_scheduler(start=start)
    second = engine.app.make_scheduler(start=start + timedelta(minutes=3))
    mine = {
        schedule_job_id(INTERVAL_NAME, fire) for fire in epoch_multiples(start, start + timedelta(days=1))
    }
    ticks = [
        await first.tick(start + timedelta(minutes=10)),
        await second.tick(start + timedelta(minutes=20)),
        await first.tick(start + timedelta(minutes=20)),
    ]
    return [i for i in ticks[0] + ticks[2] if i in mine], [i for i in ticks[1] if i in mine]


async def test_an_interval_schedule_with_args_fires_once_per_fire_time_from_two_schedulers(
    engine: EngineHarness, interval_schedule: Schedule
) -> None:
    start = START + timedelta(days=4, seconds=17)
    fires = epoch_multiples(start, start + timedelta(minutes=20))
    expected = [schedule_job_id(INTERVAL_NAME, fire) for fire in fires]
    assert len(fires) >= 2

    from_first, from_second = await fire_from_two_schedulers(engine, start)

    assert from_first == expected, "the first scheduler fired other times than the epoch multiples"
    # the second started 3 minutes later: it fires the times after its start, the same ids
    assert from_second == [
        schedule_job_id(INTERVAL_NAME, f) for f in fires if f > start + timedelta(minutes=3)
    ]
    for job_id in expected:
        info = await engine.info(job_id)
        assert (info.task_name, info.status) == ("conformance.add", JobStatus.PENDING)

    await engine.drain()

    assert len(engine.recorder.entries("add", a=40, b=2)) == len(fires), "a fire time ran twice (or never)"
    for job_id in expected:
        assert (await engine.info(job_id)).status is JobStatus.COMPLETED


@pytest.mark.tasks_config({"retention": {"completed_seconds": 0}})
async def test_an_interval_fire_time_yields_one_job_even_after_its_record_expired(
    engine: EngineHarness, interval_schedule: Schedule
) -> None:
    start = START + timedelta(days=5, seconds=41)
    fires = epoch_multiples(start, start + timedelta(minutes=20))
    await fire_from_two_schedulers(engine, start)
    await engine.drain()
    assert len(engine.recorder.entries("add", a=40, b=2)) == len(fires)

    again_first, again_second = await fire_from_two_schedulers(engine, start)
    await engine.drain()

    assert again_first == [schedule_job_id(INTERVAL_NAME, fire) for fire in fires]
    assert again_second
    assert len(engine.recorder.entries("add", a=40, b=2)) == len(fires), "a fire time ran twice"
