"""Structured job events: one log line each, with job id, task, queue and attempt,
plus in-process counters under the metric names every engine shares."""

from __future__ import annotations

import logging
from collections import Counter
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from lexigram_compat.envelope import JobEnvelope

__all__ = ["METRIC_NAMES", "JobEvents"]

log = logging.getLogger("lexigram_compat.jobs")

METRIC_NAMES = {
    "enqueued": "lexigram_tasks_enqueued_total",
    "started": "lexigram_tasks_started_total",
    "succeeded": "lexigram_tasks_succeeded_total",
    "retried": "lexigram_tasks_retried_total",
    "dead_lettered": "lexigram_tasks_dead_lettered_total",
}


class _Labelled(Protocol):
    """What names an engine in a log line (a ``Backend``: ``key`` is ``dramatiq-redis``...)."""

    @property
    def key(self) -> str: ...


def _fields(envelope: JobEnvelope, **more: Any) -> dict[str, Any]:
    return {
        "job_id": envelope.job_id,
        "task": envelope.task_name,
        "queue": envelope.queue,
        "attempt": envelope.attempts,
        **more,
    }


class JobEvents:
    """Logs and counts what happens to jobs."""

    def __init__(self) -> None:
        self.counts: Counter[tuple[str, str]] = Counter()

    def _count(self, event: str, envelope: JobEnvelope, level: int) -> bool:
        """Count the event; True when its log line is wanted (so the hot path
        builds no message that nobody reads)."""
        self.counts[(METRIC_NAMES[event], envelope.task_name)] += 1
        return log.isEnabledFor(level)

    def _emit(self, event: str, level: int, envelope: JobEnvelope, text: str, **more: Any) -> None:
        if self._count(event, envelope, level):
            self._log(event, level, envelope, text, **more)

    def _log(self, event: str, level: int, envelope: JobEnvelope, text: str, **more: Any) -> None:
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

    def enqueued(self, envelope: JobEnvelope, backend: _Labelled, job_id: str) -> None:
        if self._count("enqueued", envelope, logging.DEBUG):
            self._log("enqueued", logging.DEBUG, envelope, f" engine={backend.key}")

    def started(self, envelope: JobEnvelope) -> None:
        self._emit("started", logging.INFO, envelope, "")

    def succeeded(self, envelope: JobEnvelope, duration: float) -> None:
        if self._count("succeeded", envelope, logging.INFO):
            self._log("succeeded", logging.INFO, envelope, f" duration={duration:.3f}s", duration=duration)

    def retried(self, envelope: JobEnvelope, delay: float, error: str) -> None:
        self._emit("retried", logging.WARNING, envelope, f" in={delay:.2f}s error={error}", delay=delay)

    def dead_lettered(self, envelope: JobEnvelope, error: str) -> None:
        self._emit("dead_lettered", logging.ERROR, envelope, f" error={error}", error=error)

    def total(self, event: str) -> int:
        """Sum of a counter over all tasks."""
        name = METRIC_NAMES[event]
        return sum(v for (metric, _), v in self.counts.items() if metric == name)
