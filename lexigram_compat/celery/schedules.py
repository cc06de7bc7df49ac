"""Celery's ``crontab`` and ``beat_schedule`` entries, as neutral schedules.

``crontab(minute, hour, day_of_week, day_of_month, month_of_year)`` becomes the
5-field cron ``minute hour day_of_month month_of_year day_of_week``; a
``timedelta`` or a number of seconds becomes an interval schedule
(``Schedule.every``), whose fire times are the multiples of the interval since the
Unix epoch (Celery's ``schedule`` counts from the last run instead: the neutral
one is aligned, so several schedulers agree on each fire time). Each entry becomes
a :class:`~lexigram_compat.scheduling.Schedule` named like the entry, fired exactly
once per fire time by the scheduler of every engine. Anything else (``solar``,
custom ``schedule`` subclasses, Celery's own ``celery.schedules.crontab``) is
refused, naming the entry and the alternative.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any

from lexigram_compat.celery.options import check_call_options
from lexigram_compat.cron import cron_problem
from lexigram_compat.errors import ConfigurationError, TaskRegistrationError
from lexigram_compat.scheduling import Schedule

__all__ = ["crontab", "schedules_of"]

_ENTRY_KEYS = ("task", "schedule", "args", "kwargs", "options", "relative")
_SCHEDULE_OPTIONS = ("queue", "priority", "headers", "expires")
_ALTERNATIVE = (
    "use lexigram_compat.celery.schedules.crontab(...), a timedelta or a number of seconds; "
    "for another rule, fire a task on a crontab that checks the rule and returns early"
)


def _field(value: Any, name: str) -> str:
    if isinstance(value, bool):
        raise ConfigurationError(
            f"crontab({name}={value!r}) is not a cron field",
            hint="use a number, a string like '*/15' or '1-5', or a set of numbers",
        )
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        text = value.strip()
        if not text or " " in text:
            raise ConfigurationError(
                f"crontab({name}={value!r}) is not a cron field",
                hint="use '*', a number, a range '1-5', a list '1,15' or a step '*/15'",
            )
        return text.lower()
    if isinstance(value, Iterable):
        items = sorted(value)
        if not items or not all(isinstance(i, int) and not isinstance(i, bool) for i in items):
            raise ConfigurationError(
                f"crontab({name}={value!r}) must hold numbers", hint="e.g. {0, 30} or range(0, 24, 2)"
            )
        return ",".join(str(i) for i in items)
    raise ConfigurationError(
        f"crontab({name}={value!r}) is not a cron field",
        hint="use a number, a string like '*/15' or '1-5', or a set of numbers",
    )


class crontab:
    """Celery's ``crontab``: fires when every field matches (UTC, or the app's ``timezone``).

    Celery requires both the day of the month and the day of the week to match when
    both are restricted; 5-field cron fires when either does, so restricting both is
    refused (restrict one, and check the other inside the task).
    """

    def __init__(
        self,
        minute: Any = "*",
        hour: Any = "*",
        day_of_week: Any = "*",
        day_of_month: Any = "*",
        month_of_year: Any = "*",
    ) -> None:
        self.minute = _field(minute, "minute")
        self.hour = _field(hour, "hour")
        self.day_of_week = _field(day_of_week, "day_of_week")
        self.day_of_month = _field(day_of_month, "day_of_month")
        self.month_of_year = _field(month_of_year, "month_of_year")
        if self.day_of_week != "*" and self.day_of_month != "*":
            raise ConfigurationError(
                f"crontab(day_of_week={day_of_week!r}, day_of_month={day_of_month!r}): Celery fires "
                "when both match, 5-field cron when either does",
                hint="restrict one of them and check the other inside the task",
            )
        fields = (self.minute, self.hour, self.day_of_month, self.month_of_year, self.day_of_week)
        self.cron = " ".join(fields)
        problem = cron_problem(self.cron)
        if problem is not None:
            raise ConfigurationError(
                f"{self!r}: as cron {self.cron!r}, it {problem}",
                hint="minute 0-59, hour 0-23, day_of_week 0-6 or sun-sat, day_of_month 1-31, "
                "month_of_year 1-12",
            )

    @classmethod
    def from_string(cls, cron: str) -> crontab:
        """``crontab.from_string('*/5 * * * *')``: minute hour day-of-month month day-of-week."""
        fields = cron.split()
        if len(fields) != 5:
            raise ConfigurationError(
                f"crontab.from_string({cron!r}) needs 5 fields, got {len(fields)}",
                hint="'minute hour day-of-month month day-of-week', e.g. '0 4 * * *'",
            )
        minute, hour, day_of_month, month_of_year, day_of_week = fields
        return cls(minute, hour, day_of_week, day_of_month, month_of_year)

    def __repr__(self) -> str:
        return (
            f"<crontab: {self.minute} {self.hour} {self.day_of_week} {self.day_of_month} "
            f"{self.month_of_year} (m/h/dw/dM/MY)>"
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, crontab) and self.cron == other.cron

    def __hash__(self) -> int:
        return hash(self.cron)


def _refuse(entry: str, problem: str, hint: str = _ALTERNATIVE) -> ConfigurationError:
    return ConfigurationError(f"beat_schedule entry {entry!r}: {problem}", hint=hint)


def _timing(entry: str, value: Any) -> dict[str, Any]:
    if isinstance(value, crontab):
        return {"cron": value.cron}
    if isinstance(value, timedelta):
        return {"every": value}
    if isinstance(value, int | float) and not isinstance(value, bool):
        return {"every": value}  # seconds
    kind = f"{type(value).__module__}.{type(value).__qualname__}"
    if kind == "celery.schedules.crontab":
        raise _refuse(
            entry,
            f"schedule {value!r} is Celery's own crontab",
            "import crontab from lexigram_compat.celery.schedules instead of celery.schedules",
        )
    raise _refuse(entry, f"schedule {value!r} ({kind}) is not supported")


def _schedule(entry: str, spec: Any) -> Schedule:
    if not isinstance(spec, Mapping):
        raise _refuse(
            entry,
            f"is {type(spec).__name__}, not a dict",
            "use {'task': 'module.name', 'schedule': crontab(...), 'args': (...), ...}",
        )
    unknown = [key for key in spec if key not in _ENTRY_KEYS]
    if unknown:
        raise _refuse(entry, f"key {unknown[0]!r} is not supported", "use " + ", ".join(_ENTRY_KEYS))
    task = spec.get("task")
    if not isinstance(task, str) or not task:
        raise _refuse(
            entry,
            f"task={task!r} is not a task name",
            "give the task's registered name, e.g. 'proj.tasks.cleanup' (or my_task.name)",
        )
    if "schedule" not in spec:
        raise _refuse(entry, "has no 'schedule'")
    if spec.get("relative"):
        raise _refuse(
            entry,
            "relative=True is not supported",
            "interval schedules are aligned to the Unix epoch; drop relative",
        )
    options = dict(spec.get("options") or {})
    check_call_options(f"beat_schedule entry {entry!r} options", options)
    other = [key for key in options if key not in _SCHEDULE_OPTIONS]
    if other:
        raise _refuse(
            entry,
            f"option {other[0]!r} is not supported on a schedule",
            "a schedule's jobs take " + ", ".join(_SCHEDULE_OPTIONS) + "; the job id is the fire time's",
        )
    args, kwargs = spec.get("args") or (), spec.get("kwargs") or {}
    try:
        return Schedule(
            name=entry,
            task_name=task,
            args=args,
            kwargs=kwargs,
            queue=options.get("queue"),
            priority=options.get("priority"),
            headers=options.get("headers"),
            expires=options.get("expires"),
            **_timing(entry, spec["schedule"]),
        )
    except TaskRegistrationError as exc:
        message = exc.message.removeprefix(f"@scheduled {entry!r}: ")
        raise _refuse(entry, message, exc.hint or _ALTERNATIVE) from None


def schedules_of(beat_schedule: Any) -> list[Schedule]:
    """The neutral schedules of a Celery ``beat_schedule`` dict (one per entry, named like it)."""
    if not isinstance(beat_schedule, Mapping):
        raise ConfigurationError(
            f"beat_schedule={beat_schedule!r} is not a dict",
            hint="{'entry name': {'task': ..., 'schedule': crontab(...)}}",
        )
    return [_schedule(str(entry), spec) for entry, spec in beat_schedule.items()]
