"""What operators do to an app, shared by the command line and the dashboard:
look a job up with its dead letter, cancel or retry it, count queues, list workers.

Everything here goes through the app's queues and dead-letter queues (never an
engine directly), so the same rules apply as in application code: a cancel the
engine cannot honour is refused, a replay writes the new job before removing
the dead letter.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from lexigram_compat.errors import (
    BrokerUnavailableError,
    JobNotFoundError,
    TaskQueueError,
    UnsupportedOptionError,
)
from lexigram_compat.queue import DeadLetter, JobInfo, JobStatus
from lexigram_compat.queue_handle import engine_error
from lexigram_compat.result import Err, Ok, Result

if TYPE_CHECKING:
    from lexigram_compat.app import TasksApp
    from lexigram_compat.backends import Backend
    from lexigram_compat.presence import WorkerPresence

__all__ = [
    "COUNTED",
    "JobView",
    "call_engine",
    "cancel_job",
    "find_job",
    "queue_stats",
    "retry_job",
    "workers",
]

T = TypeVar("T")

COUNTED: tuple[tuple[str, JobStatus | None], ...] = (
    ("waiting", None),
    ("running", JobStatus.RUNNING),
    ("scheduled", JobStatus.SCHEDULED),
    ("retrying", JobStatus.RETRYING),
)
"""(column, status counted) of a queue's row; None counts every waiting job."""

_UNREACHABLE = ("ConnectionError", "OperationalError", "TimeoutError", "InterfaceError")


async def call_engine(operation: str, make: Callable[[], Awaitable[T]]) -> T:
    """Run an engine or store call; raise a typed error (``BrokerUnavailableError``
    when the server cannot be reached, whatever the driver called it)."""
    try:
        return await make()
    except TaskQueueError:
        raise
    except Exception as exc:
        if not isinstance(exc, OSError) and type(exc).__name__ in _UNREACHABLE:
            raise BrokerUnavailableError(
                f"{operation} failed: the broker is unreachable ({type(exc).__name__})", cause=exc
            ) from None
        raise engine_error(operation, exc) from None


@dataclass(frozen=True)
class JobView:
    """One job as an operator sees it: its record and, if it died, its dead letter."""

    backend: str
    engine: str
    info: JobInfo | None
    dead_letter: DeadLetter | None

    @property
    def job_id(self) -> str:
        if self.info is not None:
            return self.info.job_id
        assert self.dead_letter is not None
        return self.dead_letter.job_id

    @property
    def status(self) -> str:
        if self.info is not None:
            return self.info.status.value
        return JobStatus.FAILED.value

    def history(self) -> list[tuple[str, Any]]:
        """(event, time) pairs in order: enqueued, run at, started, finished, dead-lettered."""
        steps: list[tuple[str, Any]] = []
        if self.info is not None:
            info = self.info
            steps.append(("enqueued", info.enqueued_at))
            if info.run_at is not None and info.run_at != info.enqueued_at:
                steps.append(("due", info.run_at))
            if info.started_at is not None:
                steps.append((f"attempt {info.attempts} started", info.started_at))
            if info.finished_at is not None:
                steps.append((info.status.value, info.finished_at))
        if self.dead_letter is not None:
            steps.append(("dead-lettered", self.dead_letter.failed_at))
        return steps

    @property
    def last_error(self) -> str | None:
        if self.dead_letter is not None:
            return f"{self.dead_letter.error_type}: {self.dead_letter.error_message}"
        return self.info.last_error if self.info is not None else None


async def find_job(app: TasksApp, job_id: str) -> tuple[Backend, JobView] | None:
    """The job ``job_id`` on whichever backend has it (its record, its dead letter, or both)."""
    for backend in app.backend_set:
        engine = backend.engine
        info = await call_engine("job lookup", functools.partial(engine.get_job, job_id))
        letter = None
        if engine.capabilities.dead_letters:
            dlq = app.dead_letter_queue_of(backend)
            letter = await call_engine("dead letter lookup", functools.partial(dlq.get, job_id))
        if info is not None or letter is not None:
            return backend, JobView(backend.name, backend.key, info, letter)
    return None


def _not_found(job_id: str) -> JobNotFoundError:
    return JobNotFoundError(
        f"no job with id {job_id!r} on any backend",
        hint="completed jobs expire after tasks.retention.completed_seconds; check the id",
    )


async def cancel_job(app: TasksApp, job_id: str) -> Result[JobView, TaskQueueError]:
    """Cancel a job that has not started; ``Err`` naming why when it cannot be."""
    found = await find_job(app, job_id)
    if found is None:
        return Err(_not_found(job_id))
    backend, view = found
    if not backend.engine.capabilities.cancel:
        return Err(UnsupportedOptionError(f"cancel is not supported on the {backend.key} engine"))
    done = await call_engine("cancel", functools.partial(backend.engine.cancel, job_id))
    if not done:
        return Err(
            TaskQueueError(
                f"job {job_id!r} is {view.status}: only a job that has not started can be cancelled",
                hint="a running job finishes or fails on its own; a dead one can be retried",
            )
        )
    after = await find_job(app, job_id)
    return Ok(after[1] if after else view)


async def retry_job(app: TasksApp, job_id: str) -> Result[str, TaskQueueError]:
    """Run a dead-lettered job again as a new job (its dead letter is removed);
    return the new job's id."""
    found = await find_job(app, job_id)
    if found is None:
        return Err(_not_found(job_id))
    backend, view = found
    if view.dead_letter is None:
        return Err(
            TaskQueueError(
                f"job {job_id!r} is {view.status}, not dead-lettered: only a dead job can be retried",
                hint="a job waiting for a retry runs on its own; see it with: lexigram-compat job show",
            )
        )
    return await app.dead_letter_queue_of(backend).replay(job_id)


async def queue_stats(app: TasksApp) -> list[dict[str, Any]]:
    """Per backend: its engine, dead-letter count and per-queue counts (:data:`COUNTED`)."""
    stats = []
    for backend in app.backend_set:
        engine = backend.engine
        rows = []
        for physical in backend.queues():
            row: dict[str, Any] = {"queue": physical}
            for key, status in COUNTED:
                row[key] = await call_engine("count", functools.partial(engine.count, physical, status))
            rows.append(row)
        dead = 0
        if engine.capabilities.dead_letters:
            dead = await call_engine("dead letter count", app.dead_letter_queue_of(backend).count)
        stats.append(
            {
                "backend": backend.name,
                "engine": backend.key,
                "primary": backend is app.backend_set.primary,
                "dead": dead,
                "queues": rows,
            }
        )
    return stats


async def workers(app: TasksApp) -> list[WorkerPresence]:
    """The live workers of every backend (see :mod:`lexigram_compat.worker_listing`)."""
    from lexigram_compat.worker_listing import live_workers

    return await call_engine("worker listing", functools.partial(live_workers, app))
