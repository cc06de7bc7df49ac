"""Prometheus metrics under the same names on every engine (the ``metrics`` extra).

Counters and histograms come from the job events of
:mod:`lexigram_compat.observability` (producers count enqueues, workers the
rest), read from its counters when scraped; queue gauges are read from the
engine's own counts at scrape time by a custom collector; worker gauges say
how many worker processes are up and how many of their slots are busy.

``/metrics`` is served by worker processes when a port is configured
(``worker --metrics-port``, ``$LEXIGRAM_METRICS_PORT`` or
``tasks.observability.metrics_port``). A worker made of several processes
(``--processes N``, ``dramatiq``, ``celery worker -P prefork``) runs
prometheus-client's multiprocess mode: every process writes its values under
one ``PROMETHEUS_MULTIPROC_DIR`` (set for the user), the first process to
bind the port serves them, summed.
"""

from __future__ import annotations

import asyncio
import atexit
import importlib.util
import logging
import os
import threading
import time
import weakref
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from lexigram_compat.observability import METRIC_NAMES, OUTCOMES, JobEvents, Timings

if TYPE_CHECKING:
    from lexigram_compat.app import TasksApp

__all__ = [
    "COUNTERS",
    "METRICS_PORT_ENV",
    "MULTIPROC_ENV",
    "enable_multiprocess",
    "install",
    "job_metrics",
    "metrics_port",
    "serve_metrics",
    "worker_started",
]

log = logging.getLogger("lexigram_compat.metrics")

METRICS_PORT_ENV = "LEXIGRAM_METRICS_PORT"
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
LABELS = ("task", "queue", "engine")
COUNTERS = {
    "enqueued": ("lexigram_tasks_enqueued", "Jobs enqueued."),
    "started": ("lexigram_tasks_started", "Job attempts started."),
    "succeeded": ("lexigram_tasks_succeeded", "Job attempts that succeeded."),
    "retried": ("lexigram_tasks_retried", "Failed attempts that will be retried."),
    "dead_lettered": ("lexigram_tasks_dead_lettered", "Jobs moved to the dead letters."),
    "failed": ("lexigram_tasks_failed", "Failed attempts (retried or dead-lettered)."),
}
"""Event -> (name without ``_total``, help)."""
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900)
SCRAPE_TIMEOUT = 5.0
FLUSH_SECONDS = 1.0
"""Multiprocess mode: how often each process writes its counts to its files."""


def available() -> bool:
    """True when ``prometheus-client`` is installed."""
    return importlib.util.find_spec("prometheus_client") is not None


def enable_multiprocess(directory: str) -> None:
    """Write this process's values under ``directory`` (prometheus-client's
    multiprocess mode), for metrics created from now on."""
    os.makedirs(directory, exist_ok=True)
    os.environ[MULTIPROC_ENV] = directory
    if available():
        from prometheus_client import values

        # The value class is chosen when prometheus_client is first imported:
        # choose again, now that the directory is set.
        values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]


class _Flushed:
    """What one app's counters and timings were at the last flush."""

    def __init__(self) -> None:
        self.counts: dict[tuple[str, str, str], int] = {}
        self.timings: dict[tuple[str, str, str], list[float]] = {}
        self.busy: dict[str, int] = {}


