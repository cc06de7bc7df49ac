"""``celery.exceptions`` names the shim supports, mapped to the neutral ones.

``Retry`` and ``Reject`` are the neutral classes (or a subclass taking Celery's
arguments), so ``except Retry`` and ``raise Reject(...)`` in Celery code keep
their meaning under every engine.
"""

from __future__ import annotations

import builtins

from lexigram_compat.errors import TaskSoftTimeoutError
from lexigram_compat.retry import Reject as _NeutralReject
from lexigram_compat.retry import Retry

__all__ = [
    "CeleryReject",
    "MaxRetriesExceededError",
    "Reject",
    "Retry",
    "SoftTimeLimitExceeded",
    "TaskFailedError",
    "TaskRevokedError",
    "TimeoutError",
]


class MaxRetriesExceededError(Exception):
    """``self.retry()`` without ``exc=`` after the task's ``max_retries`` ran out."""


class CeleryReject(_NeutralReject):
    """Celery's ``Reject(reason, requeue=False)``: dead-letter the job at once.

    ``requeue=True`` (put the message back for another worker) is refused: it loops
    on a job that always fails; raise ``self.retry()`` for another attempt.
    """

    def __init__(self, reason: object = None, requeue: bool = False) -> None:
        if requeue:
            raise ValueError(
                "Reject(requeue=True) is not supported by lexigram_compat.celery: it redelivers "
                "forever; raise self.retry(exc=...) for another counted attempt"
            )
        self.reason = reason
        self.requeue = False
        super().__init__(str(reason) if reason is not None else "task rejected the job")


Reject = CeleryReject
"""``celery.exceptions.Reject``."""


SoftTimeLimitExceeded = TaskSoftTimeoutError
"""``celery.exceptions.SoftTimeLimitExceeded``: raised inside a task declared with
``soft_time_limit=`` when it is reached (the neutral ``TaskSoftTimeoutError``, an
``Exception`` as in Celery), so ``except SoftTimeLimitExceeded`` cleans up on every engine."""


class TimeoutError(builtins.TimeoutError):
    """``AsyncResult.get(timeout=...)`` gave up before the job finished."""


class TaskFailedError(Exception):
    """``AsyncResult.get()`` of a job that failed for good: ``error_type`` and
    ``message`` are the dead letter's (Celery re-raises the original class; the
    shim raises this one, naming it)."""

    def __init__(self, job_id: str, error_type: str, message: str) -> None:
        self.job_id, self.error_type, self.message = job_id, error_type, message
        super().__init__(f"job {job_id} failed: {error_type}: {message}")


class TaskRevokedError(Exception):
    """``AsyncResult.get()`` of a job that was cancelled."""
