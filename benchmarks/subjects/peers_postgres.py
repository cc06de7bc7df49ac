"""Peer PostgreSQL job queues on the same no-op workload: procrastinate 3.10
(psycopg 3) and pgqueuer 1.6 (asyncpg driver), each with its library defaults
for the worker (procrastinate: concurrency 1; pgqueuer: batch size 10).

They are installed only in the benchmark venv (``scripts/bench``), never as
project dependencies: every import of them happens inside a method, so
listing subjects, ruff and mypy on the project venv need neither.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from benchmarks.harness import Subject
from benchmarks.probes import await_probe, mark_started
from benchmarks.subjects.postgres import ScratchDatabase

__all__ = ["SUBJECTS", "PgQueuerSubject", "ProcrastinateSubject"]


class ProcrastinateSubject(Subject):
    """procrastinate 3.10.0, ``PsycopgConnector``, in-process ``run_worker_async``."""

    title = "procrastinate 3.10 (psycopg)"

    def __init__(self) -> None:
        self.db = ScratchDatabase()
        self.app: Any = None
        self.ran = 0

    async def open(self) -> None:
        import procrastinate

        await self.db.create()
        self.app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=self.db.dsn))

        async def noop() -> None:
            self.ran += 1

        async def probe(token: int) -> None:
            mark_started(token)

        self.noop = self.app.task(name="noop", queue="bench")(noop)
        self.probe_task = self.app.task(name="probe", queue="bench")(probe)
        await self.app.open_async()
        await self.app.schema_manager.apply_schema_async()

    async def close(self) -> None:
        if self.app is not None:
            await self.app.close_async()
        await self.db.drop()

    async def enqueue_one(self) -> None:
        await self.noop.defer_async()

    async def enqueue_many(self, count: int) -> None:
        await self.noop.batch_defer_async(*({} for _ in range(count)))

    async def drain(self, count: int) -> None:
        await self.app.run_worker_async(queues=["bench"], wait=False, install_signal_handlers=False)
        if self.ran != count:
            raise RuntimeError(f"drain ran {self.ran} jobs; expected {count}")

    @asynccontextmanager
    async def worker(self) -> AsyncIterator[None]:
        running = asyncio.create_task(
            self.app.run_worker_async(queues=["bench"], install_signal_handlers=False)
        )
        await asyncio.sleep(0.5)  # its LISTEN is set up before the first probe
        try:
            yield
        finally:
            running.cancel()
            await asyncio.gather(running, return_exceptions=True)

    async def probe(self) -> float:
        async def enqueue(token: int) -> None:
            await self.probe_task.defer_async(token=token)

        return await await_probe(enqueue)


class PgQueuerSubject(Subject):
    """pgqueuer 1.6.0 on asyncpg 0.32, in-process ``QueueManager``."""

    title = "pgqueuer 1.6 (asyncpg)"

    def __init__(self) -> None:
        self.db = ScratchDatabase()
        self.conn: Any = None
        self.queries: Any = None
        self.ran = 0

    async def open(self) -> None:
        import asyncpg
        from pgqueuer.db import AsyncpgDriver
        from pgqueuer.queries import Queries

        await self.db.create()
        self.conn = await asyncpg.connect(self.db.dsn)
        self.queries = Queries(AsyncpgDriver(self.conn))
        await self.queries.install()

    async def close(self) -> None:
        if self.conn is not None:
            await self.conn.close()
        await self.db.drop()

    async def _manager(self) -> Any:
        import asyncpg
        from pgqueuer.db import AsyncpgDriver
        from pgqueuer.qm import QueueManager
        from pgqueuer.queries import Queries

        manager = QueueManager(Queries(AsyncpgDriver(await asyncpg.connect(self.db.dsn))))

        async def noop(job: Any) -> None:
            self.ran += 1

        async def probe(job: Any) -> None:
            mark_started(int(job.payload))

        manager.entrypoint("noop")(noop)
        manager.entrypoint("probe")(probe)
        return manager

    async def enqueue_one(self) -> None:
        await self.queries.enqueue("noop", None)

    async def enqueue_many(self, count: int) -> None:
        await self.queries.enqueue(["noop"] * count, [None] * count, [0] * count)

    async def drain(self, count: int) -> None:
        from pgqueuer.types import QueueExecutionMode

        manager = await self._manager()
        await manager.run(mode=QueueExecutionMode.drain)
        if self.ran != count:
            raise RuntimeError(f"drain ran {self.ran} jobs; expected {count}")

    @asynccontextmanager
    async def worker(self) -> AsyncIterator[None]:
        manager = await self._manager()
        running = asyncio.create_task(manager.run())
        await asyncio.sleep(0.5)  # its LISTEN is set up before the first probe
        try:
            yield
        finally:
            manager.shutdown.set()
            await asyncio.gather(running, return_exceptions=True)

    async def probe(self) -> float:
        async def enqueue(token: int) -> None:
            await self.queries.enqueue("probe", str(token).encode())

        return await await_probe(enqueue)


SUBJECTS: dict[str, type[Subject]] = {"procrastinate": ProcrastinateSubject, "pgqueuer": PgQueuerSubject}
