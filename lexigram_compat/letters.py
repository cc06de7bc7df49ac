"""The one place a :class:`~lexigram_compat.queue.DeadLetter` is made: from a job
and its failure (the settle step, and stores reading back what they kept), and
from the JSON record stores keep it as."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from lexigram_compat.envelope import utcnow
from lexigram_compat.records import DeadLetter

if TYPE_CHECKING:
    from lexigram_compat.envelope import JobEnvelope
    from lexigram_compat.outcomes import FailureInfo

__all__ = [
    "UNDECODABLE_TASK",
    "dead_letter_of",
    "letter_from_record",
    "letter_to_record",
]

UNDECODABLE_TASK = "<undecodable>"
"""The task name of a dead letter whose bytes were not a job."""


def dead_letter_of(
    envelope: JobEnvelope | None,
    failure: FailureInfo,
    *,
    job_id: str | None = None,
    queue: str | None = None,
    attempts: int | None = None,
    failed_at: datetime | None = None,
    raw: bytes | None = None,
) -> DeadLetter:
    """The dead letter of ``envelope`` (None: bytes that are not a job, kept in
    ``raw``) that failed with ``failure``. Keywords override what the envelope says
    (a store reading back a letter knows its own id, queue, attempts and time)."""
    if envelope is None and job_id is None:
        raise ValueError("dead_letter_of needs an envelope or a job_id")
    return DeadLetter(
        job_id=job_id if job_id is not None else envelope.job_id,  # type: ignore[union-attr]
        task_name=envelope.task_name if envelope else UNDECODABLE_TASK,
        args=list(envelope.args) if envelope else [],
        kwargs=dict(envelope.kwargs) if envelope else {},
        queue=queue if queue is not None else (envelope.queue if envelope else ""),
        attempts=max(1, attempts if attempts is not None else (envelope.attempts if envelope else 1)),
        error_type=failure.error_type,
        error_message=failure.message,
        traceback=failure.traceback,
        failed_at=failed_at or utcnow(),
        priority=envelope.priority if envelope else 5,
        raw=None if envelope else raw,
    )


def letter_to_record(letter: DeadLetter) -> dict[str, Any]:
    """The JSON-native form stores keep (and publish) a dead letter as."""
    return {
        "job_id": letter.job_id,
        "task_name": letter.task_name,
        "args": letter.args,
        "kwargs": letter.kwargs,
        "queue": letter.queue,
        "attempts": letter.attempts,
        "error_type": letter.error_type,
        "error_message": letter.error_message,
        "traceback": letter.traceback,
        "failed_at": letter.failed_at.isoformat(),
        "priority": letter.priority,
        "raw": base64.b64encode(letter.raw).decode() if letter.raw is not None else None,
    }


def letter_from_record(record: Mapping[str, Any]) -> DeadLetter:
    """Read back :func:`letter_to_record`'s form."""
    raw = record.get("raw")
    failed_at = datetime.fromisoformat(record["failed_at"])
    return DeadLetter(
        job_id=record["job_id"],
        task_name=record["task_name"],
        args=list(record.get("args") or []),
        kwargs=dict(record.get("kwargs") or {}),
        queue=record.get("queue", ""),
        attempts=int(record.get("attempts", 1)),
        error_type=record["error_type"],
        error_message=record["error_message"],
        traceback=record.get("traceback"),
        failed_at=failed_at if failed_at.tzinfo else failed_at.replace(tzinfo=UTC),
        priority=int(record.get("priority", 5)),
        raw=base64.b64decode(raw) if raw is not None else None,
    )
