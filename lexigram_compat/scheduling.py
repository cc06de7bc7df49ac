"""``@scheduled``: recurring tasks on 5-field cron or a fixed interval, and the scheduler that fires them.

Each fire time of each schedule yields exactly one job: its job id is derived
from ``(schedule name, fire time)`` and the engine refuses a second job with
the same unique key, however many schedulers run.

Daylight saving time (fire times are computed in the schedule's timezone):
- A wall-clock time that does not exist (the skipped hour in spring) fires
  once, at the first instant after the gap (a daily ``30 2 * * *`` in
  Europe/Berlin fires at 03:00 that day).
- A wall-clock time that occurs twice (the repeated hour in autumn) fires
  once, at its first occurrence, when the hour field names fixed hours
  (``30 2 * * *``); when the hour field is a wildcard (``*/30 * * * *``), the
  schedule is interval-like and fires in both occurrences, as elapsed time
  passes. This is Vixie cron's rule.

Interval schedules (``every=timedelta(...)``) fire at the multiples of the
interval counted from the Unix epoch (1970-01-01 00:00 UTC): ``every=timedelta(
minutes=5)`` fires at :00, :05, :10 ... of every hour, whenever a scheduler
started, so every scheduler computes the same fire times (and fire keys). An
interval counts elapsed time: DST does not move it and ``timezone=`` does not
apply.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, ParamSpec, Protocol, TypeVar, overload
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from lexigram_compat.calls import CallOptions, TaskCall
from lexigram_compat.cron import cron_problem
from lexigram_compat.errors import TaskRegistrationError
from lexigram_compat.registry import TaskRegistry, default_registry
from lexigram_compat.retry import RetryPolicy
from lexigram_compat.tasks import Task, task, validate_expires, validate_priority, validate_queue_name

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from lexigram_compat.config import TaskConfig
    from lexigram_compat.errors import TaskQueueError
    from lexigram_compat.result import Result

__all__ = ["CRON_MACROS", "EPOCH", "Schedule", "Scheduler", "schedule_job_id", "scheduled"]

P = ParamSpec("P")
R = TypeVar("R")

log = logging.getLogger("lexigram_compat.scheduler")

MAX_FIRES_PER_TICK = 1000
_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://lexigram-compat/schedules")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
"""The anchor of interval schedules: they fire at ``EPOCH + k * every``."""
CRON_MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
"""Vixie cron's macros, as the 5-field expressions they stand for."""
_ONE_MICROSECOND = timedelta(microseconds=1)


def schedule_job_id(schedule_name: str, fire_time: datetime) -> str:
    """The deterministic job id of one fire time of one schedule."""
    stamp = fire_time.astimezone(UTC).isoformat()
    return str(uuid.uuid5(_NAMESPACE, f"{schedule_name}@{stamp}"))


def _zone(value: str, where: str) -> ZoneInfo:
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise TaskRegistrationError(
            f"{where}: timezone={value!r} is not a known IANA timezone",
            hint="use a name like 'UTC' or 'Europe/Berlin'",
        ) from None


