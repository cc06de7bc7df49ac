"""The error hierarchy: one root, typed subclasses.

Every error carries a ``message`` (what was wrong, with which value) and a
``hint`` (how to fix it). The class docstring's first line is the default
message, as in procrastinate, so ``raise TaskNotFoundError()`` still says
something useful.
"""

from __future__ import annotations

from typing import Any


class TaskQueueError(Exception):
    """A background-job operation failed."""

    code: str = "LEX_ERR_TASK_001"
    default_hint: str | None = None

    def __init__(
        self,
        message: str | None = None,
        *,
        hint: str | None = None,
        details: dict[str, Any] | None = None,
        cause: BaseException | None = None,
    ) -> None:
        doc = (type(self).__doc__ or "").strip().splitlines()
        self.message = message or (doc[0] if doc else type(self).__name__)
        self.hint = hint if hint is not None else self.default_hint
        self.details: dict[str, Any] = dict(details or {})
        self.cause = cause
        super().__init__(self.message)
        if cause is not None:
            self.__cause__ = cause

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message} (hint: {self.hint})"
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, TaskQueueError)
        return (self.message, self.hint) == (other.message, other.hint)

    def __hash__(self) -> int:
        return hash((type(self), self.message))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly description, for CLI ``--json`` output and logs."""
        return {
            "error": type(self).__name__,
            "code": self.code,
            "message": self.message,
            "hint": self.hint,
            "details": self.details,
        }


class ConfigurationError(TaskQueueError):
    """The tasks configuration is invalid."""

    code = "LEX_ERR_TASK_020"


class QueueFullError(TaskQueueError):
    """The task queue is full."""

    code = "LEX_ERR_TASK_002"


class TaskError(TaskQueueError):
    """A task could not be run."""

    code = "LEX_ERR_TASK_003"


class TaskNotFoundError(TaskError):
    """No task is registered under this name."""

    code = "LEX_ERR_TASK_004"
    default_hint = "declare it with @task (or @task(name=...)) in a module the app imports"


class TaskTimeoutError(TaskError):
    """The task attempt ran past its timeout."""

    code = "LEX_ERR_TASK_005"
    default_hint = "raise @task(timeout=...) or tasks.worker.default_timeout"


class TaskSoftTimeoutError(TaskError):
    """The attempt reached its soft timeout: raised inside the task, so it can clean up
    before the hard timeout (``@task(soft_timeout=...)``)."""

    code = "LEX_ERR_TASK_023"
    default_hint = "catch it in the task to clean up, or raise @task(soft_timeout=...)"


class TaskCancelledError(TaskError):
    """The job was cancelled."""

    code = "LEX_ERR_TASK_006"


class WorkerLostError(TaskError):
    """The worker running an attempt died (killed, lost its lease or connection);
    the attempt counts as failed, and the job runs again while attempts remain."""

    code = "LEX_ERR_TASK_021"
    default_hint = "look for the worker's exit (OOM killer, SIGKILL, a crash) and raise worker.lease_seconds"


class JobExpiredError(TaskError):
    """The job was not started before its expiry (``expires=``), so it was not run."""

    code = "LEX_ERR_TASK_024"
    default_hint = (
        "the job waited past its expiry (busy or stopped workers, or a long delay/retry); "
        "raise expires= or add workers; replay the dead letter to run it anyway"
    )


class TaskExecutionError(TaskError):
    """The task raised an exception."""

    code = "LEX_ERR_TASK_007"


class TaskValidationError(TaskError):
    """An argument does not match the task's signature or type hints."""

    code = "LEX_ERR_TASK_008"


class DuplicateTaskError(TaskError):
    """Two different functions were registered under one task name."""

    code = "LEX_ERR_TASK_009"
    default_hint = "give one of them an explicit @task(name=...)"


class TaskRegistrationError(TaskQueueError):
    """A task or schedule declaration is invalid."""

    code = "LEX_ERR_TASK_011"


class SerializationError(TaskQueueError):
    """A job argument or result could not be serialised to JSON."""

    code = "LEX_ERR_TASK_012"
    default_hint = "pass JSON-friendly values or annotate the parameter with a pydantic-serialisable type"


class PayloadTooLargeError(TaskQueueError):
    """The serialised job is larger than tasks.max_payload_bytes."""

    code = "LEX_ERR_TASK_013"
    default_hint = "store large data elsewhere and pass a reference, or raise tasks.max_payload_bytes"


class BrokerUnavailableError(TaskQueueError):
    """The broker or database could not be reached."""

    code = "LEX_ERR_TASK_014"
    default_hint = "check that the server is running and the URL in the tasks config is right"


class EnqueueOutcomeUnknownError(TaskQueueError):
    """The enqueue was sent, but the connection broke before the broker or database answered:
    the job may or may not have been written."""

    code = "LEX_ERR_TASK_022"
    default_hint = (
        "enqueue the same call again with job_id=error.job_id (enqueue_many: each call as "
        "call.options(job_id=...) with its id from error.job_ids): a job already written is "
        "found by its id and not created twice"
    )

    @property
    def job_ids(self) -> list[str]:
        """The ids the enqueue chose for its jobs, in call order (set by the queue)."""
        return list(self.details.get("job_ids", []))

    @property
    def job_id(self) -> str | None:
        """The id of the job of a single enqueue (the first of ``job_ids``)."""
        ids = self.job_ids
        return ids[0] if ids else None


# Not a BrokerUnavailableError on purpose: code that retries that error with a fresh
# call would create the job twice when the first write did commit. An ``Err`` with
# BrokerUnavailableError means no job was written; this one means "unknown".


class UnsupportedOptionError(TaskQueueError):
    """The selected engine cannot honour this option."""

    code = "LEX_ERR_TASK_015"


class DependencyResolutionError(TaskError):
    """A task parameter could not be resolved from the container."""

    code = "LEX_ERR_TASK_016"
    default_hint = "register the type in the container, or pass the argument when enqueueing"


class JobNotFoundError(TaskQueueError):
    """No job (or dead letter) exists with this id."""

    code = "LEX_ERR_TASK_017"


class EngineNotFoundError(ConfigurationError):
    """The configured engine could not be found or imported."""

    code = "LEX_ERR_TASK_018"


__all__ = [
    "BrokerUnavailableError",
    "ConfigurationError",
    "DependencyResolutionError",
    "DuplicateTaskError",
    "EngineNotFoundError",
    "EnqueueOutcomeUnknownError",
    "JobNotFoundError",
    "PayloadTooLargeError",
    "QueueFullError",
    "SerializationError",
    "TaskCancelledError",
    "TaskError",
    "TaskExecutionError",
    "TaskNotFoundError",
    "TaskQueueError",
    "TaskRegistrationError",
    "TaskSoftTimeoutError",
    "TaskTimeoutError",
    "TaskValidationError",
    "UnsupportedOptionError",
    "WorkerLostError",
]
