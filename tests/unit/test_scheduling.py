"""``@scheduled``: declaration checks, fire times (DST included) and the scheduler's ``tick``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

import lexigram_compat.scheduling as scheduling_module
from lexigram_compat import (
    Err,
    JobStatus,
    Schedule,
    TaskQueueError,
    TaskRegistrationError,
    TaskRegistry,
    scheduled,
)
from lexigram_compat.result import Result
from lexigram_compat.scheduling import schedule_job_id
from lexigram_compat.testing import drain, memory_app

BERLIN = ZoneInfo("Europe/Berlin")


def berlin(year: int, month: int, day: int, hour: int = 0, minute: int = 0, *, fold: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=BERLIN, fold=fold)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, *, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def in_utc(times: list[datetime]) -> list[datetime]:
    """Aware datetimes of one zone compare by wall clock (fold ignored): compare instants."""
    return [t.astimezone(UTC) for t in times]


@pytest.fixture
def registry() -> TaskRegistry:
    return TaskRegistry()


# --- declaration -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cron", "timezone", "fragment"),
    [
        ("not a cron", None, "cron='not a cron'"),
        ("61 * * * *", None, "cron='61 * * * *'"),
        ("0 0 * * * *", None, "cron='0 0 * * * *'"),
        ("0 0 * *", None, "cron='0 0 * *'"),
        ("0 0 * * *", "Mars/Olympus_Mons", "timezone='Mars/Olympus_Mons'"),
        ("0 0 * * *", "", "timezone=''"),
    ],
)
def test_invalid_cron_or_timezone_fails_at_declaration(
    registry: TaskRegistry, cron: str, timezone: str | None, fragment: str
) -> None:
    def nightly_cleanup() -> None:
        return None

    with pytest.raises(TaskRegistrationError) as info:
        scheduled(cron, timezone=timezone, registry=registry)(nightly_cleanup)
    assert fragment in info.value.message
    assert "nightly_cleanup" in info.value.message
    assert info.value.hint
    assert len(registry) == 0
    assert registry.schedules() == []


def test_an_empty_name_is_refused_not_replaced_by_the_default(registry: TaskRegistry) -> None:
    with pytest.raises(ValueError, match="name=''"):
        scheduled("0 0 * * *", name="", registry=registry)(lambda: None)
    assert (len(registry), registry.schedules()) == (0, [])


def test_scheduled_function_is_also_a_task(registry: TaskRegistry) -> None:
    @scheduled("*/5 9-17 * * mon-fri", timezone="Europe/Berlin", name="ping", queue="ops", registry=registry)
    async def ping() -> None:
        return None

    assert registry.get("ping") is ping
    assert ping.queue == "ops"
    assert registry.schedules() == [
        Schedule(
            name="ping", task_name="ping", cron="*/5 9-17 * * mon-fri", timezone="Europe/Berlin", queue="ops"
        )
    ]
    assert ping().name == "ping"


def test_default_schedule_name_is_module_and_qualname(registry: TaskRegistry) -> None:
    @scheduled("0 0 * * *", registry=registry)
    def midnight() -> None:
        return None

    assert midnight.name == f"{__name__}.{midnight.fn.__qualname__}"
    assert [s.name for s in registry.schedules()] == [midnight.name]


# --- fire times ------------------------------------------------------------------------


def test_fire_times_are_in_the_half_open_window() -> None:
    hourly = Schedule("h", "h", "0 * * * *")
    times = hourly.fire_times(utc(2026, 5, 1, 0), utc(2026, 5, 2, 0))
    assert len(times) == 24
    assert times[0] == utc(2026, 5, 1, 1)
    assert times[-1] == utc(2026, 5, 2, 0)
    assert hourly.fire_times(utc(2026, 5, 1, 0), utc(2026, 5, 1, 0, 59)) == []


def test_fire_times_respect_fields_and_the_schedule_zone() -> None:
    office = Schedule("o", "o", "*/30 9-10 * * mon-fri", timezone="Europe/Berlin")
    # Friday 2026-05-01 to Monday 2026-05-04 (local times).
    times = office.fire_times(berlin(2026, 5, 1, 0), berlin(2026, 5, 4, 23))
    local = [(t.day, t.hour, t.minute) for t in times]
    assert local == [
        (1, 9, 0),
        (1, 9, 30),
        (1, 10, 0),
        (1, 10, 30),
        (4, 9, 0),
        (4, 9, 30),
        (4, 10, 0),
        (4, 10, 30),
    ]
    assert times[0] == utc(2026, 5, 1, 7)


def test_default_timezone_applies_when_the_schedule_has_none() -> None:
    daily = Schedule("d", "d", "0 3 * * *")
    assert daily.fire_times(utc(2026, 1, 1), utc(2026, 1, 2), "Europe/Berlin") == [utc(2026, 1, 1, 2)]
    assert daily.fire_times(utc(2026, 1, 1), utc(2026, 1, 2)) == [utc(2026, 1, 1, 3)]


def test_job_ids_are_deterministic_per_schedule_and_instant() -> None:
    instant = utc(2026, 3, 29, 1)
    same_instant = instant.astimezone(BERLIN)
    assert schedule_job_id("s", instant) == schedule_job_id("s", same_instant)
    assert schedule_job_id("s", instant) != schedule_job_id("other", instant)
    assert schedule_job_id("s", instant) != schedule_job_id("s", instant + timedelta(minutes=1))
    assert len(schedule_job_id("s", instant)) == 36


# --- daylight saving time (the module docstring documents these) -------------------------


def test_spring_forward_daily_fires_once_at_three() -> None:
    daily = Schedule("d", "d", "30 2 * * *", timezone="Europe/Berlin")
    times = daily.fire_times(berlin(2026, 3, 28, 12), berlin(2026, 3, 30, 12))
    assert in_utc(times) == [utc(2026, 3, 29, 1), utc(2026, 3, 30, 0, 30)]
    assert [(t.hour, t.minute) for t in times] == [(3, 0), (2, 30)]


def test_spring_forward_interval_keeps_elapsed_time() -> None:
    half = Schedule("h", "h", "*/30 * * * *", timezone="Europe/Berlin")
    times = half.fire_times(utc(2026, 3, 29, 0), utc(2026, 3, 29, 2))
    assert [(t.hour, t.minute) for t in times] == [(1, 30), (3, 0), (3, 30), (4, 0)]
    assert in_utc(times) == [
        utc(2026, 3, 29, 0, 30),
        utc(2026, 3, 29, 1),
        utc(2026, 3, 29, 1, 30),
        utc(2026, 3, 29, 2),
    ]


def test_fall_back_daily_fires_once_at_the_first_occurrence() -> None:
    daily = Schedule("d", "d", "30 2 * * *", timezone="Europe/Berlin")
    times = daily.fire_times(berlin(2026, 10, 24, 12), berlin(2026, 10, 26, 12))
    assert in_utc(times) == [utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)]
    assert in_utc(times)[0] == berlin(2026, 10, 25, 2, 30, fold=0).astimezone(UTC)
    assert [(t.hour, t.minute) for t in times] == [(2, 30), (2, 30)]


def test_fall_back_interval_fires_in_both_occurrences() -> None:
    half = Schedule("h", "h", "*/30 * * * *", timezone="Europe/Berlin")
    times = half.fire_times(utc(2026, 10, 24, 23, 45), utc(2026, 10, 25, 2, 0))
    halves = [utc(2026, 10, 25, hour, minute) for hour in (0, 1) for minute in (0, 30)]
    assert in_utc(times) == [*halves, utc(2026, 10, 25, 2)]
    assert in_utc(times)[2] == berlin(2026, 10, 25, 2, 0, fold=1).astimezone(UTC)
    assert [t.hour for t in times] == [2, 2, 2, 2, 3]
    assert len({schedule_job_id("h", t) for t in times}) == 5


def test_module_docstring_documents_the_tested_dst_rules() -> None:
    doc = " ".join((scheduling_module.__doc__ or "").split())
    for phrase in (
        "30 2 * * *",
        "*/30 * * * *",
        "Europe/Berlin",
        "fires at 03:00",
        "fires in both occurrences",
    ):
        assert phrase in doc


# --- the scheduler -----------------------------------------------------------------------


def _declare_every_minute(registry: TaskRegistry) -> None:
    @scheduled("* * * * *", name="minutely", registry=registry)
    async def minutely() -> str:
        return "ran"


async def test_tick_enqueues_each_fire_time_once_without_back_fill(registry: TaskRegistry) -> None:
    _declare_every_minute(registry)
    start = utc(2026, 6, 1, 12, 0, second=30)
    async with memory_app(registry=registry) as app:
        scheduler = app.make_scheduler(start=start)
        assert scheduler.next_fire_times() == {"minutely": utc(2026, 6, 1, 12, 1)}
        first = await scheduler.tick(utc(2026, 6, 1, 12, 3))
        expected = [schedule_job_id("minutely", utc(2026, 6, 1, 12, m)) for m in (1, 2, 3)]
        assert first == expected
        assert await scheduler.tick(utc(2026, 6, 1, 12, 3)) == []
        assert await scheduler.tick(utc(2026, 6, 1, 11, 0)) == []
        assert await scheduler.tick(utc(2026, 6, 1, 12, 4, second=59)) == [
            schedule_job_id("minutely", utc(2026, 6, 1, 12, 4))
        ]
        assert await app.queue.count() == 4
        await drain(app, fail_fast=True)
        info = await app.queue.get_job(first[0])
    assert info is not None
    assert (info.status, info.result, info.task_name) == (JobStatus.COMPLETED, "ran", "minutely")


async def test_a_schedule_added_while_the_scheduler_runs_does_not_fire_past_times(
    registry: TaskRegistry,
) -> None:
    _declare_every_minute(registry)
    async with memory_app(registry=registry) as app:
        scheduler = app.make_scheduler(start=utc(2026, 6, 1, 12))
        assert len(await scheduler.tick(utc(2026, 6, 1, 13))) == 60

        @scheduled("* * * * *", name="added-later", registry=registry)
        async def added_later() -> None:
            return None

        # First seen by the tick after 13:00: 13:01 and 13:02 only, not 12:01..13:02.
        assert scheduler.next_fire_times()["added-later"] == utc(2026, 6, 1, 13, 1)
        ids = await scheduler.tick(utc(2026, 6, 1, 13, 2))
    assert sorted(ids) == sorted(
        schedule_job_id(name, utc(2026, 6, 1, 13, m)) for name in ("minutely", "added-later") for m in (1, 2)
    )


async def test_two_schedulers_produce_one_job_per_fire_time(registry: TaskRegistry) -> None:
    _declare_every_minute(registry)
    start = utc(2026, 6, 1, 12)
    async with memory_app(registry=registry) as app:
        one = await app.make_scheduler(start=start).tick(utc(2026, 6, 1, 12, 5))
        two = await app.make_scheduler(start=start).tick(utc(2026, 6, 1, 12, 5))
        assert one == two
        assert len(one) == 5
        assert await app.queue.count() == 5


async def test_a_failed_enqueue_is_retried_on_the_next_tick(
    registry: TaskRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    _declare_every_minute(registry)
    async with memory_app(registry=registry) as app:
        scheduler = app.make_scheduler(start=utc(2026, 6, 1, 12))
        real = app.enqueue_fire_time

        async def down(schedule: Schedule, fire: datetime) -> Result[str, TaskQueueError]:
            return Err(TaskQueueError("broker down"))

        monkeypatch.setattr(app, "enqueue_fire_time", down)
        assert await scheduler.tick(utc(2026, 6, 1, 12, 2)) == []
        monkeypatch.setattr(app, "enqueue_fire_time", real)
        ids = await scheduler.tick(utc(2026, 6, 1, 12, 2))
    assert ids == [schedule_job_id("minutely", utc(2026, 6, 1, 12, m)) for m in (1, 2)]


async def test_scheduler_reads_the_configured_timezone(registry: TaskRegistry) -> None:
    @scheduled("0 3 * * *", name="nightly", registry=registry)
    def nightly() -> None:
        return None

    async with memory_app(
        registry=registry, scheduler={"enabled": False, "timezone": "Europe/Berlin"}
    ) as app:
        ids = await app.make_scheduler(start=utc(2026, 1, 1)).tick(utc(2026, 1, 2))
    assert ids == [schedule_job_id("nightly", utc(2026, 1, 1, 2))]


@pytest.mark.parametrize(
    ("night", "daily_fire"),
    [(utc(2026, 3, 28, 23, 50), utc(2026, 3, 29, 1)), (utc(2026, 10, 24, 23, 50), utc(2026, 10, 25, 0, 30))],
    ids=["spring-forward", "fall-back"],
)
async def test_ticking_through_a_dst_night(
    registry: TaskRegistry, night: datetime, daily_fire: datetime
) -> None:
    @scheduled("*/30 * * * *", name="half", timezone="Europe/Berlin", registry=registry)
    async def half() -> None:
        return None

    @scheduled("30 2 * * *", name="daily", timezone="Europe/Berlin", registry=registry)
    async def daily() -> None:
        return None

    async with memory_app(registry=registry) as app:
        scheduler = app.make_scheduler(start=night)
        ids: list[str] = []
        for step in range(1, 21):
            ids += await scheduler.tick(night + timedelta(minutes=7 * step))
        assert await app.queue.count() == len(ids)
    halves = [night.replace(minute=0) + timedelta(minutes=30 * n) for n in range(2, 7)]
    assert sorted(ids) == sorted(
        [schedule_job_id("half", t) for t in halves] + [schedule_job_id("daily", daily_fire)]
    )