@dataclass(frozen=True)
class Schedule:
    """A schedule bound to a task: a 5-field cron (or a macro such as ``@daily``)
    or an interval (``every``), with the arguments and options of its jobs.

    ``timezone=None`` uses ``tasks.scheduler.timezone`` of the app that runs it.
    ``expires``: seconds after its enqueue when a fired job not yet started is not run
    (Celery beat's ``options={"expires": ...}``); default the task's.
    """

    name: str
    task_name: str
    cron: str | None = None
    timezone: str | None = None
    queue: str | None = None
    every: timedelta | None = None
    args: tuple[Any, ...] = field(default=(), hash=False)
    kwargs: Mapping[str, Any] = field(default_factory=dict, hash=False)
    priority: int | None = None
    headers: Mapping[str, Any] | None = field(default=None, hash=False)
    expires: float | None = None

    def __post_init__(self) -> None:
        where = f"@scheduled {self.name!r}"
        if (self.cron is None) == (self.every is None):
            raise TaskRegistrationError(
                f"{where}: give exactly one of cron= and every= "
                f"(got cron={self.cron!r}, every={self.every!r})",
                hint="e.g. @scheduled('*/5 * * * *') or @scheduled(every=timedelta(minutes=5))",
            )
        if self.every is not None:
            self._check_every(where)
        else:
            self._check_cron(where)
        if self.timezone is not None:
            _zone(self.timezone, where)
        try:
            if self.queue is not None:
                validate_queue_name(self.queue, where)
            if self.priority is not None:
                validate_priority(self.priority, where)
            object.__setattr__(self, "expires", validate_expires(self.expires, where))
        except ValueError as exc:
            raise TaskRegistrationError(str(exc)) from None
        if not isinstance(self.args, tuple | list) or not isinstance(self.kwargs, Mapping):
            raise TaskRegistrationError(
                f"{where}: args={self.args!r} / kwargs={self.kwargs!r} must be a sequence and a mapping",
                hint="e.g. args=(1, 'a'), kwargs={'full': True}",
            )
        object.__setattr__(self, "args", tuple(self.args))
        object.__setattr__(self, "kwargs", dict(self.kwargs))

    def _check_cron(self, where: str) -> None:
        cron = self.cron
        if isinstance(cron, str) and cron.strip().lower() in CRON_MACROS:
            cron = CRON_MACROS[cron.strip().lower()]
            object.__setattr__(self, "cron", cron)
        problem = cron_problem(cron) if isinstance(cron, str) else "is not a string"
        if problem is not None:
            raise TaskRegistrationError(
                f"{where}: cron={self.cron!r} {problem}",
                hint="use 'minute hour day-of-month month day-of-week', e.g. '0 0 * * *', "
                "or a macro: " + ", ".join(CRON_MACROS),
            )

    def _check_every(self, where: str) -> None:
        given = every = self.every
        if isinstance(every, int | float) and not isinstance(every, bool):
            every = timedelta(seconds=every)
            object.__setattr__(self, "every", every)
        if not isinstance(every, timedelta) or every < timedelta(seconds=1):
            raise TaskRegistrationError(
                f"{where}: every={given!r} is not an interval of at least one second",
                hint="use a timedelta (every=timedelta(minutes=5)) or a number of seconds >= 1",
            )
        if every % _ONE_MICROSECOND:  # pragma: no cover - a timedelta is whole microseconds
            raise TaskRegistrationError(f"{where}: every={every!r} is not whole microseconds")
        if self.timezone is not None:
            raise TaskRegistrationError(
                f"{where}: timezone={self.timezone!r} does not apply to an interval schedule",
                hint="an interval counts elapsed time from the Unix epoch; drop timezone= or use cron=",
            )

    @property
    def fixed_hours(self) -> bool:
        """True when the hour field names fixed hours (not a ``*`` wildcard); False for an interval."""
        return self.cron is not None and not self.cron.split()[1].startswith("*")

    def call(self) -> TaskCall:
        """The call each fire time enqueues: the schedule's arguments and options."""
        return TaskCall(
            self.task_name,
            self.args,
            dict(self.kwargs),
            CallOptions(queue=self.queue, priority=self.priority, headers=self.headers, expires=self.expires),
        )

    def latest_fire(self, now: datetime, default_tz: str = "UTC") -> datetime:
        """The latest fire time not after ``now`` (aware: UTC for an interval, else the schedule's zone)."""
        if self.every is not None:
            steps = (_as_utc(now) - EPOCH) // self.every
            return EPOCH + steps * self.every
        assert self.cron is not None
        zone = _zone(self.timezone or default_tz, f"@scheduled {self.name!r}")
        local = now.astimezone(zone) + _ONE_MICROSECOND
        previous: datetime = croniter(self.cron, local).get_prev(datetime)
        return previous

    def fire_times(
        self, after: datetime, until: datetime, default_tz: str = "UTC", *, limit: int | None = None
    ) -> list[datetime]:
        """Fire times in ``(after, until]``, as aware datetimes: in the schedule's zone
        for cron, UTC for an interval.

        At most ``limit`` of them; without one, at most ``MAX_FIRES_PER_TICK``
        with a warning when there are more.
        """
        cap = MAX_FIRES_PER_TICK if limit is None else limit
        times = (
            self._interval_times(after, until, cap)
            if self.every is not None
            else self._cron_times(after, until, default_tz, cap)
        )
        if len(times) == cap and limit is None and self._more_after(times[-1], until, default_tz):
            log.warning(
                "schedule %s: more than %d fire times between %s and %s; firing the first %d",
                self.name,
                MAX_FIRES_PER_TICK,
                after.isoformat(),
                until.isoformat(),
                MAX_FIRES_PER_TICK,
            )
        return times

    def _more_after(self, last: datetime, until: datetime, default_tz: str) -> bool:
        return bool(self.fire_times(last, until, default_tz, limit=1))

    def _interval_times(self, after: datetime, until: datetime, cap: int) -> list[datetime]:
        assert self.every is not None
        nxt = self.latest_fire(after) + self.every
        end = _as_utc(until)
        times: list[datetime] = []
        while len(times) < cap and nxt <= end:
            times.append(nxt)
            nxt += self.every
        return times

    def _cron_times(self, after: datetime, until: datetime, default_tz: str, cap: int) -> list[datetime]:
        assert self.cron is not None
        zone = _zone(self.timezone or default_tz, f"@scheduled {self.name!r}")
        it = croniter(self.cron, after.astimezone(zone))
        times: list[datetime] = []
        while len(times) < cap:
            nxt: datetime = it.get_next(datetime)
            if nxt > until:
                break
            if self.fixed_hours and _second_occurrence(nxt):
                continue
            times.append(nxt)
        return times