class JobMetrics:
    """The metric objects of this process (one set, whatever the number of apps).

    Job events only bump the plain counters and :class:`~lexigram_compat.observability.Timings`
    every :class:`~lexigram_compat.observability.JobEvents` keeps anyway; what grew
    reaches the prometheus-client objects in :meth:`flush`, which runs before
    every scrape of a registry holding them and, in multiprocess mode, every
    :data:`FLUSH_SECONDS` from a thread. So metrics cost a job's path almost
    nothing, even on the in-memory engine.
    """

    def __init__(self) -> None:
        from prometheus_client import REGISTRY, Counter, Gauge, Histogram

        self._lock = threading.Lock()
        self._sources: weakref.WeakKeyDictionary[JobEvents, _Flushed] = weakref.WeakKeyDictionary()
        # Registered first, so a scrape of the default registry flushes before it reads.
        REGISTRY.register(_FlushFirst(self))
        self.counters = {event: Counter(name, text, LABELS) for event, (name, text) in COUNTERS.items()}
        self.histograms = {
            "duration": Histogram(
                "lexigram_task_attempt_duration_seconds",
                "How long job attempts ran.",
                LABELS,
                buckets=DURATION_BUCKETS,
            ),
            "wait": Histogram(
                "lexigram_task_queue_wait_seconds",
                "From when a job was due (enqueued, or its delay's end) to its attempt's start.",
                LABELS,
                buckets=DURATION_BUCKETS,
            ),
        }
        self.up = Gauge(
            "lexigram_worker_up", "Worker processes running.", ["engine"], multiprocess_mode="livesum"
        )
        self.busy = Gauge(
            "lexigram_worker_busy_slots", "Job slots running a job.", ["engine"], multiprocess_mode="livesum"
        )
        self.slots = Gauge("lexigram_worker_slots", "Job slots.", ["engine"], multiprocess_mode="livesum")

    def watch(self, events: JobEvents) -> None:
        """Count ``events``' jobs (and aggregate their timings) from now on."""
        with self._lock:
            if events not in self._sources:
                if events.timings is None:
                    events.timings = Timings(DURATION_BUCKETS)
                self._sources[events] = _Flushed()

    def flush(self) -> None:
        """Add what every watched app counted since the last flush to the metric objects."""
        with self._lock:  # one flusher at a time (a scrape and the multiprocess timer)
            for events, flushed in list(self._sources.items()):
                self._flush_counts(events, flushed)
                self._flush_timings(events, flushed)

    def _flush_counts(self, events: JobEvents, flushed: _Flushed) -> None:
        busy: dict[str, int] = {}
        # list(): one C-level copy under the GIL, while the event loop may be counting.
        for key, total in list(events.counts.items()):
            name, task, queue = key
            kind = _EVENT_OF.get(name)
            if kind is None:
                continue
            engine = events.engine_of(queue)
            if kind == "started":
                busy[engine] = busy.get(engine, 0) + total
            elif kind in OUTCOMES:
                busy[engine] = busy.get(engine, 0) - total
            delta = total - flushed.counts.get(key, 0)
            if delta:
                self.counters[kind].labels(task, queue, engine).inc(delta)
                flushed.counts[key] = total
        for engine, running in busy.items():
            delta = running - flushed.busy.get(engine, 0)
            if delta:
                self.busy.labels(engine).inc(delta)
                flushed.busy[engine] = running

    def _flush_timings(self, events: JobEvents, flushed: _Flushed) -> None:
        if events.timings is None:
            return
        for key, now in events.timings.series():
            before = flushed.timings.get(key) or [0.0] * len(now)
            if now == before:
                continue
            name, task, queue = key
            child = self.histograms[name].labels(task, queue, events.engine_of(queue))
            # prometheus-client has no bulk observe: add to the bucket values it
            # keeps (the same value objects its multiprocess mode writes to files).
            for index in range(len(now) - 1):
                if now[index] != before[index]:
                    child._buckets[index].inc(now[index] - before[index])
            child._sum.inc(now[-1] - before[-1])
            flushed.timings[key] = now


class _FlushFirst:
    """A collector yielding nothing: collecting it flushes :class:`JobMetrics`."""

    def __init__(self, metrics: JobMetrics) -> None:
        self.metrics = metrics

    def describe(self) -> list[Any]:
        return []

    def collect(self) -> Iterator[Any]:
        self.metrics.flush()
        return iter(())


_EVENT_OF = {name: event for event, name in METRIC_NAMES.items()}


def _flush_every(metrics: JobMetrics, seconds: float) -> None:
    """Multiprocess mode: the serving process reads files, so each process flushes itself."""
    while True:
        time.sleep(seconds)
        try:
            metrics.flush()
        except Exception:
            log.exception("flushing job metrics failed")


_made: list[JobMetrics] = []
_lock = threading.Lock()


def job_metrics() -> JobMetrics:
    """This process's metrics, created on first use (after any multiprocess setup)."""
    if not _made:
        with _lock:
            if not _made:
                made = JobMetrics()
                _made.append(made)
                if os.environ.get(MULTIPROC_ENV):
                    flusher = threading.Thread(
                        target=_flush_every, args=(made, FLUSH_SECONDS), name="lexigram-metrics", daemon=True
                    )
                    flusher.start()
                    atexit.register(made.flush)
    return _made[0]


