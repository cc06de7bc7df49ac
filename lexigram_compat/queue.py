"""The queue contract: ``TaskQueueProtocol`` and the records it returns."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
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
    ) -> Result[str, TaskQueueError]: ...

    async def enqueue_many(self, calls: Sequence[TaskCall]) -> Result[list[str], TaskQueueError]: ...

    async def send_task(
        self,
        name: str,
        args: Sequence[Any] = (),
        kwargs: dict[str, Any] | None = None,
        **options: Any,
    ) -> Result[str, TaskQueueError]: ...

    async def get_job(self, job_id: str) -> JobInfo | None: ...

    async def cancel(self, job_id: str) -> Result[bool, TaskQueueError]: ...

    async def count(self, queue_name: str | None = None, status: JobStatus | None = None) -> int: ...

    async def clear(self, queue_name: str | None = None) -> int: ...

    async def close(self) -> None: ...

    @property
    def dead_letters(self) -> DeadLetterQueue: ...

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
    ) -> Result[str, TaskQueueError]: ...

    def enqueue_many_sync(self, calls: Sequence[TaskCall]) -> Result[list[str], TaskQueueError]: ...

    def get_job_sync(self, job_id: str) -> JobInfo | None: ...

    def cancel_sync(self, job_id: str) -> Result[bool, TaskQueueError]: ...

    def count_sync(self, queue_name: str | None = None, status: JobStatus | None = None) -> int: ...

    def clear_sync(self, queue_name: str | None = None) -> int: ...