def _as_utc(moment: datetime) -> datetime:
    """Aware UTC; a naive datetime is read as UTC, as ``enqueue(eta=...)`` does."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _second_occurrence(moment: datetime) -> bool:
    """True if ``moment``'s wall-clock time occurred once already (DST fall-back)."""
    naive = moment.replace(tzinfo=None)
    first = naive.replace(tzinfo=moment.tzinfo, fold=0).utcoffset()
    second = naive.replace(tzinfo=moment.tzinfo, fold=1).utcoffset()
    return first != second and moment.utcoffset() == second


class ScheduleDecorator(Protocol):
    """What ``@scheduled(...)`` returns: it takes a function (declaring its task) or a task."""

    @overload
    def __call__(self, fn: Task[P, R], /) -> Task[P, R]: ...

    @overload
    def __call__(self, fn: Callable[P, R], /) -> Task[P, R]: ...


def scheduled(
    cron: str | None = None,
    *,
    every: timedelta | float | None = None,
    name: str | None = None,
    args: tuple[Any, ...] | list[Any] = (),
    kwargs: Mapping[str, Any] | None = None,
    timezone: str | None = None,
    queue: str | None = None,
    priority: int | None = None,
    headers: Mapping[str, Any] | None = None,
    retry: RetryPolicy | None = None,
    max_retries: int | None = None,
    timeout: float | None = None,
    registry: TaskRegistry | None = None,
) -> ScheduleDecorator:
    """Declare a recurring task fired on a 5-field cron schedule or a fixed interval.

    The function is also a normal task (it can be enqueued by hand). Each fire
    time enqueues it with ``args``/``kwargs`` (parameters not given come from the
    container or their defaults). Stack ``@scheduled`` (or put it over ``@task``)
    to give one task several schedules; each needs its own ``name``.

    Args:
        cron: ``minute hour day-of-month month day-of-week``, or a macro
            (``@hourly``, ``@daily``, ``@weekly``, ``@monthly``, ``@yearly``).
        every: An interval (timedelta, or seconds), instead of ``cron``: fires at
            the multiples of ``every`` since the Unix epoch.
        name: Schedule name (default: the task name, ``module.qualname``); on a new
            task also the task's name.
        args: Positional arguments of each fired job.
        kwargs: Keyword arguments of each fired job.
        timezone: IANA zone the cron is read in (default ``tasks.scheduler.timezone``).
        queue: The queue its jobs go to (on a new task also the task's queue).
        priority: Priority of its jobs (on a new task also the task's priority).
        headers: Headers of its jobs, visible to the task (``JobContext.headers``).
        retry: Retry policy, as for ``@task`` (a new task only).
        max_retries: Retries after the first attempt, as for ``@task`` (a new task only).
        timeout: Seconds an attempt may run, as for ``@task`` (a new task only).
        registry: Registry to record it in (default: the global one).
    """
    target = registry if registry is not None else default_registry

    def decorate(fn: Callable[P, R] | Task[P, R]) -> Task[P, R]:
        if isinstance(fn, Task):
            return _add_schedule(fn)
        default = f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', fn)}"
        label = name if name is not None else default
        schedule = _schedule(label, label)
        declared = task(
            name=label,
            queue=queue,
            priority=priority,
            retry=retry,
            max_retries=max_retries,
            timeout=timeout,
            registry=target,
        )(fn)
        target.add_schedule(schedule)
        declared.schedule = schedule  # type: ignore[attr-defined]
        return declared

    def _schedule(label: str, task_name: str) -> Schedule:
        return Schedule(
            name=label,
            task_name=task_name,
            cron=cron,
            every=every,  # type: ignore[arg-type]  # seconds are turned into a timedelta
            timezone=timezone,
            queue=queue,
            priority=priority,
            args=tuple(args),
            kwargs=dict(kwargs or {}),
            headers=headers,
        )

    def _add_schedule(declared: Task[P, R]) -> Task[P, R]:
        where = f"@scheduled over task {declared.name!r}"
        if retry is not None or max_retries is not None or timeout is not None:
            raise TaskRegistrationError(
                f"{where}: retry=/max_retries=/timeout= belong to the task, not to one of its schedules",
                hint="set them on the innermost @scheduled or @task",
            )
        label = name if name is not None else declared.name
        schedule = _schedule(label, declared.name)
        existing = next((s for s in target.schedules() if s.name == label), None)
        if existing is not None and existing != schedule:
            raise TaskRegistrationError(
                f"{where}: the schedule name {label!r} is already used by another schedule",
                hint="give each schedule of a task its own @scheduled(name=...)",
            )
        target.add(declared)
        target.add_schedule(schedule)
        if getattr(declared, "schedule", None) is None:
            declared.schedule = schedule  # type: ignore[attr-defined]
        return declared

    return decorate


