"""``@scheduled`` as a Celery ``beat_schedule``, so ``celery beat`` drives it natively.

Each schedule becomes a beat entry ``lexigram:<schedule name>`` on a
:class:`FacadeCron`: the facade scheduler's own fire times in the schedule's
timezone. Its task, ``lexigram_compat.fire_schedule``,
does not send a message of its own when beat calls ``apply_async``: it works out
the fire time beat is due for (the latest cron time not after now) and enqueues
the scheduled task through the facade with the deterministic job id and fire
key of that fire time (``WorkerHost.enqueue_fire_time``). Two beats, a restarted
beat or ``lexigram-compat scheduler`` running too all land on the same job:
exactly one job per fire time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from celery import Celery, Task
from celery.schedules import BaseSchedule, schedstate

if TYPE_CHECKING:
    from lexigram_compat.adapters.celery.runtime import CeleryWorker
    from lexigram_compat.config import TaskConfig
    from lexigram_compat.registry import TaskRegistry
    from lexigram_compat.scheduling import Schedule

__all__ = ["FIRE_TASK", "FacadeCron", "beat_schedule", "fire_time", "install_beat"]

log = logging.getLogger("lexigram_compat.celery")

FIRE_TASK = "lexigram_compat.fire_schedule"
ENTRY_PREFIX = "lexigram:"


def fire_time(schedule: Schedule, now: datetime, default_tz: str) -> datetime:
    """The latest fire time of ``schedule`` not after ``now`` (aware: in its zone for
    cron, UTC for an interval)."""
    return schedule.latest_fire(now, default_tz)


NEXT_FIRE_HORIZON = timedelta(days=5 * 366)
"""How far ahead beat looks for a schedule's next fire time (Feb 29 crons fire once in 4 years)."""


class FacadeCron(BaseSchedule):  # type: ignore[misc]
    """A beat schedule whose fire times are the facade scheduler's own
    (``Schedule.fire_times``: an interval's multiples from the epoch, or croniter,
    day-of-month OR day-of-week as in cron,
    a fixed-hour time repeated at a DST fall-back fired once), so ``celery beat``
    and ``lexigram-compat scheduler`` fire exactly the same times. Celery's
    ``crontab`` ANDs day-of-month with day-of-week and fires both occurrences."""

    def __init__(
        self, schedule: Schedule, default_tz: str, nowfun: Callable[[], datetime] | None = None
    ) -> None:
        super().__init__(nowfun=nowfun)
        self.facade_schedule = schedule
        self.default_tz = default_tz

    def now(self) -> datetime:
        return self.nowfun() if self.nowfun is not None else datetime.now(UTC)

    def _next_after(self, moment: datetime) -> datetime | None:
        found = self.facade_schedule.fire_times(moment, moment + NEXT_FIRE_HORIZON, self.default_tz, limit=1)
        return found[0] if found else None

    def remaining_estimate(self, last_run_at: datetime) -> timedelta:
        following = self._next_after(_aware(last_run_at))
        return (following - self.now()) if following is not None else NEXT_FIRE_HORIZON

    def is_due(self, last_run_at: datetime) -> schedstate:
        now = self.now()
        due = bool(self.facade_schedule.fire_times(_aware(last_run_at), now, self.default_tz, limit=1))
        following = self._next_after(now)
        wait = (following - now).total_seconds() if following is not None else 3600.0
        return schedstate(due, max(wait, 0.0))

    def _key(self) -> tuple[Any, ...]:
        mine = self.facade_schedule
        if mine.every is not None:
            return ("every", mine.every)
        return ("cron", mine.cron, mine.timezone or self.default_tz)

    def __repr__(self) -> str:
        mine = self.facade_schedule
        if mine.every is not None:
            return f"<FacadeCron every {mine.every} from the epoch>"
        return f"<FacadeCron {mine.cron!r} {mine.timezone or self.default_tz}>"

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.__class__, (self.facade_schedule, self.default_tz))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FacadeCron):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def beat_schedule(registry: TaskRegistry, config: TaskConfig) -> dict[str, dict[str, Any]]:
    """The ``beat_schedule`` entries of ``registry``'s schedules."""
    entries: dict[str, dict[str, Any]] = {}
    default_tz = config.scheduler.timezone
    for schedule in registry.schedules():
        entries[ENTRY_PREFIX + schedule.name] = {
            "task": FIRE_TASK,
            "schedule": FacadeCron(schedule, default_tz),
            "args": (schedule.name,),
        }
    return entries


class FireSchedule(Task):  # type: ignore[misc]
    """Beat's task for ``@scheduled`` entries: enqueues the fire time when beat applies it."""

    name = FIRE_TASK
    typing = False
    ignore_result = True
    worker: CeleryWorker | None = None

    @staticmethod
    def clock() -> datetime:
        """The time beat fires at (replaceable, so a test can fix the fire time)."""
        return datetime.now(UTC)

    def apply_async(self, args: Any = None, kwargs: Any = None, **options: Any) -> Any:
        name = (args or [None])[0]
        if self.worker is None or not isinstance(name, str):
            raise ValueError(f"{FIRE_TASK} needs a schedule name, got args={args!r}")
        job_id = self.worker.fire(name, self.clock())
        log.info("beat fired schedule %s: job %s", name, job_id)
        return self.AsyncResult(job_id)

    def run(self, name: str) -> str:
        if self.worker is None:
            raise ValueError(f"{FIRE_TASK} is not attached to an app")
        return self.worker.fire(name, self.clock())


def install_beat(celery_app: Celery, worker: CeleryWorker) -> None:
    """Register the fire task and set ``beat_schedule`` (idempotent)."""
    if FIRE_TASK not in celery_app.tasks:
        task = celery_app.register_task(FireSchedule())
        task.worker = worker
    entries = beat_schedule(worker.context.registry, worker.context.config)
    celery_app.conf.beat_schedule = {**(celery_app.conf.beat_schedule or {}), **entries}
