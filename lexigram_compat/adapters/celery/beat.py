"""``@scheduled`` as a Celery ``beat_schedule``, so ``celery beat`` drives it natively.

Each schedule becomes a beat entry ``lexigram:<schedule name>`` on a crontab
read in the schedule's timezone. Its task, ``lexigram_compat.fire_schedule``,
does not send a message of its own when beat calls ``apply_async``: it works out
the fire time beat is due for (the latest cron time not after now) and enqueues
the scheduled task through the facade with the deterministic job id and unique
key of that fire time (``TasksApp.enqueue_fire_time``). Two beats, a restarted
beat or ``lexigram-compat scheduler`` running too all land on the same job:
exactly one job per fire time.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from celery import Celery, Task
from celery.schedules import crontab
from croniter import croniter

if TYPE_CHECKING:
    from lexigram_compat.adapters.celery.runtime import WorkerRuntime
    from lexigram_compat.app import TasksApp
    from lexigram_compat.scheduling import Schedule

__all__ = ["FIRE_TASK", "beat_schedule", "fire_time", "install_beat"]

log = logging.getLogger("lexigram_compat.celery")

FIRE_TASK = "lexigram_compat.fire_schedule"
ENTRY_PREFIX = "lexigram:"


def fire_time(schedule: Schedule, now: datetime, default_tz: str) -> datetime:
    """The latest fire time of ``schedule`` not after ``now`` (aware, in its zone)."""
    zone = ZoneInfo(schedule.timezone or default_tz)
    local = now.astimezone(zone) + timedelta(microseconds=1)
    previous: datetime = croniter(schedule.cron, local).get_prev(datetime)
    return previous


def _now_in(zone: ZoneInfo) -> datetime:
    return datetime.now(zone)


def beat_schedule(app: TasksApp) -> dict[str, dict[str, Any]]:
    """The ``beat_schedule`` entries of ``app``'s schedules."""
    entries: dict[str, dict[str, Any]] = {}
    default_tz = app.config.scheduler.timezone
    for schedule in app.registry.schedules():
        minute, hour, day_of_month, month, day_of_week = schedule.cron.split()
        zone = ZoneInfo(schedule.timezone or default_tz)
        entries[ENTRY_PREFIX + schedule.name] = {
            "task": FIRE_TASK,
            "schedule": crontab(
                minute=minute,
                hour=hour,
                day_of_month=day_of_month,
                month_of_year=month,
                day_of_week=day_of_week,
                nowfun=partial(_now_in, zone),
            ),
            "args": (schedule.name,),
        }
    return entries


class FireSchedule(Task):  # type: ignore[misc]
    """Beat's task for ``@scheduled`` entries: enqueues the fire time when beat applies it."""

    name = FIRE_TASK
    typing = False
    ignore_result = True
    runtime: WorkerRuntime | None = None

    @staticmethod
    def clock() -> datetime:
        """The time beat fires at (replaceable, so a test can fix the fire time)."""
        return datetime.now(UTC)

    def apply_async(self, args: Any = None, kwargs: Any = None, **options: Any) -> Any:
        name = (args or [None])[0]
        if self.runtime is None or not isinstance(name, str):
            raise ValueError(f"{FIRE_TASK} needs a schedule name, got args={args!r}")
        job_id = self.runtime.fire(name, self.clock())
        log.info("beat fired schedule %s: job %s", name, job_id)
        return self.AsyncResult(job_id)

    def run(self, name: str) -> str:
        if self.runtime is None:
            raise ValueError(f"{FIRE_TASK} is not attached to an app")
        return self.runtime.fire(name, self.clock())


def install_beat(celery_app: Celery, app: TasksApp, runtime: WorkerRuntime) -> None:
    """Register the fire task and set ``beat_schedule`` (idempotent)."""
    if FIRE_TASK not in celery_app.tasks:
        task = celery_app.register_task(FireSchedule())
        task.runtime = runtime
    celery_app.conf.beat_schedule = {**(celery_app.conf.beat_schedule or {}), **beat_schedule(app)}