def install(app: TasksApp) -> None:
    """Label events with their engine and, with the ``metrics`` extra and
    ``tasks.observability.metrics`` on, count them (called by ``TasksApp``)."""
    routes = {q: b.key for b in app.backend_set for q in b.queues()}
    primary = app.backend_set.primary.key

    def engine_of(queue: str) -> str:
        found = routes.get(queue)
        if found is None:
            backend, _ = app.backend_set.route(queue, app.backend_set.primary)
            found = routes[queue] = backend.key
        return found or primary

    app.events.engine_of = engine_of
    if app.config.observability.metrics and available():
        job_metrics().watch(app.events)


def metrics_port(app: TasksApp, given: int | None = None) -> int | None:
    """The port to serve: ``given`` (``--metrics-port``), else ``$LEXIGRAM_METRICS_PORT``,
    else ``tasks.observability.metrics_port``."""
    if given is not None:
        return given
    raw = os.environ.get(METRICS_PORT_ENV, "").strip()
    if raw:
        try:
            return int(raw)
        except ValueError:
            from lexigram_compat.errors import ConfigurationError

            raise ConfigurationError(
                f"${METRICS_PORT_ENV}={raw!r} is not a port number", hint="set it to e.g. 9191, or unset it"
            ) from None
    return app.config.observability.metrics_port


def worker_started(app: TasksApp, slots: int) -> None:
    """Mark this process as one up worker with ``slots`` job slots (per engine)."""
    if not (app.config.observability.metrics and available()):
        return
    metrics = job_metrics()
    for key in {b.key for b in app.backend_set}:
        metrics.up.labels(key).set(1)
        metrics.slots.labels(key).set(slots)
        metrics.busy.labels(key).set(0)


class QueueCollector:
    """Queue gauges from the engine's own counts, read at scrape time on the app's loop."""

    def __init__(self, app: TasksApp) -> None:
        self.app = app

    def describe(self) -> list[Any]:
        return []  # collected lazily: never at registration

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        from lexigram_compat.operations import queue_stats

        loop = self.app.loop
        if loop is None or not self.app.is_started or loop.is_closed():
            return
        try:
            stats = asyncio.run_coroutine_threadsafe(queue_stats(self.app), loop).result(SCRAPE_TIMEOUT)
        except Exception as exc:
            log.warning("queue gauges not collected: %s", type(exc).__name__)
            return
        families = {
            "waiting": GaugeMetricFamily(
                "lexigram_queue_depth",
                "Jobs waiting (pending, scheduled, retrying).",
                labels=["queue", "engine"],
            ),
            "running": GaugeMetricFamily(
                "lexigram_queue_in_flight", "Jobs running now.", labels=["queue", "engine"]
            ),
            "scheduled": GaugeMetricFamily(
                "lexigram_queue_scheduled", "Jobs waiting for their delay.", labels=["queue", "engine"]
            ),
            "retrying": GaugeMetricFamily(
                "lexigram_queue_retrying", "Jobs waiting for a retry.", labels=["queue", "engine"]
            ),
        }
        dead = GaugeMetricFamily("lexigram_dead_letters", "Dead letters kept.", labels=["backend", "engine"])
        for backend in stats:
            for row in backend["queues"]:
                for key, family in families.items():
                    family.add_metric([row["queue"], backend["engine"]], row[key])
            dead.add_metric([backend["backend"], backend["engine"]], backend["dead"])
        yield from families.values()
        yield dead


def serve_metrics(app: TasksApp, port: int, host: str | None = None) -> bool:
    """Serve ``/metrics`` on ``port`` from this process; False when another
    process of the same worker already serves it (the port is taken)."""
    from prometheus_client import REGISTRY, CollectorRegistry, start_http_server

    registry: Any = REGISTRY
    if os.environ.get(MULTIPROC_ENV):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    collector = QueueCollector(app)
    if registry is not REGISTRY:
        registry.register(_FlushFirst(job_metrics()))  # this process's own counts, before the files are read
    registry.register(collector)
    bind = host or app.config.observability.metrics_host
    try:
        start_http_server(port, addr=bind, registry=registry)
    except OSError as exc:
        registry.unregister(collector)
        log.debug("metrics port %s:%d not bound here (%s): another process serves it", bind, port, exc)
        return False
    log.info("metrics on http://%s:%d/metrics", bind, port)
    return True
