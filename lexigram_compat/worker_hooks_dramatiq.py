"""What a ``dramatiq`` worker process adds for operators, as one middleware:
its presence record (``lexigram-compat workers``), ``/metrics`` (when a metrics
port is configured) and JSON log lines (``tasks.logging.format: json``).

Dramatiq runs several worker processes: each writes its metric values under
one multiprocess directory (named after their common parent, the ``dramatiq``
main process), and the first to bind the port serves them summed.
"""

from __future__ import annotations

import os
import tempfile
import threading
from typing import TYPE_CHECKING, Any

from dramatiq.middleware import Middleware

from lexigram_compat import metrics
from lexigram_compat.json_logs import json_wanted, use_json_logs
from lexigram_compat.presence import Heartbeat, ThreadedHeartbeat

if TYPE_CHECKING:
    from dramatiq import Broker, Worker
    from dramatiq.broker import MessageProxy

    from lexigram_compat.app import TasksApp
    from lexigram_compat.backends import Backend

__all__ = ["DramatiqHooks"]


class DramatiqHooks(Middleware):
    """Presence, metrics and JSON logs of the ``dramatiq`` worker process."""

    def __init__(self, app: TasksApp, backend: Backend) -> None:
        self.app = app
        self.backend = backend
        self._lock = threading.Lock()
        self._busy = 0
        self._processed = 0
        self._slots = 0
        self._beat: ThreadedHeartbeat | None = None

    def _load(self) -> tuple[int, int, int]:
        with self._lock:
            return self._busy, self._slots, self._processed

    def after_process_boot(self, broker: Broker) -> None:
        # Before any job event of this process, so its metrics are multiprocess ones.
        if metrics.metrics_port(self.app) is not None and metrics.available():
            shared = os.path.join(tempfile.gettempdir(), f"lexigram-metrics-dramatiq-{os.getppid()}")
            metrics.enable_multiprocess(os.environ.get(metrics.MULTIPROC_ENV) or shared)
        if json_wanted(self.app.config.logging.format):
            use_json_logs()

    def after_worker_boot(self, broker: Broker, worker: Worker) -> None:
        ours = self.backend.queues()
        wanted = getattr(worker, "queues", None)
        queues = [q for q in ours if wanted is None or q in wanted]
        self._slots = int(getattr(worker, "worker_threads", 0))
        self._beat = ThreadedHeartbeat(Heartbeat(self.backend, queues, self._load, self.app.events))
        self._beat.start()
        port = metrics.metrics_port(self.app)
        if port is not None and metrics.available():
            metrics.worker_started(self.app, self._slots)
            metrics.serve_metrics(self.app, port)

    def before_worker_shutdown(self, broker: Broker, worker: Worker) -> None:
        if self._beat is not None:
            self._beat.stop()
            self._beat = None

    def before_process_message(self, broker: Broker, message: MessageProxy) -> None:
        with self._lock:
            self._busy += 1

    def after_process_message(
        self, broker: Broker, message: MessageProxy, *, result: Any = None, exception: Any = None
    ) -> None:
        with self._lock:
            self._busy = max(0, self._busy - 1)
            self._processed += 1

    def after_skip_message(self, broker: Broker, message: MessageProxy) -> None:
        with self._lock:
            self._busy = max(0, self._busy - 1)
