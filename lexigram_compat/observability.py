"""Structured job events: one log line each, with job id, task, queue and attempt,
in-process counters under the metric names every engine shares, and a typed
:class:`JobEvent` handed to subscribers (Prometheus metrics, JSON logs).

Every engine's worker calls the same methods (``started``, then ``succeeded``,
``retried`` or ``dead_lettered``); producers call ``enqueued``. A subscriber
that raises is logged and never breaks the job.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lexigram_compat.backends import Backend
    from lexigram_compat.envelope import JobEnvelope

__all__ = ["METRIC_NAMES", "OUTCOMES", "JobEvent", "JobEvents", "Subscriber"]

log = logging.getLogger("lexigram_compat.jobs")

METRIC_NAMES = {
    "enqueued": "lexigram_tasks_enqueued_total",
    "started": "lexigram_tasks_started_total",
    "succeeded": "lexigram_tasks_succeeded_total",
    "retried": "lexigram_tasks_retried_total",
    "dead_lettered": "lexigram_tasks_dead_lettered_total",
    "failed": "lexigram_tasks_failed_total",
}
OUTCOMES = ("succeeded", "retried", "dead_lettered")
"""The events that end an attempt (``failed`` counts the last two together)."""
_OPEN_ATTEMPTS_MAX = 10_000
"""Start times kept for attempts whose outcome this process never sees."""


@dataclass(frozen=True)
class JobEvent:
    """One thing that happened to a job, as subscribers receive it.

    ``duration`` is the attempt's run time (outcomes), ``wait`` the time from
    when the job was due (enqueued, or its delay's end) to the attempt's start
    (``started``). ``error_type``/``error`` describe a failed attempt; job
    arguments are never part of an event.
    """

    kind: str
    job_id: str
    task: str
    queue: str
    attempt: int
    engine: str
    duration: float | None = None
    wait: float | None = None
    delay: float | None = None
    error_type: str | None = None
    error: str | None = None

    @property
    def outcome(self) -> str | None:
        """``succeeded``/``retried``/``dead_lettered`` for an attempt's end, else None."""
        return self.kind if self.kind in OUTCOMES else None

    def fields(self) -> dict[str, Any]:
        """The event as a flat dict (JSON log lines), without empty fields."""
        data = {
            "event": self.kind,
            "job_id": self.job_id,
            "task": self.task,
            "queue": self.queue,
            "attempt": self.attempt,
            "engine": self.engine,
            "outcome": self.outcome,
            "duration": self.duration,
            "wait": self.wait,
            "delay": self.delay,
            "error_type": self.error_type,
            "error": self.error,
        }
        return {k: v for k, v in data.items() if v is not None}


Subscriber = Callable[[JobEvent], None]


def _fields(envelope: JobEnvelope, **more: Any) -> dict[str, Any]:
    return {
        "job_id": envelope.job_id,
        "task": envelope.task_name,
        "queue": envelope.queue,
        "attempt": envelope.attempts,
        **more,
    }


def _error_type(error: str) -> str:
    """``RuntimeError`` from ``RuntimeError: message`` (the summary form outcomes carry)."""
    head = error.split(":", 1)[0].strip()
    return head if head and " " not in head else "Error"


def _due(envelope: JobEnvelope) -> datetime:
    run_at = envelope.run_at
    return run_at if run_at is not None and run_at > envelope.enqueued_at else envelope.enqueued_at


class JobEvents:
    """Logs and counts what happens to jobs, and tells subscribers."""

    def __init__(self) -> None:
        self.counts: Counter[tuple[str, str]] = Counter()
        self.subscribers: list[Subscriber] = []
        self.engine_of: Callable[[str], str] = lambda queue: ""
        """The engine label (``postgres``, ``celery-redis``...) of a physical queue."""
        self._started: dict[tuple[str, int], float] = {}

    def subscribe(self, subscriber: Subscriber) -> None:
        """Call ``subscriber(event)`` for every event from now on (once per subscriber)."""
        if subscriber not in self.subscribers:
            self.subscribers.append(subscriber)

    def _publish(self, make: Callable[[], JobEvent]) -> None:
        if not self.subscribers:
            return
        event = make()
        for subscriber in self.subscribers:
            try:
                subscriber(event)
            except Exception:
                log.exception("job event subscriber %r failed", subscriber)

    def _count(self, event: str, envelope: JobEnvelope, level: int) -> bool:
        """Count the event; True when its log line is wanted (so the hot path
        builds no message that nobody reads)."""
        self.counts[(METRIC_NAMES[event], envelope.task_name)] += 1
        return log.isEnabledFor(level)

    def _emit(self, event: str, level: int, envelope: JobEnvelope, text: str, **more: Any) -> None:
        if self._count(event, envelope, level):
            self._log(event, level, envelope, text, **more)

    def _log(self, event: str, level: int, envelope: JobEnvelope, text: str, **more: Any) -> None:
        more.setdefault("engine", self.engine_of(envelope.queue))
        fields = _fields(envelope, event=event, **more)
        log.log(
            level,
            "%s %s job=%s queue=%s attempt=%d%s",
            event,
            envelope.task_name,
            envelope.job_id,
            envelope.queue,
            envelope.attempts,
            text,
            extra={"job": fields},
        )

    def _event(self, kind: str, envelope: JobEnvelope, **more: Any) -> JobEvent:
        return JobEvent(
            kind,
            envelope.job_id,
            envelope.task_name,
            envelope.queue,
            envelope.attempts,
            self.engine_of(envelope.queue),
            **more,
        )

    def _finish(self, envelope: JobEnvelope, duration: float | None) -> float | None:
        """The attempt's duration: as given, else since its ``started`` event here."""
        began = self._started.pop((envelope.job_id, envelope.attempts), None)
        if duration is None and began is not None:
            return time.perf_counter() - began
        return duration

    def enqueued(self, envelope: JobEnvelope, backend: Backend, job_id: str) -> None:
        if self._count("enqueued", envelope, logging.DEBUG):
            self._log("enqueued", logging.DEBUG, envelope, f" engine={backend.key}", engine=backend.key)
        if self.subscribers:
            self._publish(
                lambda: JobEvent(
                    "enqueued", job_id, envelope.task_name, envelope.queue, envelope.attempts, backend.key
                )
            )

    def started(self, envelope: JobEnvelope) -> None:
        self._emit("started", logging.DEBUG, envelope, "")
        if self.subscribers:
            if len(self._started) >= _OPEN_ATTEMPTS_MAX:
                self._started.clear()
            self._started[(envelope.job_id, envelope.attempts)] = time.perf_counter()
            wait = max(0.0, time.time() - _due(envelope).timestamp())
            self._publish(lambda: self._event("started", envelope, wait=wait))

    def succeeded(self, envelope: JobEnvelope, duration: float) -> None:
        if self._count("succeeded", envelope, logging.INFO):
            self._log("succeeded", logging.INFO, envelope, f" duration={duration:.3f}s", duration=duration)
        if self.subscribers:
            self._finish(envelope, duration)
            self._publish(lambda: self._event("succeeded", envelope, duration=duration))

    def retried(self, envelope: JobEnvelope, delay: float, error: str, duration: float | None = None) -> None:
        self.counts[(METRIC_NAMES["failed"], envelope.task_name)] += 1
        self._emit(
            "retried",
            logging.WARNING,
            envelope,
            f" in={delay:.2f}s error={error}",
            delay=delay,
            error_type=_error_type(error),
        )
        if self.subscribers:
            took = self._finish(envelope, duration)
            self._publish(
                lambda: self._event(
                    "retried",
                    envelope,
                    duration=took,
                    delay=delay,
                    error_type=_error_type(error),
                    error=error,
                )
            )

    def dead_lettered(self, envelope: JobEnvelope, error: str, duration: float | None = None) -> None:
        self.counts[(METRIC_NAMES["failed"], envelope.task_name)] += 1
        kind = _error_type(error)
        self._emit("dead_lettered", logging.ERROR, envelope, f" error={error}", error=error, error_type=kind)
        if self.subscribers:
            took = self._finish(envelope, duration)
            self._publish(
                lambda: self._event("dead_lettered", envelope, duration=took, error_type=kind, error=error)
            )

    def total(self, event: str) -> int:
        """Sum of a counter over all tasks."""
        name = METRIC_NAMES[event]
        return sum(v for (metric, _), v in self.counts.items() if metric == name)
