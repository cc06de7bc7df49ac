"""Which workers are live for an app, over every engine.

Native workers (memory, PostgreSQL) and Dramatiq workers write presence
records (:mod:`lexigram_compat.presence`). Celery workers are asked through
Celery's remote control (``inspect stats / active / active_queues``), the
source Flower and ``celery inspect`` use; a reply is the heartbeat.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from lexigram_compat.presence import WorkerPresence, presence_store

if TYPE_CHECKING:
    from lexigram_compat.app import TasksApp
    from lexigram_compat.backends import Backend

__all__ = ["INSPECT_TIMEOUT", "live_workers"]

INSPECT_TIMEOUT = 1.0
"""Seconds Celery's remote control waits for worker replies."""


def _celery_workers(backend: Backend, native: Any) -> list[WorkerPresence]:
    inspect = native.control.inspect(timeout=INSPECT_TIMEOUT)
    stats: dict[str, Any] = inspect.stats() or {}
    if not stats:
        return []
    active: dict[str, list[Any]] = inspect.active() or {}
    queues: dict[str, list[dict[str, Any]]] = inspect.active_queues() or {}
    now = datetime.now(UTC)
    ours = set(backend.queues())
    found = []
    for hostname, info in sorted(stats.items()):
        served = [q["name"] for q in queues.get(hostname, []) if "name" in q]
        if served and not set(served) & ours:
            continue  # a worker of another app on the same broker
        pool = info.get("pool") or {}
        uptime = float(info.get("uptime") or 0)
        found.append(
            WorkerPresence(
                worker_id=hostname,
                host=hostname.partition("@")[2] or hostname,
                pid=int(info.get("pid") or 0),
                engine=backend.key,
                backend=backend.name,
                queues=served,
                busy=len(active.get(hostname, [])),
                slots=int(pool.get("max-concurrency") or 0),
                started_at=now - timedelta(seconds=uptime),
                last_heartbeat=now,
                processed=sum(int(n) for n in (info.get("total") or {}).values()),
                source="remote-control",
            )
        )
    return found


async def _backend_workers(backend: Backend) -> list[WorkerPresence]:
    if backend.engine_name == "celery":
        native = getattr(backend.engine, "native", None)
        if native is None:
            return []
        return await asyncio.to_thread(_celery_workers, backend, native)
    store = presence_store(backend)
    if store is None:
        return []
    try:
        return await store.live(backend)
    finally:
        await store.close()


async def live_workers(app: TasksApp) -> list[WorkerPresence]:
    """Every live worker of every backend of ``app``.

    Raises:
        Exception: What the store's client raised when it is unreachable
            (the CLI maps a connection error to ``BrokerUnavailableError``).
    """
    found: list[WorkerPresence] = []
    seen: set[str] = set()
    for backend in app.backend_set:
        for record in await _backend_workers(backend):
            # Backends sharing one store see the same records: list each once.
            if record.worker_id not in seen:
                seen.add(record.worker_id)
                found.append(record)
    return found
