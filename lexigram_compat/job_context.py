"""``JobContext``: what a running task may know about its own job.

A task asks for it by annotating a parameter with the type (``ctx: JobContext``),
as it asks the container for any dependency; the worker supplies it on every
engine, built from the job's envelope as the settle step counted it. Code the
task calls (a helper, the Celery shim's ``self.request``) reads it with
:func:`current_job`.
"""

from __future__ import annotations

import contextvars
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lexigram_compat.envelope import JobEnvelope

__all__ = ["JobContext", "current_job", "enter", "job_context_of", "leave"]


@dataclass(frozen=True)
class JobContext:
    """The running job, as the worker sees it at the start of this attempt.

    Attributes:
        job_id: The job's id (the one ``enqueue`` returned).
        task_name: The registered task name.
        attempt: This attempt's number, 1 for the first (a lost attempt counts).
        max_attempts: Total attempts the job may have.
        queue: The physical queue the job was delivered from.
        headers: The headers given at enqueue (``enqueue(..., headers=...)``), read-only.
        eta: When the job was due to run (``delay``/``eta``/a retry's time), or None.
        enqueued_at: When the job was first enqueued.
        args: The job's positional arguments as sent (JSON-native values, before
            the task's type hints decode them).
        kwargs: Its keyword arguments as sent, read-only.
    """

    job_id: str
    task_name: str
    attempt: int
    max_attempts: int
    queue: str
    headers: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    eta: datetime | None = None
    enqueued_at: datetime | None = None
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def retries(self) -> int:
        """Celery's count: the retries before this attempt (``attempt - 1``)."""
        return self.attempt - 1

    @property
    def is_last_attempt(self) -> bool:
        """Whether a failure of this attempt dead-letters the job."""
        return self.attempt >= self.max_attempts


_current: contextvars.ContextVar[JobEnvelope | None] = contextvars.ContextVar("lexigram_job", default=None)
_NO_HEADERS: Mapping[str, Any] = MappingProxyType({})


def job_context_of(envelope: JobEnvelope) -> JobContext:
    """The :class:`JobContext` of attempt ``envelope.attempts`` (built once per envelope)."""
    cached: JobContext | None = envelope.__dict__.get("_job_context")
    if cached is None:
        cached = envelope.__dict__["_job_context"] = JobContext(
            envelope.job_id,
            envelope.task_name,
            max(1, envelope.attempts),
            envelope.max_attempts,
            envelope.queue,
            MappingProxyType(envelope.headers) if envelope.headers else _NO_HEADERS,
            envelope.run_at,
            envelope.enqueued_at,
            tuple(envelope.args),
            MappingProxyType(envelope.kwargs) if envelope.kwargs else _NO_HEADERS,
        )
    return cached


def current_job() -> JobContext | None:
    """The job whose attempt is running in this context (None outside a worker's attempt)."""
    envelope = _current.get()
    return None if envelope is None else job_context_of(envelope)


def enter(envelope: JobEnvelope) -> contextvars.Token[JobEnvelope | None]:
    """Make ``envelope``'s job the :func:`current_job` of this context until :func:`leave`
    (the worker's hot path: a context variable set, no object built until asked for)."""
    return _current.set(envelope)


def leave(token: contextvars.Token[JobEnvelope | None]) -> None:
    """Undo :func:`enter`."""
    _current.reset(token)
