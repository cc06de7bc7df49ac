"""The queue contract: ``TaskQueueProtocol`` and the records it returns."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from lexigram_compat.calls import TaskCall
from lexigram_compat.errors import TaskQueueError
from lexigram_compat.records import DeadLetter, JobInfo, JobStatus
from lexigram_compat.result import Result

if TYPE_CHECKING:
    from lexigram_compat.dead_letters import DeadLetterQueue

__all__ = ["DeadLetter", "JobInfo", "JobStatus", "TaskQueueProtocol"]


@runtime_checkable
class TaskQueueProtocol(Protocol):
    """The contract applications enqueue through (``lexigram.contracts.infra.tasks``).

    Every method is async; ``*_sync`` twins serve sync code. Expected failures
    are returned as ``Err``, never raised.
    """

    name: str

    async def enqueue(
        self,
        call: TaskCall,
        *,
        delay: float | None = None,
        eta: datetime | None = None,
        queue: str | None = None,
        priority: int | None = None,
        job_id: str | None = None,
        idempotency_key: str | None = None,
        connection: Any = None,
        headers: Mapping[str, Any] | None = None,
        expires: float | timedelta | datetime | None = None,
        compression: str | None = None,
    ) -> Result[str, TaskQueueError]:
        """Enqueue one call: ``Ok(job_id)``, or ``Err`` with a typed error (never raises).

        Args:
            call: The task call (``my_task(...)`` or ``TaskCall(name, ...)``).
            delay: Seconds to wait before the job may run.
            eta: The earliest time the job may run (timezone-aware).
            queue: A queue name overriding the task's.
            priority: Higher runs first, where the engine honours priority.
            job_id: The job's id (default: a new UUID).
            idempotency_key: A second enqueue with this key (per task) returns the first job's id.
            connection: PostgreSQL only: the caller's open psycopg connection, to enqueue
                inside its transaction.
            headers: JSON-native values the task reads from its ``JobContext.headers``.
            expires: Seconds or a ``timedelta`` from now, or a time: a job not started by
                then is not run (a dead letter with ``JobExpiredError``); default the task's.
            compression: ``"zlib"`` (``"gzip"``), ``"bzip2"`` or ``"lzma"``: the arguments
                travel compressed (default the task's). ``tasks.max_payload_bytes`` bounds
                the compressed size.

        Returns:
            ``Ok(job_id)`` or ``Err(TaskQueueError)``.
        """

    async def enqueue_many(self, calls: Sequence[TaskCall]) -> Result[list[str], TaskQueueError]:
        """Enqueue several calls, in one round trip where the broker allows: ``Ok([job ids])``."""

    async def send_task(
        self,
        name: str,
        args: Sequence[Any] = (),
        kwargs: dict[str, Any] | None = None,
        **options: Any,
    ) -> Result[str, TaskQueueError]:
        """Enqueue by task name without the local registry check (Celery's spelling), for tasks
        defined in another service; ``options`` as for :meth:`enqueue`."""

    async def get_job(self, job_id: str) -> JobInfo | None:
        """The job's status, attempts, timestamps, last error and result, or ``None`` if unknown."""

    async def cancel(self, job_id: str) -> Result[bool, TaskQueueError]:
        """Cancel a job not yet started (it is then never run): ``Ok(True)`` if it was cancelled."""

    async def count(self, queue_name: str | None = None, status: JobStatus | None = None) -> int:
        """How many jobs a queue holds (the primary queue by default), optionally in one status."""

    async def clear(self, queue_name: str | None = None) -> int:
        """Remove the jobs of a queue (the primary queue by default); returns how many were removed."""

    async def close(self) -> None:
        """Release the queue's connections."""

    @property
    def dead_letters(self) -> DeadLetterQueue:
        """The dead letters of this queue's engine."""
        ...

    def enqueue_sync(
        self,
        call: TaskCall,
        *,
        delay: float | None = None,
        eta: datetime | None = None,
        queue: str | None = None,
        priority: int | None = None,
        job_id: str | None = None,
        idempotency_key: str | None = None,
        connection: Any = None,
        headers: Mapping[str, Any] | None = None,
        expires: float | timedelta | datetime | None = None,
        compression: str | None = None,
    ) -> Result[str, TaskQueueError]:
        """Sync twin of :meth:`enqueue` (``connection`` takes a sync ``psycopg.Connection``)."""

    def enqueue_many_sync(self, calls: Sequence[TaskCall]) -> Result[list[str], TaskQueueError]:
        """Sync twin of :meth:`enqueue_many`."""

    def get_job_sync(self, job_id: str) -> JobInfo | None:
        """Sync twin of :meth:`get_job`."""

    def cancel_sync(self, job_id: str) -> Result[bool, TaskQueueError]:
        """Sync twin of :meth:`cancel`."""

    def count_sync(self, queue_name: str | None = None, status: JobStatus | None = None) -> int:
        """Sync twin of :meth:`count`."""

    def clear_sync(self, queue_name: str | None = None) -> int:
        """Sync twin of :meth:`clear`."""
