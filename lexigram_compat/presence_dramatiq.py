"""The ``dramatiq`` worker's presence record: a middleware running a
:class:`~lexigram_compat.presence.ThreadedHeartbeat` in the worker process,
counting the messages its threads are processing."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from dramatiq.middleware import Middleware

from lexigram_compat.presence import Heartbeat, ThreadedHeartbeat

if TYPE_CHECKING:
    from dramatiq import Broker, Worker
    from dramatiq.broker import MessageProxy

    from lexigram_compat.backends import Backend

__all__ = ["DramatiqPresence"]


class DramatiqPresence(Middleware):
    """Writes the ``dramatiq`` worker process's presence record while it runs."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self._lock = threading.Lock()
        self._busy = 0
        self._processed = 0
        self._slots = 0
        self._beat: ThreadedHeartbeat | None = None

    def _load(self) -> tuple[int, int, int]:
        with self._lock:
            return self._busy, self._slots, self._processed

    def after_worker_boot(self, broker: Broker, worker: Worker) -> None:
        ours = self.backend.queues()
        wanted = getattr(worker, "queues", None)
        queues = [q for q in ours if wanted is None or q in wanted]
        self._slots = int(getattr(worker, "worker_threads", 0))
        self._beat = ThreadedHeartbeat(Heartbeat(self.backend, queues, self._load))
        self._beat.start()

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
