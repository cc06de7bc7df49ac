"""Schedule kinds of issue 10: intervals aligned to the epoch, cron macros, arguments and
options per schedule, several schedules per task, and Celery's ``crontab`` translated to
cron (checked against Celery's own ``crontab``)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from celery.schedules import crontab as celery_crontab
from croniter import croniter

from lexigram_compat.adapters.celery.beat import FacadeCron, fire_time
from lexigram_compat.calls import CallOptions
from lexigram_compat.errors import ConfigurationError, TaskRegistrationError
from lexigram_compat.registry import TaskRegistry
from lexigram_compat.scheduling import CRON_MACROS, EPOCH, Schedule, scheduled

MOMENT = datetime(2031, 3, 4, 10, 11, 12, 345678, tzinfo=UTC)


def every(interval: timedelta | float, **extra: Any) -> Schedule:
    return Schedule("s", "t", every=interval, **extra)  # type: ignore[arg-type]


# -- intervals ------------------------------------------------------------------------
@pytest.mark.parametrize("interval", [timedelta(minutes=7), timedelta(seconds=45), timedelta(hours=5)])
def test_interval_fire_times_are_multiples_of_the_interval_since_the_epoch(interval: timedelta) -> None:
    until = MOMENT + 6 * interval
    times = every(interval).fire_times(MOMENT, until)

    assert len(times) == 6
    assert all((t - EPOCH) % interval == timedelta(0) for t in times)
    assert times[0] > MOMENT >= times[0] - interval
    assert all(b - a == interval for a, b in itertools.pairwise(times))
    assert all(t.tzinfo is UTC for t in times)


def test_schedulers_started_at_different_moments_agree_on_every_fire_time() -> None:
    schedule = every(timedelta(minutes=7))
    until = MOMENT + timedelta(hours=2)
    early = schedule.fire_times(MOMENT, until)
    late = schedule.fire_times(MOMENT + timedelta(minutes=23, seconds=5), until)

    assert late == [t for t in early if t > MOMENT + timedelta(minutes=23, seconds=5)]
    assert len(late) >= 10


def test_a_fire_time_is_not_repeated_by_a_window_starting_on_it() -> None:
    schedule = every(timedelta(minutes=10))
    fire = datetime(2031, 3, 4, 10, 10, tzinfo=UTC)

    assert schedule.fire_times(fire - timedelta(seconds=1), fire) == [fire]
    assert schedule.fire_times(fire, fire + timedelta(minutes=9)) == []
    assert schedule.latest_fire(fire) == fire
    assert schedule.latest_fire(fire - timedelta(microseconds=1)) == fire - timedelta(minutes=10)


def test_interval_ignores_the_zone_of_the_window_and_the_default_timezone() -> None:
    schedule = every(3600)
    berlin = MOMENT.astimezone(__import__("zoneinfo").ZoneInfo("Europe/Berlin"))

    assert schedule.every == timedelta(hours=1)
    assert schedule.fire_times(berlin, berlin + timedelta(hours=3), "Asia/Tokyo") == [
        datetime(2031, 3, 4, h, tzinfo=UTC) for h in (11, 12, 13)
    ]


def test_more_fire_times_than_a_tick_takes_are_capped_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    times = every(1).fire_times(MOMENT, MOMENT + timedelta(hours=1))

    assert len(times) == 1000
    assert "more than 1000 fire times" in caplog.text


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"every": 0.5}, "every=0.5 is not an interval of at least one second"),
        ({"every": timedelta(0)}, "is not an interval of at least one second"),
        ({"every": True}, "every=True is not an interval"),
        ({"every": "5m"}, "every='5m' is not an interval"),
        ({"every": 60, "timezone": "Europe/Berlin"}, "timezone='Europe/Berlin' does not apply"),
        ({"every": 60, "cron": "* * * * *"}, "give exactly one of cron= and every="),
        ({}, "give exactly one of cron= and every="),
        ({"every": 60, "priority": 256}, "priority=256 is not valid"),
        ({"every": 60, "queue": "no spaces"}, "queue='no spaces' is not a valid queue name"),
        ({"every": 60, "args": "ab"}, "must be a sequence and a mapping"),
    ],
)
def test_bad_schedules_are_refused_naming_the_value(kwargs: dict[str, Any], fragment: str) -> None:
    with pytest.raises(TaskRegistrationError, match="@scheduled 's'") as refused:
        Schedule("s", "t", **kwargs)
    assert fragment in str(refused.value)


# -- macros -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("macro", "cron"),
    [
        ("@hourly", "0 * * * *"),
        ("@daily", "0 0 * * *"),
        ("@midnight", "0 0 * * *"),
        ("@weekly", "0 0 * * 0"),
        ("@monthly", "0 0 1 * *"),
        ("@yearly", "0 0 1 1 *"),
        ("@annually", "0 0 1 1 *"),
        ("@Daily", "0 0 * * *"),
    ],
)
def test_cron_macros_stand_for_their_expressions(macro: str, cron: str) -> None:
    schedule = Schedule("s", "t", cron=macro)

    assert schedule.cron == cron
    after = datetime(2031, 1, 1, 0, 30, tzinfo=UTC)
    expected = croniter(cron, after).get_next(datetime)
    assert schedule.fire_times(after, after + timedelta(days=400), limit=1) == [expected]


def test_an_unknown_macro_is_refused_listing_the_known_ones() -> None:
    with pytest.raises(TaskRegistrationError, match="cron='@reboot'") as refused:
        Schedule("s", "t", cron="@reboot")
    assert refused.value.hint is not None
    assert all(macro in refused.value.hint for macro in CRON_MACROS)


# -- arguments, options, several schedules ---------------------------------------------
def test_each_fire_time_enqueues_the_schedules_arguments_and_options() -> None:
    schedule = every(60, args=[1, "a"], kwargs={"full": True}, queue="reports", priority=3, headers={"h": 1})

    call = schedule.call()

    assert (call.name, call.args, dict(call.kwargs)) == ("t", (1, "a"), {"full": True})
    assert call.call_options == CallOptions(queue="reports", priority=3, headers={"h": 1})
    assert hash(schedule) == hash(every(60, args=[2], queue="reports", priority=3))


def test_stacked_schedules_give_one_task_several_named_schedules() -> None:
    registry = TaskRegistry()

    @scheduled(every=timedelta(minutes=15), name="report.quarter", kwargs={"span": "15m"}, registry=registry)
    @scheduled("@daily", name="report.daily", kwargs={"span": "1d"}, registry=registry)
    def report(span: str = "") -> str:
        return span

    assert registry.names() == ["report.daily"]
    assert [(s.name, s.task_name, s.cron, s.every, dict(s.kwargs)) for s in registry.schedules()] == [
        ("report.daily", "report.daily", "0 0 * * *", None, {"span": "1d"}),
        ("report.quarter", "report.daily", None, timedelta(minutes=15), {"span": "15m"}),
    ]
    assert report.schedule.name == "report.daily"  # type: ignore[attr-defined]


def test_a_second_schedule_under_a_used_name_or_with_task_options_is_refused() -> None:
    registry = TaskRegistry()

    @scheduled("@hourly", name="job", registry=registry)
    def job() -> None:
        return None

    with pytest.raises(TaskRegistrationError, match="schedule name 'job' is already used"):
        scheduled(every=60, registry=registry)(job)
    with pytest.raises(TaskRegistrationError, match="retry=/max_retries=/timeout= belong to the task"):
        scheduled(every=60, name="job.fast", max_retries=2, registry=registry)(job)
    scheduled("@hourly", name="job", registry=registry)(job)  # the same again (a reload) is fine
    assert [s.name for s in registry.schedules()] == ["job"]


# -- the celery engine's beat export -----------------------------------------------------
def test_celery_beat_fires_an_interval_on_the_same_times_as_the_scheduler() -> None:
    schedule = every(timedelta(minutes=7))
    due = schedule.fire_times(MOMENT, MOMENT + timedelta(minutes=7))[0]
    now = due + timedelta(seconds=5)
    beat = FacadeCron(schedule, "UTC", nowfun=lambda: now)

    assert fire_time(schedule, now, "Europe/Berlin") == due
    assert beat.is_due(due - timedelta(seconds=1)) == (True, 415.0)
    assert beat.is_due(due) == (False, 415.0)
    assert beat == FacadeCron(every(420), "Asia/Tokyo")
    assert beat != FacadeCron(Schedule("s", "t", cron="*/7 * * * *"), "UTC")
    assert "every 0:07:00" in repr(beat)


# -- Celery's crontab -------------------------------------------------------------------
CRONTABS: list[dict[str, Any]] = [
    {},
    {"minute": 0, "hour": 0},
    {"minute": "*/15"},
    {"minute": "0-59/10"},
    {"minute": 0, "hour": "*/3"},
    {"minute": 0, "hour": "0,12"},
    {"minute": {0, 30}},
    {"minute": 5, "hour": range(0, 24, 6)},
    {"minute": 30, "hour": 7, "day_of_week": 1},
    {"minute": 0, "hour": "9-17", "day_of_week": "mon-fri"},
    {"minute": 30, "hour": 7, "day_of_week": "sun"},
    {"minute": 0, "hour": 8, "day_of_week": "sat,sun"},
    {"minute": 0, "hour": 8, "day_of_week": "*/2"},
    {"minute": 0, "hour": 4, "day_of_month": 1},
    {"minute": 0, "hour": 0, "day_of_month": "1-7"},
    {"minute": 0, "hour": 0, "day_of_month": "2", "month_of_year": "*/3"},
    {"minute": 0, "hour": 0, "month_of_year": "1,7"},
    {"minute": 45, "hour": 23, "day_of_month": "28-31"},
]
FULL = (range(60), range(24), range(1, 32), range(1, 13), range(7))


def cron_sets(cron: str) -> list[set[int]]:
    """The values each field of ``cron`` matches (minute, hour, day, month, weekday)."""
    expanded = croniter.expand(cron)[0]
    sets = [
        set(full) if values == ["*"] else {int(v) for v in values}
        for values, full in zip(expanded, FULL, strict=True)
    ]
    sets[4] = {d % 7 for d in sets[4]}
    return sets


@pytest.mark.parametrize("fields", CRONTABS, ids=[str(c) for c in CRONTABS])
def test_crontab_matches_the_same_times_as_celerys_own(fields: dict[str, Any]) -> None:
    from lexigram_compat.celery.schedules import crontab

    ours = cron_sets(crontab(**fields).cron)
    theirs = celery_crontab(**fields)

    assert ours == [theirs.minute, theirs.hour, theirs.day_of_month, theirs.month_of_year, theirs.day_of_week]


def test_crontab_from_string_reads_minute_hour_day_month_weekday() -> None:
    from lexigram_compat.celery.schedules import crontab

    parsed = crontab.from_string("*/5 4 * * mon-fri")

    assert parsed == crontab(minute="*/5", hour=4, day_of_week="mon-fri")
    assert parsed.cron == "*/5 4 * * mon-fri"
    assert cron_sets(parsed.cron)[4] == celery_crontab.from_string("*/5 4 * * mon-fri").day_of_week


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        ({"minute": 61}, "the minute field '61' is not valid (0-59)"),
        ({"hour": "9 17"}, "crontab(hour='9 17') is not a cron field"),
        ({"minute": True}, "crontab(minute=True) is not a cron field"),
        ({"minute": ["a"]}, "must hold numbers"),
        ({"minute": 1.5}, "crontab(minute=1.5) is not a cron field"),
        ({"day_of_week": 1, "day_of_month": 2}, "Celery fires when both match"),
        ({"day_of_month": 31, "month_of_year": 2}, "can never fire"),
    ],
)
def test_a_crontab_cron_cannot_express_is_refused_naming_the_field(
    fields: dict[str, Any], fragment: str
) -> None:
    from lexigram_compat.celery.schedules import crontab

    with pytest.raises(ConfigurationError) as refused:
        crontab(**fields)
    assert fragment in str(refused.value)
