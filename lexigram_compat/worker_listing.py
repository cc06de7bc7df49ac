"""Which workers are live for an app, over every engine: the presence records
its workers write (:mod:`lexigram_compat.presence`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lexigram_compat.presence import WorkerPresence, presence_store

if TYPE_CHECKING:
    from lexigram_compat.app import TasksApp

__all__ = ["live_workers"]


async def live_workers(app: TasksApp) -> list[WorkerPresence]:
    """Every live worker of every backend of ``app``, each listed once.

    Raises:
        Exception: What the store's client raised when it is unreachable.
    """
    found: list[WorkerPresence] = []
    seen: set[str] = set()
    for backend in app.backend_set:
        store = presence_store(backend)
        if store is None:
            continue
        try:
            records = await store.live(backend)
        finally:
            await store.close()
        for record in records:
            # Backends sharing one store see the same records: list each once.
            if record.worker_id not in seen:
                seen.add(record.worker_id)
                found.append(record)
    return found