class SchedulerHost(Protocol):
    """What a scheduler needs of the app that runs it (``TasksApp`` is one)."""

    @property
    def registry(self) -> TaskRegistry: ...

    @property
    def config(self) -> TaskConfig: ...

    def enqueue_fire_time(self, schedule: Schedule, fire: datetime) -> Awaitable[Result[str, TaskQueueError]]:
        """Enqueue one fire time of ``schedule``."""
        ...


class Scheduler:
    """Enqueues due fire times of every registered schedule.

    It starts from the time it was created (missed fire times while no
    scheduler ran are not back-filled). ``tick(now)`` enqueues every fire time
    in ``(last tick, now]``, so tests and operators can drive it with a clock.
    A schedule added while it runs (a task registered later, ``conf.beat_schedule``
    set after start) starts from the tick before it was first seen, never from the
    scheduler's start: it does not fire the times that passed before it existed.
    """

    def __init__(self, app: SchedulerHost, *, start: datetime | None = None) -> None:
        self.app = app
        begin = _as_utc(start or datetime.now(UTC))
        self._last: dict[str, datetime] = {s.name: begin for s in app.registry.schedules()}
        self._begin = begin
        self._last_tick = begin
        """The latest moment a tick covered: where a schedule first seen now starts."""

    @property
    def schedules(self) -> list[Schedule]:
        """The schedules this scheduler fires."""
        return self.app.registry.schedules()

    def next_fire_times(self) -> dict[str, datetime]:
        """The next fire time of each schedule after its last tick."""
        tz = self.app.config.scheduler.timezone
        out = {}
        for s in self.schedules:
            after = self._last.get(s.name, self._last_tick)
            times = s.fire_times(after, after + timedelta(days=366 * 5), tz, limit=1)
            if times:
                out[s.name] = times[0]
        return out

    async def tick(self, now: datetime | None = None) -> list[str]:
        """Enqueue each fire time in ``(last tick, now]``; return the job ids.

        A fire time whose enqueue failed (broker down) is not marked done, so
        the next tick tries it again.
        """
        moment = _as_utc(now or datetime.now(UTC))
        tz = self.app.config.scheduler.timezone
        ids: list[str] = []
        for schedule in self.schedules:
            after = self._last.setdefault(schedule.name, self._last_tick)
            if moment <= after:
                continue
            done = after
            for fire in schedule.fire_times(after, moment, tz):
                result = await self.app.enqueue_fire_time(schedule, fire)
                if result.is_err():
                    log.error(
                        "schedule %s: enqueue for %s failed: %s",
                        schedule.name,
                        fire.isoformat(),
                        result.unwrap_err(),
                    )
                    break
                ids.append(result.unwrap())
                done = fire
            else:
                done = moment
            self._last[schedule.name] = done
        self._last_tick = max(self._last_tick, moment)
        return ids

    async def run(self, stop: asyncio.Event) -> None:
        """Tick every ``scheduler.check_interval`` seconds until ``stop`` is set."""
        interval = self.app.config.scheduler.check_interval
        log.info("scheduler started with %d schedule(s)", len(self.schedules))
        while not stop.is_set():
            try:
                await self.tick()
            except Exception:  # never let one bad tick end the loop
                log.exception("scheduler tick failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)


def schedule_call(schedule: Schedule) -> TaskCall:
    """The call a fire time enqueues: the schedule's arguments and options."""
    return schedule.call()
