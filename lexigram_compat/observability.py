"""Structured job events: one log line each, with job id, task, queue and attempt,
in-process counters under the metric names every engine shares, optional
timing aggregates, and a typed :class:`JobEvent` handed to subscribers.

Every engine's worker calls the same methods (``started``, then ``succeeded``,
``retried`` or ``dead_lettered``); producers call ``enqueued``. These run on
every job's hot path, so what they always do is small: bump a counter keyed by
(metric, task, queue), and log when the level is enabled. Prometheus metrics
(:mod:`lexigram_compat.metrics`) read those counters, and :class:`Timings`,
when it scrapes; a subscriber's :class:`JobEvent` is built only when someone
subscribed. A subscriber that raises is logged and never breaks the job.
"""

from __future__ import annotations

import bisect
import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

if TYPE_CHECKING:
    from lexigram_compat.envelope import JobEnvelope

__all__ = ["METRIC_NAMES", "OUTCOMES", "JobEvent", "JobEvents", "Subscriber", "TaskTimings", "Timings"]

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
_bisect_left = bisect.bisect_left


class JobEvent(NamedTuple):
    """One thing that happened to a job, as subscribers receive it (a named
    tuple: cheap to build on a job's hot path).

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
        """The event as a flat dict, without empty fields."""
        data = {**self._asdict(), "event": self.kind, "outcome": self.outcome}
        del data["kind"]
        return {k: v for k, v in data.items() if v is not None}


Subscriber = Callable[[JobEvent], None]


class Timings:
    """Bucketed time observations per (task, queue): the data of two histograms
    (``wait`` and ``duration``), kept as cumulative plain lists so that recording
    costs well under a microsecond.

    ``of(task, queue)`` is the :class:`TaskTimings` of one (task, queue): one
    dict lookup per event finds both of its histograms. Each histogram is
    ``[count per bucket..., count above the last bound, sum]``; a bucket counts
    values ``<=`` its bound and above the previous one.
    """

    KINDS = ("wait", "duration")

    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = tuple(float(bound) for bound in bounds)  # float to float compares are the fast ones
        self.by_task: dict[tuple[str, str], TaskTimings] = {}

    def of(self, task: str, queue: str) -> TaskTimings:
        key = (task, queue)
        found = self.by_task.get(key)
        if found is None:
            found = self.by_task[key] = TaskTimings(len(self.bounds) + 2)
        return found

    def observe(self, kind: str, task: str, queue: str, seconds: float) -> None:
        slots = getattr(self.of(task, queue), kind)
        slots[_bisect_left(self.bounds, seconds)] += 1
        slots[-1] += seconds

    def series(self) -> list[tuple[tuple[str, str, str], list[float]]]:
        """Every histogram as ``((kind, task, queue), a copy of its slots)``."""
        return [
            ((kind, task, queue), list(getattr(timings, kind)))
            for (task, queue), timings in list(self.by_task.items())
            for kind in self.KINDS
        ]


class TaskTimings:
    """The ``wait`` and ``duration`` histograms of one (task, queue)."""

    __slots__ = ("duration", "wait")

    def __init__(self, size: int) -> None:
        self.wait = [0.0] * size
        self.duration = [0.0] * size


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


def _error_type(error: str) -> str:
    """``RuntimeError`` from ``RuntimeError: message`` (the summary form outcomes carry)."""
    head = error.split(":", 1)[0].strip()
    return head if head and " " not in head else "Error"


class JobEvents:
    """Logs and counts what happens to jobs, and tells subscribers."""

    def __init__(self) -> None:
        self.counts: Counter[tuple[str, str, str]] = Counter()
        """(metric name, task, queue) -> events, since this process started."""
        self.timings: Timings | None = None
        """Set (by :func:`lexigram_compat.metrics.install`) to aggregate attempt
        durations and queue waits."""
        self.subscribers: list[Subscriber] = []
        self.engine_of: Callable[[str], str] = lambda queue: ""
        """The engine label (``postgres``, ``celery-redis``...) of a physical queue."""

    def subscribe(self, subscriber: Subscriber) -> None:
        """Call ``subscriber(event)`` for every event from now on (once per subscriber)."""
        if subscriber not in self.subscribers:
            self.subscribers.append(subscriber)

    def _publish(self, event: JobEvent) -> None:
        for subscriber in self.subscribers:
            try:
                subscriber(event)
            except Exception:
                log.exception("job event subscriber %r failed", subscriber)

    def _count(self, event: str, envelope: JobEnvelope, level: int) -> bool:
        """Count the event; True when its log line is wanted (so the hot path
        builds no message that nobody reads)."""
        self.counts[(METRIC_NAMES[event], envelope.task_name, envelope.queue)] += 1
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

    def _finish(self, envelope: JobEnvelope, duration: float | None) -> None:
        """Observe a failed attempt's duration (None: unknown, e.g. its worker died)."""
        if duration is not None and self.timings is not None:
            self.timings.observe("duration", envelope.task_name, envelope.queue, duration)

    def enqueued(self, envelope: JobEnvelope, backend: _Labelled, job_id: str) -> None:
        if self._count("enqueued", envelope, logging.DEBUG):
            self._log("enqueued", logging.DEBUG, envelope, f" engine={backend.key}", engine=backend.key)
        if self.subscribers:
            key = backend.key
            self._publish(
                JobEvent("enqueued", job_id, envelope.task_name, envelope.queue, envelope.attempts, key)
            )

    # started/succeeded run once per job on every engine: with metrics on, their
    # extra work is inlined (one dict lookup and a bucket bump each, well under a
    # microsecond), measured by benchmarks/metrics_cost.py. An attempt's duration
    # comes with its outcome, so nothing is kept between the two calls.
    def started(self, envelope: JobEnvelope) -> None:
        self._emit("started", logging.INFO, envelope, "")
        timings = self.timings
        if timings is None and not self.subscribers:
            return
        due = envelope.enqueued_at
        run_at = envelope.run_at
        if run_at is not None and run_at > due:
            due = run_at
        wait = time.time() - due.timestamp()
        if wait < 0.0:  # noqa: PLR1730 - max() is a call, this is the hot path
            wait = 0.0
        if timings is not None:
            series = timings.by_task.get((envelope.task_name, envelope.queue))
            if series is None:
                series = timings.of(envelope.task_name, envelope.queue)
            slots = series.wait
            slots[_bisect_left(timings.bounds, wait)] += 1
            slots[-1] += wait
        if self.subscribers:
            self._publish(self._event("started", envelope, wait=wait))

    def succeeded(self, envelope: JobEnvelope, duration: float) -> None:
        if self._count("succeeded", envelope, logging.INFO):
            self._log("succeeded", logging.INFO, envelope, f" duration={duration:.3f}s", duration=duration)
        timings = self.timings
        if timings is not None:
            series = timings.by_task.get((envelope.task_name, envelope.queue))
            if series is None:
                series = timings.of(envelope.task_name, envelope.queue)
            slots = series.duration
            slots[_bisect_left(timings.bounds, duration)] += 1
            slots[-1] += duration
        if self.subscribers:
            self._publish(self._event("succeeded", envelope, duration=duration))

    def retried(self, envelope: JobEnvelope, delay: float, error: str, duration: float | None = None) -> None:
        self.counts[(METRIC_NAMES["failed"], envelope.task_name, envelope.queue)] += 1
        kind = _error_type(error)
        text = f" in={delay:.2f}s error={error}"
        self._finish(envelope, duration)
        more = {"delay": delay, "error_type": kind, "duration": duration}
        self._emit("retried", logging.WARNING, envelope, text, **more)
        if self.subscribers:
            self._publish(
                self._event("retried", envelope, duration=duration, delay=delay, error_type=kind, error=error)
            )

    def dead_lettered(self, envelope: JobEnvelope, error: str, duration: float | None = None) -> None:
        self.counts[(METRIC_NAMES["failed"], envelope.task_name, envelope.queue)] += 1
        kind = _error_type(error)
        self._finish(envelope, duration)
        text = f" error={error}"
        self._emit(
            "dead_lettered", logging.ERROR, envelope, text, error=error, error_type=kind, duration=duration
        )
        if self.subscribers:
            self._publish(
                self._event("dead_lettered", envelope, duration=duration, error_type=kind, error=error)
            )

    def total(self, event: str) -> int:
        """Sum of a counter over all tasks and queues."""
        name = METRIC_NAMES[event]
        return sum(v for (metric, *_), v in self.counts.items() if metric == name)
