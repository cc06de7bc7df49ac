"""``@scheduled``: recurring tasks on 5-field cron, and the scheduler that fires them.

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
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, ParamSpec, Protocol, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from lexigram_compat.calls import TaskCall
from lexigram_compat.cron import cron_problem
from lexigram_compat.errors import TaskRegistrationError
from lexigram_compat.registry import TaskRegistry, default_registry
from lexigram_compat.retry import RetryPolicy
from lexigram_compat.tasks import Task, task

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from lexigram_compat.config import TaskConfig
    from lexigram_compat.errors import TaskQueueError
    from lexigram_compat.result import Result

__all__ = ["Schedule", "Scheduler", "schedule_job_id", "scheduled"]

P = ParamSpec("P")
R = TypeVar("R")

log = logging.getLogger("lexigram_compat.scheduler")

MAX_FIRES_PER_TICK = 1000
_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://lexigram-compat/schedules")


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
    """A cron schedule bound to a task.

    ``timezone=None`` uses ``tasks.scheduler.timezone`` of the app that runs it.
    """

    name: str
    task_name: str
    cron: str
    timezone: str | None = None
    queue: str | None = None

    def __post_init__(self) -> None:
        where = f"@scheduled {self.name!r}"
        problem = cron_problem(self.cron) if isinstance(self.cron, str) else "is not a string"
        if problem is not None:
            raise TaskRegistrationError(
                f"{where}: cron={self.cron!r} {problem}",
                hint="use 'minute hour day-of-month month day-of-week', e.g. '0 0 * * *'",
            )
        if self.timezone is not None:
            _zone(self.timezone, where)

    @property
    def fixed_hours(self) -> bool:
        """True when the hour field names fixed hours (not a ``*`` wildcard)."""
        return not self.cron.split()[1].startswith("*")

    def fire_times(
        self, after: datetime, until: datetime, default_tz: str = "UTC", *, limit: int | None = None
    ) -> list[datetime]:
        """Fire times in ``(after, until]``, as aware datetimes in the schedule's zone.

        At most ``limit`` of them; without one, at most ``MAX_FIRES_PER_TICK``
        with a warning when there are more.
        """
        zone = _zone(self.timezone or default_tz, f"@scheduled {self.name!r}")
        it = croniter(self.cron, after.astimezone(zone))
        times: list[datetime] = []
        cap = MAX_FIRES_PER_TICK if limit is None else limit
        while len(times) < cap:
            nxt: datetime = it.get_next(datetime)
            if nxt > until:
                break
            if self.fixed_hours and _second_occurrence(nxt):
                continue
            times.append(nxt)
        else:
            if limit is not None:
                return times
            log.warning(
                "schedule %s: more than %d fire times between %s and %s; firing the first %d",
                self.name,
                MAX_FIRES_PER_TICK,
                after.isoformat(),
                until.isoformat(),
                MAX_FIRES_PER_TICK,
            )
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


def scheduled(
    cron: str,
    *,
    name: str | None = None,
    timezone: str | None = None,
    queue: str | None = None,
    priority: int | None = None,
    retry: RetryPolicy | None = None,
    max_retries: int | None = None,
    timeout: float | None = None,
    registry: TaskRegistry | None = None,
) -> Callable[[Callable[P, R]], Task[P, R]]:
    """Declare a recurring task fired on a 5-field cron schedule.

    The function is also a normal task (it can be enqueued by hand). Its
    parameters must all come from the container or have defaults.

    Args:
        cron: ``minute hour day-of-month month day-of-week``.
        name: Schedule and task name (default ``module.qualname``).
        timezone: IANA zone the cron is read in (default ``tasks.scheduler.timezone``).
        queue: The queue its jobs go to, as for ``@task``.
        priority: Priority of its jobs, as for ``@task``.
        retry: Retry policy, as for ``@task``.
        max_retries: Retries after the first attempt, as for ``@task``.
        timeout: Seconds an attempt may run, as for ``@task``.
        registry: Registry to record it in (default: the global one).
    """
    target = registry if registry is not None else default_registry

    def decorate(fn: Callable[P, R]) -> Task[P, R]:
        default = f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', fn)}"
        label = name if name is not None else default
        schedule = Schedule(name=label, task_name=label, cron=cron, timezone=timezone, queue=queue)
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
    """

    def __init__(self, app: SchedulerHost, *, start: datetime | None = None) -> None:
        self.app = app
        begin = _as_utc(start or datetime.now(UTC))
        self._last: dict[str, datetime] = {s.name: begin for s in app.registry.schedules()}
        self._begin = begin

    @property
    def schedules(self) -> list[Schedule]:
        """The schedules this scheduler fires."""
        return self.app.registry.schedules()

    def next_fire_times(self) -> dict[str, datetime]:
        """The next fire time of each schedule after its last tick."""
        tz = self.app.config.scheduler.timezone
        out = {}
        for s in self.schedules:
            after = self._last.get(s.name, self._begin)
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
            after = self._last.setdefault(schedule.name, self._begin)
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
    """The call a fire time enqueues (no arguments: parameters come from the container)."""
    return TaskCall(schedule.task_name)
