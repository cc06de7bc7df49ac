"""What an engine's own worker process does for operators, whatever the engine:
its presence record (``lexigram-compat workers``), ``/metrics`` (when a metrics
port is configured) and JSON log lines (``tasks.logging.format: json``).

The app gives each engine one :class:`WorkerOperations` (``EngineContext.operations``);
the Dramatiq middleware and the Celery signal handlers only say *when* (process boot,
worker ready, a prefork child, shutdown) and how busy the worker is.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from lexigram_compat import metrics
from lexigram_compat.json_logs import json_wanted, use_json_logs
from lexigram_compat.presence import Heartbeat, ThreadedHeartbeat

if TYPE_CHECKING:
    from lexigram_compat.app import TasksApp
    from lexigram_compat.backends import Backend

__all__ = ["WorkerOperations"]

Load = Callable[[], tuple[int, int, int]]
"""``(busy slots, total slots, jobs processed)`` of the worker, read at each heartbeat."""


class WorkerOperations:
    """Presence, metrics and JSON logs of one engine's worker processes."""

    def __init__(self, app: TasksApp, backend: Backend) -> None:
        self._app = app
        self._backend = backend
        self._beats: list[ThreadedHeartbeat] = []

    def metrics_port(self) -> int | None:
        """The port ``/metrics`` is served on, or None (not configured, or no prometheus-client)."""
        port = metrics.metrics_port(self._app)
        return port if port is not None and metrics.available() else None

    def use_json_logs_if_wanted(self) -> None:
        """Switch this process's log lines to JSON when ``tasks.logging.format`` says so."""
        if json_wanted(self._app.config.logging.format):
            use_json_logs()

    def process_booted(self, family: str) -> None:
        """A worker process started, before any job event: JSON logs, and metrics in
        multiprocess mode under one directory per ``family`` (e.g. the main process's
        pid), so the first process to bind the port serves every process's values."""
        self.use_json_logs_if_wanted()
        if self.metrics_port() is not None:
            shared = os.path.join(tempfile.gettempdir(), f"lexigram-metrics-{family}")
            metrics.enable_multiprocess(os.environ.get(metrics.MULTIPROC_ENV) or shared)

    def worker_ready(self, queues: Sequence[str] | None, load: Load, *, serve_metrics: bool = True) -> None:
        """The worker consumes ``queues`` (None: all of this engine's): start its presence
        heartbeat and, unless its jobs run in other processes, serve ``/metrics``."""
        ours = self._backend.queues()
        consumed = [q for q in ours if queues is None or q in queues]
        beat = ThreadedHeartbeat(Heartbeat(self._backend, consumed, load, self._app.events))
        beat.start()
        self._beats.append(beat)
        if serve_metrics:
            self.serve_metrics(max(1, load()[1]))

    def serve_metrics(self, slots: int) -> None:
        """Serve ``/metrics`` from this process (the first one to bind the port wins)."""
        port = self.metrics_port()
        if port is not None:
            metrics.worker_started(self._app, slots)
            metrics.serve_metrics(self._app, port)

    def worker_stopping(self) -> None:
        """Stop the presence heartbeats of this process."""
        while self._beats:
            self._beats.pop().stop()
