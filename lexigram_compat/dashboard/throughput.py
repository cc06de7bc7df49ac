"""Throughput over the last minutes, per backend: the dashboard samples the
``processed`` counters of the workers' presence records and keeps the deltas."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

from lexigram_compat.presence import WorkerPresence

__all__ = ["WINDOW_SECONDS", "Throughput"]

WINDOW_SECONDS = 600.0
"""How far back the series goes (ten minutes)."""
BUCKET_SECONDS = 60.0


@dataclass
class Throughput:
    """Finished attempts per minute for each backend, from periodic samples."""

    _last: dict[str, int] = field(default_factory=dict)
    """worker id -> its last seen ``processed``."""
    _events: dict[str, deque[tuple[float, int]]] = field(default_factory=dict)
    """backend -> (time, attempts finished since the previous sample)."""

    def sample(self, workers: list[WorkerPresence], now: float | None = None) -> None:
        """Record how many attempts each worker finished since the last sample."""
        now = time.time() if now is None else now
        for worker in workers:
            before = self._last.get(worker.worker_id)
            self._last[worker.worker_id] = worker.processed
            if before is None or worker.processed < before:
                continue  # first sight of this worker: its count predates the window
            events = self._events.setdefault(worker.backend, deque())
            events.append((now, worker.processed - before))
        for events in self._events.values():
            while events and events[0][0] < now - WINDOW_SECONDS:
                events.popleft()

    def per_minute(self, backend: str, now: float | None = None) -> list[int]:
        """Attempts finished in each of the last ten minutes, oldest first."""
        now = time.time() if now is None else now
        buckets = [0] * int(WINDOW_SECONDS // BUCKET_SECONDS)
        for at, count in self._events.get(backend, ()):
            index = len(buckets) - 1 - int((now - at) // BUCKET_SECONDS)
            if 0 <= index < len(buckets):
                buckets[index] += count
        return buckets
