"""Live workers: each worker process writes a small presence record on a timer,
and ``lexigram-compat workers`` / the dashboard read them back.

The records live beside the jobs, so no new server is needed: a row of
``<schema>.lexigram_workers`` on PostgreSQL (an UNLOGGED table created on first
use: presence is worth nothing after a crash), a JSON value with a TTL under
``lexigram:workers:`` on Redis (the Redis URL, or the ``state_url`` of a
RabbitMQ backend), and a dict of this process for the memory engine (whose
workers only ever run in the app's own process). Native workers write them
from :func:`start_heartbeats`, ``dramatiq`` and ``celery worker`` processes
from :mod:`~lexigram_compat.worker_operations` (the Dramatiq and Celery workers' operator hooks).

A record is live while its ``last_heartbeat`` is younger than three beats;
older ones are dropped when read.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import json
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from lexigram_compat.observability import METRIC_NAMES, OUTCOMES

if TYPE_CHECKING:
    from lexigram_compat.backends import Backend
    from lexigram_compat.observability import JobEvents
    from lexigram_compat.worker.app_worker import AppWorker

__all__ = [
    "BEAT_SECONDS",
    "Heartbeat",
    "PresenceStore",
    "ThreadedHeartbeat",
    "WorkerPresence",
    "new_worker_id",
    "presence_store",
    "start_heartbeats",
]

log = logging.getLogger("lexigram_compat.presence")

BEAT_SECONDS = 2.0
"""Seconds between presence writes; a record three beats old is no longer live."""
LIVE_BEATS = 3
CALL_TIMEOUT = 2.0
"""Seconds a presence write, removal or close may take (the record is best effort)."""
REDIS_PREFIX = "lexigram:workers:"
_FINISHED = {METRIC_NAMES[event] for event in OUTCOMES}
POSTGRES_TABLE = "lexigram_workers"


@dataclass(frozen=True)
class WorkerPresence:
    """One live worker, as its last heartbeat described it."""

    worker_id: str
    host: str
    pid: int
    engine: str
    backend: str
    queues: list[str]
    busy: int
    slots: int
    started_at: datetime
    last_heartbeat: datetime
    processed: int = 0
    """Attempts this worker finished since it started."""
    finished: dict[str, int] = field(default_factory=dict)
    """Attempts finished per queue, since this worker's process started (from its job events)."""

    def to_json(self) -> str:
        data = asdict(self)
        data["started_at"] = self.started_at.isoformat()
        data["last_heartbeat"] = self.last_heartbeat.isoformat()
        return json.dumps(data)

    @classmethod
    def from_json(cls, raw: str | bytes) -> WorkerPresence:
        data = json.loads(raw)
        data["started_at"] = datetime.fromisoformat(data["started_at"])
        data["last_heartbeat"] = datetime.fromisoformat(data["last_heartbeat"])
        return cls(**data)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict (for ``--json`` and the dashboard)."""
        return json.loads(self.to_json())  # type: ignore[no-any-return]


def new_worker_id() -> str:
    """``host:pid:random``: unique even when a pid is reused."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def _now() -> datetime:
    return datetime.now(UTC)


def _live_after() -> datetime:
    return _now() - timedelta(seconds=BEAT_SECONDS * LIVE_BEATS)


def _matches(record: WorkerPresence, backend: Backend) -> bool:
    # One Redis or database may serve several apps: a record belongs to this
    # backend when it is the same engine and serves one of its queues.
    return record.engine == backend.key and bool(set(record.queues) & set(backend.queues()))


class PresenceStore(abc.ABC):
    """Where one backend's workers write their presence records."""

    @abc.abstractmethod
    async def beat(self, record: WorkerPresence) -> None:
        """Write (or refresh) ``record``."""

    @abc.abstractmethod
    async def remove(self, worker_id: str) -> None:
        """Forget a worker that stopped."""

    @abc.abstractmethod
    async def records(self) -> list[WorkerPresence]:
        """Every live record in the store (of any app sharing it)."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""

    async def live(self, backend: Backend) -> list[WorkerPresence]:
        """The live workers of ``backend``, oldest first."""
        after = _live_after()
        found = [r for r in await self.records() if r.last_heartbeat >= after and _matches(r, backend)]
        return sorted(found, key=lambda r: (r.started_at, r.worker_id))


_LOCAL: dict[str, WorkerPresence] = {}
"""The memory engine's workers: this process only."""


