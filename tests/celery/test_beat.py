"""``@scheduled`` exported as ``beat_schedule``: exactly one job per fire time,
however many beats (or ``lexigram-compat scheduler``s) fire it (issue 5)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from celery.schedules import crontab

from lexigram_compat import JobStatus, TasksApp
from lexigram_compat.adapters.celery.beat import FIRE_TASK, fire_time
from lexigram_compat.scheduling import schedule_job_id

from . import interop_tasks
from .conftest import Broker

ENTRY = "lexigram:" + interop_tasks.SCHEDULE


def facade(broker: Broker) -> TasksApp:
    return TasksApp.from_dict({"tasks": broker.section()}, environ={}, registry=interop_tasks.registry)


def test_schedules_are_exported_as_beat_entries_on_their_crontab(broker: Broker) -> None:
    app = facade(broker)

    entry = app.native.conf.beat_schedule[ENTRY]

    assert (entry["task"], entry["args"]) == (FIRE_TASK, (interop_tasks.SCHEDULE,))
    schedule = entry["schedule"]
    assert isinstance(schedule, crontab)
    assert schedule.minute == set(range(0, 60, 5))
    assert schedule.hour == set(range(24))
    assert schedule.nowfun().tzinfo is not None
    assert str(schedule.nowfun().tzinfo) == "Europe/Berlin"


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
