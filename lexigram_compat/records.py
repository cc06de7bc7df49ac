"""The records the queue contract returns: :class:`JobStatus`, :class:`JobInfo` and
:class:`DeadLetter`. Plain values with no imports of the package, so the engine
and ledger contracts can name them without an import circle (``queue.py``
re-exports them beside ``TaskQueueProtocol``)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = ["DeadLetter", "JobInfo", "JobStatus"]


class JobStatus(enum.StrEnum):
    """Where a job is in its life."""

    PENDING = "pending"
    """Ready to run."""
    SCHEDULED = "scheduled"
    """Waiting for its ``delay``/``eta``."""
    RUNNING = "running"
    RETRYING = "retrying"
    """Failed an attempt; waiting for the retry delay."""
    COMPLETED = "completed"
    FAILED = "failed"
    """Dead-lettered."""
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class JobInfo:
    """A snapshot of one job, as ``get_job`` reports it."""

    job_id: str
    task_name: str
    queue: str
    status: JobStatus
    attempts: int
    max_attempts: int
    enqueued_at: datetime
    run_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    last_error: str | None = None
    result: Any = None
    priority: int = 5


@dataclass(frozen=True)
class DeadLetter:
    """A job that will not be retried, kept for inspection and replay."""

    job_id: str
    task_name: str
    args: list[Any]
    kwargs: dict[str, Any]
    queue: str
    attempts: int
    error_type: str
    error_message: str
    traceback: str | None
    failed_at: datetime
    priority: int = 5
    raw: bytes | None = field(default=None, repr=False)
    """The undecodable payload, when the job could not be read at all."""