class LocalPresence(PresenceStore):
    """This process's workers (the memory engine)."""

    async def beat(self, record: WorkerPresence) -> None:
        _LOCAL[record.worker_id] = record

    async def remove(self, worker_id: str) -> None:
        _LOCAL.pop(worker_id, None)

    async def records(self) -> list[WorkerPresence]:
        return list(_LOCAL.values())


class RedisPresence(PresenceStore):
    """``lexigram:workers:<id>`` keys expiring after three beats."""

    def __init__(self, url: str) -> None:
        import redis.asyncio

        self.client = redis.asyncio.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)

    async def beat(self, record: WorkerPresence) -> None:
        ttl_ms = int(BEAT_SECONDS * LIVE_BEATS * 1000)
        await self.client.set(f"{REDIS_PREFIX}{record.worker_id}", record.to_json(), px=ttl_ms)

    async def remove(self, worker_id: str) -> None:
        await self.client.delete(f"{REDIS_PREFIX}{worker_id}")

    async def records(self) -> list[WorkerPresence]:
        keys = [key async for key in self.client.scan_iter(match=f"{REDIS_PREFIX}*", count=500)]
        values = await self.client.mget(keys) if keys else []
        return [WorkerPresence.from_json(v) for v in values if v is not None]

    async def close(self) -> None:
        await self.client.aclose()


