"""``app.conf.beat_schedule`` read by the shim: each entry a neutral schedule, fired by
the scheduler (memory engine here; every engine runs the same scheduler, see
tests/conformance/test_scheduling.py) exactly once per fire time."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from lexigram_compat import ConfigurationError, JobStatus, UnsupportedOptionError
from lexigram_compat.celery import Celery, Task
from lexigram_compat.celery.schedules import crontab
from lexigram_compat.envelope import utcnow
from lexigram_compat.scheduling import schedule_job_id

START = datetime(2031, 6, 2, 8, 58, 30, tzinfo=UTC)  # a Monday


@pytest.fixture
def app() -> Iterator[Celery]:
    shim = Celery("beat", broker="memory://", set_as_current=False)
    yield shim
    shim.close()


async def test_a_beat_schedule_dict_runs_once_per_fire_time_with_its_arguments(app: Celery) -> None:
    calls: list[tuple[str, int, Any]] = []

    @app.task(name="proj.tasks.report", bind=True)
    def report(self: Task, kind: str, size: int = 0) -> None:
        calls.append((kind, size, (self.request.headers or {}).get("origin")))

    app.conf.beat_schedule = {
        "report-every-10-minutes": {
            "task": "proj.tasks.report",
            "schedule": timedelta(minutes=10),
            "args": ("interval",),
            "kwargs": {"size": 3},
        },
        "report-every-half-hour": {"task": report.name, "schedule": 1800.0, "args": ["seconds"]},
        "report-weekdays-at-nine": {
            "task": "proj.tasks.report",
            "schedule": crontab(minute=0, hour=9, day_of_week="mon-fri"),
            "kwargs": {"kind": "crontab"},
            "options": {"headers": {"origin": "beat"}},
        },
    }
    until = START + timedelta(minutes=61, seconds=30)  # 08:58:30 -> 10:00:00
    async with app.tasks_app as tasks_app:
        first = tasks_app.make_scheduler(start=START)
        second = tasks_app.make_scheduler(start=START + timedelta(minutes=20))
        ids = await first.tick(START + timedelta(minutes=30)) + await first.tick(until)
        again = await second.tick(until)
        await tasks_app.run_worker(until_idle=True, scheduler=False)

    nine = START.replace(hour=9, minute=0, second=0)
    ten = [nine + timedelta(minutes=m) for m in range(0, 61, 10)]
    half = [nine + timedelta(minutes=m) for m in (0, 30, 60)]
    fires = {
        **{schedule_job_id("report-every-10-minutes", f): f for f in ten},
        **{schedule_job_id("report-every-half-hour", f): f for f in half},
        schedule_job_id("report-weekdays-at-nine", nine): nine,
    }
    assert sorted(ids) == sorted(fires)
    # the second scheduler started at 09:18:30: the fire times after it, as the same jobs
    assert sorted(again) == sorted(i for i, f in fires.items() if f > START + timedelta(minutes=20))
    expected_calls = [("interval", 3, None)] * 7 + [("seconds", 0, None)] * 3 + [("crontab", 0, "beat")]
    assert sorted(calls, key=str) == sorted(expected_calls, key=str), "a fire time ran twice (or never)"


async def test_a_beat_entrys_expires_applies_to_each_fired_job(app: Celery) -> None:
    ran: list[str] = []

    @app.task(name="proj.tasks.poll")
    def poll(kind: str) -> None:
        ran.append(kind)

    app.conf.beat_schedule = {
        "poll-soon-stale": {
            "task": poll.name,
            "schedule": 60,
            "args": ("stale",),
            "options": {"expires": 0.05},
        },
        "poll": {"task": poll.name, "schedule": 60, "args": ("fresh",), "options": {"expires": 600}},
    }
    assert sorted(s.expires for s in app.registry.schedules() if s.expires) == [0.05, 600.0]
    async with app.tasks_app as tasks_app:
        ids = await tasks_app.make_scheduler(start=START).tick(START + timedelta(seconds=90))
        fires = [START.replace(second=0) + timedelta(minutes=m) for m in (1, 2)]  # 08:59, 09:00
        stale = [schedule_job_id("poll-soon-stale", f) for f in fires]
        assert sorted(ids) == sorted([*stale, *(schedule_job_id("poll", f) for f in fires)])
        expired_by = utcnow() + timedelta(seconds=0.06)  # the stale jobs' expiry passed by then
        await asyncio.sleep((expired_by - utcnow()).total_seconds())
        await tasks_app.run_worker(until_idle=True, scheduler=False)
        infos = [await tasks_app.queue.get_job(job_id) for job_id in stale]

    assert ran == ["fresh", "fresh"]
    for info in infos:
        assert info is not None
        assert info.status is JobStatus.FAILED
        assert info.last_error is not None
        assert "JobExpiredError" in info.last_error


def test_replacing_the_beat_schedule_replaces_its_schedules(app: Celery) -> None:
    app.conf.beat_schedule = {"a": {"task": "t", "schedule": 60}, "b": {"task": "t", "schedule": 60}}
    app.conf.beat_schedule = {"c": {"task": "t", "schedule": crontab(minute=0)}}

    assert [(s.name, s.cron) for s in app.registry.schedules()] == [("c", "0 * * * *")]


@pytest.mark.parametrize(
    ("entry", "error", "fragment"),
    [
        ({"task": "t", "schedule": object()}, ConfigurationError, "schedule <object object"),
        (
            {"task": "t", "schedule": 60, "relative": True},
            ConfigurationError,
            "relative=True is not supported",
        ),
        ({"task": "t", "schedule": 60, "name": "x"}, ConfigurationError, "key 'name' is not supported"),
        ({"task": None, "schedule": 60}, ConfigurationError, "task=None is not a task name"),
        ({"task": "t"}, ConfigurationError, "has no 'schedule'"),
        ({"task": "t", "schedule": 0.2}, ConfigurationError, "every=0.2 is not an interval"),
        ({"task": "t", "schedule": 60, "options": {"countdown": 5}}, ConfigurationError, "'countdown'"),
        (
            {"task": "t", "schedule": 60, "options": {"expires": -1}},
            ConfigurationError,
            "expires=-1 is not valid",
        ),
        ({"task": "t", "schedule": 60, "options": {"link": None}}, UnsupportedOptionError, "link="),
        ("not a dict", ConfigurationError, "is str, not a dict"),
    ],
)
def test_an_entry_the_scheduler_cannot_run_is_refused_naming_it(
    app: Celery, entry: Any, error: type[Exception], fragment: str
) -> None:
    with pytest.raises(error, match="beat_schedule entry 'bad'") as refused:
        app.conf.beat_schedule = {"bad": entry}
    assert fragment in str(refused.value)
    assert app.registry.schedules() == []


def test_celerys_own_crontab_and_custom_schedule_classes_are_refused_with_the_alternative(
    app: Celery,
) -> None:
    from celery.schedules import crontab as celery_crontab
    from celery.schedules import schedule

    with pytest.raises(ConfigurationError, match=r"'nightly': schedule .* is Celery's own crontab") as own:
        app.conf.beat_schedule = {"nightly": {"task": "t", "schedule": celery_crontab(minute=0, hour=0)}}
    assert (
        own.value.hint == "import crontab from lexigram_compat.celery.schedules instead of celery.schedules"
    )
    with pytest.raises(
        ConfigurationError, match=r"'custom': schedule .*celery.schedules.schedule\) is not supported"
    ) as custom:
        app.conf.beat_schedule = {"custom": {"task": "t", "schedule": schedule(timedelta(minutes=5))}}
    assert custom.value.hint is not None
    assert "crontab(...), a timedelta" in custom.value.hint
    assert app.registry.schedules() == []
