"""Throughput over the last minutes, per backend and queue: the dashboard samples
the counters of the workers' presence records and keeps what grew between samples."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

from lexigram_compat.presence import WorkerPresence

__all__ = ["WINDOW_SECONDS", "Throughput"]

WINDOW_SECONDS = 600.0
"""How far back the series goes (ten minutes)."""
BUCKET_SECONDS = 60.0
ALL = ""
"""The queue key of a backend's total (every queue)."""


@dataclass
class Throughput:
    """Finished attempts per minute for each backend and queue, from periodic samples."""

    _last: dict[tuple[str, str], int] = field(default_factory=dict)
    """(worker id, queue or ALL) -> its count at the last sample."""
    _events: dict[tuple[str, str], deque[tuple[float, int]]] = field(default_factory=dict)
    """(backend, queue or ALL) -> (time, attempts finished since the previous sample)."""

    def sample(self, workers: list[WorkerPresence], now: float | None = None) -> None:
        """Record how many attempts each worker finished since the last sample."""
        now = time.time() if now is None else now
        for worker in workers:
            # A queue that first shows up in a worker already seen had nothing
            # finished before: its whole count is new. A worker seen for the first
            # time has counts from before the window: they are its baseline.
            known = 0 if (worker.worker_id, ALL) in self._last else None
            counts = {ALL: worker.processed, **worker.finished}
            for queue, count in counts.items():
                before = self._last.get((worker.worker_id, queue), known)
                self._last[(worker.worker_id, queue)] = count
                if before is None or count <= before:
                    continue  # first sight of this worker: its count predates the window
                events = self._events.setdefault((worker.backend, queue), deque())
                events.append((now, count - before))
        for events in self._events.values():
            while events and events[0][0] < now - WINDOW_SECONDS:
                events.popleft()

    def per_minute(self, backend: str, queue: str = ALL, now: float | None = None) -> list[int]:
        """Attempts finished in each of the last ten minutes, oldest first."""
        now = time.time() if now is None else now
        buckets = [0] * int(WINDOW_SECONDS // BUCKET_SECONDS)
        for at, count in self._events.get((backend, queue), ()):
            index = len(buckets) - 1 - int((now - at) // BUCKET_SECONDS)
            if 0 <= index < len(buckets):
                buckets[index] += count
        return buckets
