"""The PostgreSQL engine through the facade, and psycopg's raw INSERT floors.

Every subject gets a database of its own (created in ``open``, dropped in
``close``), on the server named by ``LEXIGRAM_BENCH_POSTGRES_DSN`` (default
``postgresql://postgres@127.0.0.1:5432/test``). The worker runs in the
benchmark process: "one worker process" is this one, as for the peers.
"""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from benchmarks.harness import Subject, Unsupported
from benchmarks.probes import await_probe
from benchmarks.subjects.memory import noop, probe, registry
from lexigram_compat import TaskConfig, TasksApp, testing
from lexigram_compat.envelope import JobEnvelope

__all__ = [
    "SUBJECTS",
    "PostgresFacade",
    "PostgresFacadeC8",
    "PostgresFacadeNoMetrics",
    "PsycopgInsertFloor",
    "PsycopgInsertFloorEnvelope",
    "ScratchDatabase",
    "server_dsn",
]

DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/test"
DRAIN_CONCURRENCY = 100
"""``worker.max_concurrent_tasks`` of the facade's worker: jobs claimed per round trip, at most."""


def server_dsn() -> str:
    return os.environ.get("LEXIGRAM_BENCH_POSTGRES_DSN", DEFAULT_DSN)


class ScratchDatabase:
    """A database made for one subject phase and dropped after it."""

    def __init__(self) -> None:
        from urllib.parse import urlsplit, urlunsplit

        self.name = f"lexigram_bench_{uuid.uuid4().hex[:12]}"
        parts = urlsplit(server_dsn())
        self.dsn = urlunsplit(parts._replace(path=f"/{self.name}"))

    def _admin(self, statement: str) -> None:
        import psycopg
        from psycopg import sql

        with psycopg.connect(server_dsn(), autocommit=True) as conn:
            conn.execute(sql.SQL(statement).format(sql.Identifier(self.name)))

    async def create(self) -> None:
        await asyncio.to_thread(self._admin, "CREATE DATABASE {}")

    async def drop(self) -> None:
        await asyncio.to_thread(self._admin, "DROP DATABASE IF EXISTS {} WITH (FORCE)")


class PostgresFacade(Subject):
    """``TasksApp`` on the PostgreSQL engine (worker concurrency 100)."""

    title = "postgres (facade)"
    metrics = True
    concurrency = DRAIN_CONCURRENCY

    def __init__(self) -> None:
        self.db = ScratchDatabase()
        self.app: TasksApp | None = None
        self._logger = logging.getLogger("lexigram_compat")
        self._saved_level = self._logger.level

    async def open(self) -> None:
        from lexigram_compat.adapters.postgres import apply_migrations

        self._logger.setLevel(logging.WARNING)
        await self.db.create()
        await apply_migrations(self.db.dsn, "lexigram")
        section = {
            "backend": {"type": "postgres", "postgres_dsn": self.db.dsn},
            "scheduler": {"enabled": False},
            "worker": {"max_concurrent_tasks": self.concurrency},
            "observability": {"metrics": self.metrics},
        }
        self.app = TasksApp(TaskConfig.from_dict({"tasks": section}), registry=registry)
        await self.app.start()

    async def close(self) -> None:
        if self.app is not None:
            await self.app.close()
        await self.db.drop()
        self._logger.setLevel(self._saved_level)

    @property
    def _app(self) -> TasksApp:
        assert self.app is not None
        return self.app

    async def enqueue_one(self) -> None:
        (await self._app.queue.enqueue(noop())).unwrap()

    async def enqueue_many(self, count: int) -> None:
        (await self._app.queue.enqueue_many([noop() for _ in range(count)])).unwrap()

    async def drain(self, count: int) -> None:
        before = self._app.events.total("succeeded")
        processed = await testing.drain(self._app)
        succeeded = self._app.events.total("succeeded") - before
        if processed != count or succeeded != count:
            raise RuntimeError(f"drain ran {processed} attempts, {succeeded} succeeded; expected {count}")

    @asynccontextmanager
    async def worker(self) -> AsyncIterator[None]:
        running = asyncio.create_task(self._app.run_worker(scheduler=False))
        await asyncio.sleep(0)
        try:
            yield
        finally:
            self._app.stop_worker()
            await running

    async def probe(self) -> float:
        async def enqueue(token: int) -> None:
            (await self._app.queue.enqueue(probe(token))).unwrap()

        return await await_probe(enqueue)


FLOOR_TABLE = "CREATE TABLE jobs (id bigserial PRIMARY KEY, payload bytea NOT NULL)"
PAYLOAD = b'{"task": "benchmarks.noop", "args": [], "kwargs": {}}'


class PostgresFacadeNoMetrics(PostgresFacade):
    """The same with ``tasks.observability.metrics: false``: the baseline of the metrics' cost."""

    title = "postgres (facade, metrics off)"
    metrics = False


class PostgresFacadeC8(PostgresFacade):
    """The same worker at concurrency 8: the shape of the raw engines' anchors (1 process x 8)."""

    title = "postgres (facade, concurrency 8)"
    concurrency = 8


class PsycopgInsertFloor(Subject):
    """Raw psycopg: single-row INSERT + COMMIT (enqueue) and one multi-row INSERT
    per batch (enqueue_many). No queue, so no drain or latency."""

    title = "psycopg INSERT floor"

    def __init__(self) -> None:
        self.db = ScratchDatabase()
        self.conn: Any = None

    async def open(self) -> None:
        import psycopg

        await self.db.create()
        self.conn = await psycopg.AsyncConnection.connect(self.db.dsn, autocommit=True)
        await self.conn.execute(FLOOR_TABLE)

    async def close(self) -> None:
        if self.conn is not None:
            await self.conn.close()
        await self.db.drop()

    payload: bytes = PAYLOAD

    async def enqueue_one(self) -> None:
        await self.conn.execute("INSERT INTO jobs (payload) VALUES (%s)", [self.payload], prepare=True)

    async def enqueue_many(self, count: int) -> None:
        await self.conn.execute(
            "INSERT INTO jobs (payload) SELECT unnest(%s::bytea[])", [[self.payload] * count], prepare=True
        )

    async def drain(self, count: int) -> None:
        raise Unsupported("a floor for writes only")

    @asynccontextmanager
    async def worker(self) -> AsyncIterator[None]:
        raise Unsupported("a floor for writes only")
        yield  # pragma: no cover

    async def probe(self) -> float:
        raise Unsupported("a floor for writes only")


class PsycopgInsertFloorEnvelope(PsycopgInsertFloor):
    """The same floor writing, per job, the bytes the facade stores for a no-op job
    (its envelope: 250-odd bytes against the plain floor's 52), so the bytes each
    row carries are told apart from what the engine's table and statement cost."""

    title = "psycopg INSERT floor (envelope-sized payload)"

    def __init__(self) -> None:
        super().__init__()
        job_id = str(uuid.uuid4())
        job = JobEnvelope(job_id=job_id, task_name="benchmarks.noop", queue="tasks", max_attempts=3)
        self.payload = job.to_bytes()


SUBJECTS: dict[str, type[Subject]] = {
    "postgres": PostgresFacade,
    "postgres-metrics-off": PostgresFacadeNoMetrics,
    "postgres-c8": PostgresFacadeC8,
    "psycopg-floor": PsycopgInsertFloor,
    "psycopg-floor-envelope": PsycopgInsertFloorEnvelope,
}
