"""What one attempt of a job came to, engine-neutral.

:func:`~lexigram_compat.worker.execution.execute` produces an :data:`Outcome`;
the settle step (:mod:`lexigram_compat.worker.settle`) records it through an
engine's ledger. Both sides of the adapter line read these types, so they
live here, below both.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lexigram_compat.errors import TaskQueueError, TaskValidationError

__all__ = [
    "Completed",
    "DeadLettered",
    "FailureInfo",
    "Outcome",
    "RetryLater",
    "failure_of",
    "qualified_name",
    "undecodable",
]


@dataclass(frozen=True)
class FailureInfo:
    """Why an attempt failed, as stored with a retry or a dead letter."""

    error_type: str
    message: str
    traceback: str | None = None

    def summary(self) -> str:
        """``Type: message`` on one line."""
        return f"{self.error_type}: {self.message}"


@dataclass(frozen=True)
class Completed:
    """The attempt succeeded."""

    result: Any
    duration: float


@dataclass(frozen=True)
class RetryLater:
    """The attempt failed and the job gets another at ``run_at``."""

    run_at: datetime
    delay: float
    failure: FailureInfo
    error: BaseException
    duration: float | None = None
    """Seconds the failed attempt ran (None: it never ran, e.g. a lost worker's)."""


@dataclass(frozen=True)
class DeadLettered:
    """The job failed for good and goes to the dead-letter store."""

    failure: FailureInfo
    error: BaseException | None
    duration: float | None = None
    """Seconds the last attempt ran (None: it did not run: undecodable, lost, refused)."""


Outcome = Completed | RetryLater | DeadLettered


def qualified_name(cls: type) -> str:
    """``module.QualName`` of a class (builtins without their module)."""
    return cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


def failure_of(exc: BaseException, *, with_traceback: bool = True) -> FailureInfo:
    """Describe ``exc`` for storage (type, message, traceback)."""
    message = exc.message if isinstance(exc, TaskQueueError) else str(exc)
    tb = "".join(traceback.format_exception(exc)) if with_traceback else None
    return FailureInfo(qualified_name(type(exc)), message or type(exc).__name__, tb)


def undecodable(problem: str) -> DeadLettered:
    """The outcome for bytes that are not a job."""
    error = TaskValidationError(f"job payload could not be decoded: {problem}")
    return DeadLettered(failure_of(error, with_traceback=False), error)
