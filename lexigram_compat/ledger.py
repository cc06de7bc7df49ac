"""The job ledger: the one contract for job records, on every engine.

A job's record says what ``get_job``, ``cancel``, ``count`` and ``clear``
answer, and it is what a worker's attempt starts and settles against. It has
two roles, one ABC each:

- :class:`JobRecords`, the producer and inspection side: ``get_job``,
  ``cancel``, ``count``, ``clear``. Every :class:`~lexigram_compat.engine_contract.Engine`
  is one (creating a record is the engine's ``enqueue``: the guards of
  :class:`~lexigram_compat.envelope.JobEnvelope` — its ``job_id``, its
  ``unique_key`` and its ``fire_key`` — are typed fields, never string prefixes).
- :class:`AttemptRecords`, the worker side: ``start`` (whether to run, and the
  attempt number), ``complete``, ``retry``, ``dead_letter`` and ``release``.
  Each takes the job's :class:`Delivery` (its id, and the token of the claim
  where the engine guards outcomes with one).

Implementations: SQL for PostgreSQL (``adapters/postgres/queries.sql``), the
memory engine in memory, and **one** Redis ledger (``adapters/redis_ledger.py``
and its Lua script) for every engine whose broker keeps no records (Dramatiq
and Celery, on Redis or RabbitMQ).
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from lexigram_compat.records import JobInfo, JobStatus

if TYPE_CHECKING:
    from lexigram_compat.envelope import JobEnvelope
    from lexigram_compat.outcomes import FailureInfo

__all__ = [
    "FIRE_GUARD_SECONDS",
    "AttemptRecords",
    "Delivery",
    "JobRecords",
    "StartVerdict",
    "fire_key",
]

FIRE_GUARD_SECONDS = 7 * 24 * 3600.0
"""How long a schedule fire time stays claimed, apart from its job's record (which
may expire at once with ``retention.completed_seconds: 0``): far longer than any
scheduler's clock skew or downtime, so a fire time yields one job, ever."""


def fire_key(schedule_name: str, fire_time: datetime) -> str:
    """The guard of one fire time of one schedule: the only place its form is defined."""
    return f"{schedule_name}@{fire_time.isoformat()}"


@dataclass(frozen=True)
class Delivery:
    """One delivery of a job to a worker, as its ledger knows it."""

    job_id: str
    token: Any = None
    """The claim's guard, where the ledger keeps one (PostgreSQL): an outcome with
    another token is refused, so a worker whose lease expired cannot overwrite a
    newer attempt."""


@dataclass(frozen=True)
class StartVerdict:
    """What a worker may do with a delivered job.

    - ``run``: this delivery is attempt number ``attempt``: run it.
    - ``lost``: the job was found *running*: the worker of attempt ``attempt``
      died (or its lease ran out). The settle step decides, by the one
      poison-pill rule, whether it gets another attempt (after the policy's
      delay) or is dead-lettered; it is not run now.
    - neither: the job is finished or was cancelled (``status`` says which); not run.
    """

    run: bool
    attempt: int
    status: JobStatus
    lost: bool = False
    max_attempts: int = 0
    """The attempts the job's record allows (0: the ledger keeps none; use the message's)."""


class JobRecords(abc.ABC):
    """The producer and inspection side of the ledger."""

    @abc.abstractmethod
    async def get_job(self, job_id: str) -> JobInfo | None:
        """A snapshot of the job, or None when unknown (or expired)."""

    @abc.abstractmethod
    async def cancel(self, job_id: str) -> bool:
        """Cancel a job that has not started; False when it is unknown or already started.
        A message of it still on a broker never starts it afterwards."""

    @abc.abstractmethod
    async def count(self, queue: str, status: JobStatus | None) -> int:
        """Jobs in ``queue``; with ``status=None``, those waiting to run (pending/scheduled/retrying)."""

    @abc.abstractmethod
    async def clear(self, queue: str) -> int:
        """Remove waiting jobs from ``queue`` (never run afterwards); return how many."""


class AttemptRecords(abc.ABC):
    """The worker side of the ledger: what the settle step writes through."""

    @abc.abstractmethod
    async def start(self, delivery: Delivery, envelope: JobEnvelope) -> StartVerdict:
        """A worker begins an attempt of the delivered job (``envelope.attempts``: as
        the message counts them, before this one; its other fields make the record
        of a job the ledger never saw, sent by code that does not use this library)."""

    @abc.abstractmethod
    async def complete(self, delivery: Delivery, result: Any) -> bool:
        """Record success; False when the delivery is stale (another attempt owns the job).

        Raises:
            ValueError: The ledger cannot store this result (the job is dead-lettered).
        """

    @abc.abstractmethod
    async def retry(self, delivery: Delivery, run_at: datetime, failure: FailureInfo) -> bool:
        """Record a failed attempt that runs again at ``run_at``; False when stale."""

    @abc.abstractmethod
    async def dead_letter(self, delivery: Delivery, failure: FailureInfo) -> bool:
        """Record that the job failed for good; False when stale."""

    @abc.abstractmethod
    async def release(self, delivery: Delivery) -> bool:
        """Give the job back, this attempt not counted (a stopping worker)."""