class PostgresPresence(PresenceStore):
    """Rows of ``<schema>.lexigram_workers`` (UNLOGGED, created on first use)."""

    def __init__(self, dsn: str, schema: str) -> None:
        self.dsn = dsn
        self.schema = schema
        self._ready = False

    async def _run(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        import psycopg
        from psycopg import sql

        connecting = psycopg.AsyncConnection.connect(self.dsn, autocommit=True, connect_timeout=2)
        async with await connecting as conn:
            table = sql.Identifier(self.schema, POSTGRES_TABLE)
            if not self._ready:
                # IF NOT EXISTS is not atomic: a worker and the CLI creating the table
                # at the same moment collide on its row type; it exists either way.
                with contextlib.suppress(psycopg.errors.UniqueViolation, psycopg.errors.DuplicateTable):
                    await conn.execute(
                        sql.SQL(
                            "CREATE UNLOGGED TABLE IF NOT EXISTS {} "
                            "(worker_id text PRIMARY KEY, seen timestamptz NOT NULL, record jsonb NOT NULL)"
                        ).format(table)
                    )
                self._ready = True
            cursor = await conn.execute(sql.SQL(statement).format(table=table), params)
            return await cursor.fetchall() if cursor.description else []

    async def beat(self, record: WorkerPresence) -> None:
        await self._run(
            "INSERT INTO {table} VALUES (%s, now(), %s::jsonb) "
            "ON CONFLICT (worker_id) DO UPDATE SET seen = now(), record = excluded.record",
            (record.worker_id, record.to_json()),
        )

    async def remove(self, worker_id: str) -> None:
        await self._run("DELETE FROM {table} WHERE worker_id = %s", (worker_id,))

    async def records(self) -> list[WorkerPresence]:
        # Rows of workers that died without removing theirs are swept here.
        stale = BEAT_SECONDS * LIVE_BEATS * 10
        await self._run("DELETE FROM {table} WHERE seen < now() - make_interval(secs => %s)", (stale,))
        rows = await self._run("SELECT record::text FROM {table}")
        return [WorkerPresence.from_json(row[0]) for row in rows]


def presence_store(backend: Backend) -> PresenceStore | None:
    """The presence store of ``backend``, or None when it has nowhere to keep
    them (Dramatiq on RabbitMQ without a ``state_url``)."""
    config = backend.config
    if backend.engine_name == "celery":
        # The Celery engine keeps job state in Redis on both brokers.
        return RedisPresence(config.redis_url.get_secret_value())
    if config.type == "memory":
        return LocalPresence()
    if config.type == "redis":
        return RedisPresence(config.redis_url.get_secret_value())
    if config.type == "postgres" and config.postgres_dsn is not None:
        schema = str(backend.engine.config.extra.get("postgres_schema", "lexigram"))
        return PostgresPresence(config.postgres_dsn.get_secret_value(), schema)
    if config.state_url is not None:
        return RedisPresence(config.state_url.get_secret_value())
    return None


@dataclass
class Heartbeat:
    """Writes one worker's presence every :data:`BEAT_SECONDS` while it runs.

    ``load`` returns ``(busy, slots, processed)`` at each beat; ``events``, the
    job events of the process, give the attempts finished per queue. A failed
    write is logged and retried at the next beat: presence never stops a worker.
    """

    backend: Backend
    queues: list[str]
    load: Callable[[], tuple[int, int, int]]
    events: JobEvents | None = None
    worker_id: str = field(default_factory=new_worker_id)
    started_at: datetime = field(default_factory=_now)

    def finished(self) -> dict[str, int]:
        if self.events is None:
            return {}
        ours = set(self.queues)
        done: dict[str, int] = {}
        for (metric, _, queue), count in list(self.events.counts.items()):
            if queue in ours and metric in _FINISHED:
                done[queue] = done.get(queue, 0) + count
        return done

    def record(self) -> WorkerPresence:
        busy, slots, processed = self.load()
        host, pid, _ = self.worker_id.rsplit(":", 2)
        return WorkerPresence(
            worker_id=self.worker_id,
            host=host,
            pid=int(pid),
            engine=self.backend.key,
            backend=self.backend.name,
            queues=list(self.queues),
            busy=busy,
            slots=slots,
            started_at=self.started_at,
            last_heartbeat=_now(),
            processed=processed,
            finished=self.finished(),
        )

    async def run(self, stopping: asyncio.Event) -> None:
        """Beat until ``stopping`` is set, then remove the record."""
        store = presence_store(self.backend)
        if store is None:
            return
        # Every call is bounded: a server that is down (or hangs) must never hold
        # up the worker, least of all its shutdown.
        failing = False
        try:
            while not stopping.is_set():
                try:
                    await asyncio.wait_for(store.beat(self.record()), CALL_TIMEOUT)
                    failing = False
                except Exception as exc:
                    if not failing:  # once per outage, not every beat
                        log.warning("worker presence write failed: %s", type(exc).__name__)
                    failing = True
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), BEAT_SECONDS)
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(store.remove(self.worker_id), CALL_TIMEOUT)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(store.close(), CALL_TIMEOUT)


def start_heartbeats(app_worker: AppWorker) -> list[asyncio.Task[None]]:
    """One presence heartbeat task per backend a native worker consumes (they
    stop, and remove their records, when the worker's ``stopping`` is set)."""
    tasks = []
    for (backend, queues), worker in zip(app_worker.selected.items(), app_worker.workers, strict=True):
        beat = Heartbeat(
            backend,
            list(queues),
            lambda w=worker: (len(w.running), w.options.concurrency, w.processed),  # type: ignore[misc]
            app_worker.app.events,
        )
        tasks.append(asyncio.create_task(beat.run(app_worker.stopping)))
    return tasks


class ThreadedHeartbeat:
    """A :class:`Heartbeat` on a thread of its own, for workers that are not
    asyncio programs (``celery worker``, ``dramatiq``)."""

    def __init__(self, heartbeat: Heartbeat) -> None:
        self.heartbeat = heartbeat
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._main, name="lexigram-presence", daemon=True)

    def _main(self) -> None:
        async def run() -> None:
            self._loop = asyncio.get_running_loop()
            self._stopping = asyncio.Event()
            self._ready.set()
            await self.heartbeat.run(self._stopping)

        try:
            asyncio.run(run())
        finally:
            self._ready.set()

    def start(self) -> None:
        self._thread.start()
        self._ready.wait(5.0)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop beating and remove the record (waits up to ``timeout`` seconds)."""
        if self._loop is not None and self._stopping is not None and self._thread.is_alive():
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(timeout)
