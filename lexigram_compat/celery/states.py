"""Celery's task state names, and the neutral job status each one stands for."""

from __future__ import annotations

from lexigram_compat.records import JobStatus

__all__ = [
    "FAILURE",
    "PENDING",
    "READY_STATES",
    "RETRY",
    "REVOKED",
    "STARTED",
    "SUCCESS",
    "state_of",
]

PENDING = "PENDING"
STARTED = "STARTED"
RETRY = "RETRY"
SUCCESS = "SUCCESS"
FAILURE = "FAILURE"
REVOKED = "REVOKED"
READY_STATES = frozenset({SUCCESS, FAILURE, REVOKED})

_STATES = {
    JobStatus.PENDING: PENDING,
    JobStatus.SCHEDULED: PENDING,  # Celery shows a job waiting for its ETA as PENDING
    JobStatus.RUNNING: STARTED,
    JobStatus.RETRYING: RETRY,
    JobStatus.COMPLETED: SUCCESS,
    JobStatus.FAILED: FAILURE,
    JobStatus.CANCELLED: REVOKED,
}


def state_of(status: JobStatus | None) -> str:
    """The Celery state of a job in ``status`` (an unknown job is ``PENDING``, as in Celery)."""
    return PENDING if status is None else _STATES[status]
