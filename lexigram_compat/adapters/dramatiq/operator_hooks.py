"""The ``dramatiq`` worker process's operator side (presence, ``/metrics``, JSON logs)
as one middleware: it says when, :class:`~lexigram_compat.worker_operations.WorkerOperations`
does the rest. Dramatiq runs several worker processes: they share one metrics
directory, named after their common parent (the ``dramatiq`` main process)."""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any

from dramatiq.middleware import Middleware

if TYPE_CHECKING:
    from dramatiq import Broker, Worker
    from dramatiq.broker import MessageProxy

    from lexigram_compat.engine_contract import OperatorHooks

__all__ = ["OperatorMiddleware"]


class OperatorMiddleware(Middleware):
    """Counts busy threads and hands the worker's life events to the operator hooks."""

    def __init__(self, operations: OperatorHooks) -> None:
        self.operations = operations
        self._lock = threading.Lock()
        self._busy = 0
        self._processed = 0
        self._slots = 0

    def _load(self) -> tuple[int, int, int]:
        with self._lock:
            return self._busy, self._slots, self._processed

    def after_process_boot(self, broker: Broker) -> None:
        self.operations.process_booted(f"dramatiq-{os.getppid()}")

    def after_worker_boot(self, broker: Broker, worker: Worker) -> None:
        self._slots = int(getattr(worker, "worker_threads", 0))
        wanted = getattr(worker, "queues", None)
        self.operations.worker_ready(None if wanted is None else list(wanted), self._load)

    def before_worker_shutdown(self, broker: Broker, worker: Worker) -> None:
        self.operations.worker_stopping()

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
