"""``@scheduled`` exported as ``beat_schedule``: exactly one job per fire time,
however many beats (or ``lexigram-compat scheduler``s) fire it (issue 5)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from lexigram_compat import JobStatus, TasksApp
from lexigram_compat.adapters.celery.beat import FIRE_TASK, FacadeCron, fire_time
from lexigram_compat.scheduling import Schedule, schedule_job_id

from . import interop_tasks
from .conftest import Broker

ENTRY = "lexigram:" + interop_tasks.SCHEDULE


def facade(broker: Broker) -> TasksApp:
    return TasksApp.from_dict({"tasks": broker.section()}, environ={}, registry=interop_tasks.registry)


def test_schedules_are_exported_as_beat_entries_on_the_facade_fire_times(broker: Broker) -> None:
    app = facade(broker)

    entry = app.native.conf.beat_schedule[ENTRY]

    assert (entry["task"], entry["args"]) == (FIRE_TASK, (interop_tasks.SCHEDULE,))
    schedule = entry["schedule"]
    assert isinstance(schedule, FacadeCron)
    # every 5 minutes in Europe/Berlin: due once a fire time has passed since the last run
    now = datetime(2026, 11, 28, 12, 5, 1, tzinfo=UTC)
    schedule.nowfun = lambda: now
    assert schedule.is_due(now - timedelta(seconds=30)) == (True, 299.0)
    assert schedule.is_due(now - timedelta(seconds=0.5)) == (False, 299.0)


def beat_cron(cron: str, timezone: str, now: datetime) -> FacadeCron:
    return FacadeCron(Schedule("s", "t", cron, timezone), "UTC", nowfun=lambda: now)


def test_beat_fires_day_of_month_or_day_of_week_as_cron_and_the_scheduler_do() -> None:
    """``0 0 1 * 1``: the 1st of the month *or* a Monday (Celery's crontab: and)."""
    monday = datetime(2026, 11, 30, 0, 0, 30, tzinfo=UTC)  # not the 1st
    schedule = beat_cron("0 0 1 * 1", "UTC", monday)

    assert schedule.is_due(monday - timedelta(hours=12)).is_due
    [neutral] = Schedule("s", "t", "0 0 1 * 1", "UTC").fire_times(monday - timedelta(hours=12), monday)
    assert neutral == monday.replace(second=0)


def test_beat_fires_a_time_repeated_at_dst_fall_back_once() -> None:
    """02:30 Europe/Berlin happens twice on 2026-10-25; the scheduler fires the first only."""
    first = datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # 02:30 CEST
    second = datetime(2026, 10, 25, 1, 30, 30, tzinfo=UTC)  # 02:30 CET, again
    schedule = beat_cron("30 2 * * *", "Europe/Berlin", second)

    assert not schedule.is_due(first + timedelta(seconds=1)).is_due
    assert (
        beat_cron("30 2 * * *", "Europe/Berlin", first + timedelta(seconds=30))
        .is_due(first - timedelta(hours=1))
        .is_due
    )


async def test_two_beats_firing_the_same_time_make_one_job(broker: Broker) -> None:
    async with facade(broker) as first, facade(broker) as second:
        [schedule] = first.registry.schedules()
        # Both beats fire at one fixed moment inside a fire slot, so the test
        # cannot straddle a 5-minute boundary (it did, and failed, in CI).
        due = fire_time(schedule, datetime.now(UTC), "UTC")
        now = due + timedelta(minutes=2, seconds=30)
        for app in (first, second):
            app.native.tasks[FIRE_TASK].clock = lambda: now

        def fire_from_both_beats() -> list[str]:
            return [
                app.native.tasks[FIRE_TASK].apply_async(args=(interop_tasks.SCHEDULE,)).id
                for app in (first, second, first)
            ]

        ids = await asyncio.to_thread(fire_from_both_beats)
        # The neutral scheduler, running as well, lands on the same job.
        ticked = await first.make_scheduler(start=due - timedelta(seconds=1)).tick(now)

        assert fire_time(schedule, now, "UTC") == due
        expected = schedule_job_id(interop_tasks.SCHEDULE, due)
        assert ids == [expected] * 3
        assert ticked == [expected]
        assert await first.queue.count() == 1
        info = await second.queue.get_job(expected)
        assert info is not None
        assert (info.task_name, info.status) == (interop_tasks.SCHEDULE, JobStatus.PENDING)


async def test_an_interval_schedule_with_args_is_exported_to_beat_and_fired_once(broker: Broker) -> None:
    name = "interop.add_every_seven_minutes"
    interop_tasks.registry.add_schedule(
        Schedule(name, "interop.add", every=timedelta(minutes=7), args=(2,), kwargs={"b": 3})
    )
    try:
        async with facade(broker) as first, facade(broker) as second:
            entry = first.native.conf.beat_schedule["lexigram:" + name]
            assert (entry["task"], entry["args"]) == (FIRE_TASK, (name,))
            schedule = entry["schedule"].facade_schedule
            due = fire_time(schedule, datetime.now(UTC), "UTC")
            assert (due - datetime(1970, 1, 1, tzinfo=UTC)) % timedelta(minutes=7) == timedelta(0)
            now = due + timedelta(minutes=3)
            for app in (first, second):
                app.native.tasks[FIRE_TASK].clock = lambda: now

            def fire_from_both_beats() -> list[str]:
                return [app.native.tasks[FIRE_TASK].apply_async(args=(name,)).id for app in (first, second)]

            ids = await asyncio.to_thread(fire_from_both_beats)
            ticked = await second.make_scheduler(start=due - timedelta(seconds=1)).tick(now)

            expected = schedule_job_id(name, due)
            assert ids == [expected] * 2
            assert expected in ticked
            info = await first.queue.get_job(expected)
            assert info is not None
            assert (info.task_name, info.status) == ("interop.add", JobStatus.PENDING)
            # the beats' job is the scheduler's: no job beyond the ones the tick names
            assert await first.queue.count() == len(set(ticked))
    finally:
        interop_tasks.registry.remove_schedule(name)
