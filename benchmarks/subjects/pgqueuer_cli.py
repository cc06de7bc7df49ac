"""pgqueuer 1.6 (asyncpg) run by its own CLI in a subprocess: the raw peer of
``postgres-cli`` in ``benchmarks.brokers``.

What ``pgq run benchmarks.subjects.pgqueuer_cli:create_pgqueuer --batch-size 10
--max-concurrent-tasks C`` runs: ``pgqueuer.run(factory, ...)``, the CLI's own
supervisor (signals, graceful stop) without the CLI, whose option parsing fails
in pgqueuer 1.6 with the typer the benchmark venv resolves (``--log-level``:
``'str' object has no attribute 'name'``, even at its default). A scratch
database of its own, pgqueuer's default batch size of 10 (4 at concurrency 8:
pgqueuer wants ``max_concurrent_tasks`` at least twice the batch). The factory
reads :data:`DSN_ENV` for the database and the probe list. pgqueuer prints
nothing when it starts consuming, so the factory prints :data:`READY` a moment
after it returns the manager (jobs run meanwhile are not counted: the drain is
timed from the jobs left at that mark). Like the other peers, pgqueuer and
asyncpg are imported only inside functions: they live in the benchmark venv
(``scripts/bench``), not the project's.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from benchmarks.harness import Subject
from benchmarks.subjects.postgres import ScratchDatabase
from benchmarks.worker_subject import ANCHOR, Shape, WorkerSubject

__all__ = ["SUBJECTS", "PgQueuerCli", "create_pgqueuer"]

DSN_ENV = "LEXIGRAM_BENCH_PGQ_WORKER"
REDIS_URL = os.environ.get("LEXIGRAM_BENCH_REDIS_URL", "redis://127.0.0.1:6379/4")
READY = "pgqueuer benchmark worker consuming"
READY_DELAY = 0.3
"""Seconds from the factory's return to the mark: the manager's LISTEN and first dequeue."""


@asynccontextmanager
async def create_pgqueuer() -> AsyncIterator[Any]:
    """The factory ``pgq run`` enters: a ``QueueManager`` with a no-op and a probe entrypoint."""
    import asyncpg
    import redis
    from pgqueuer.db import AsyncpgDriver
    from pgqueuer.qm import QueueManager
    from pgqueuer.queries import Queries

    dsn, probe_key = os.environ[DSN_ENV].split(" ")
    conn = await asyncpg.connect(dsn)
    manager = QueueManager(Queries(AsyncpgDriver(conn)))
    probes = redis.Redis.from_url(REDIS_URL)

    async def noop(job: Any) -> None:
        """Does nothing: what is measured is the queue's cost."""

    async def probe(job: Any) -> None:
        probes.rpush(probe_key, f"{int(job.payload)}:{time.time()!r}")

    manager.entrypoint("noop")(noop)
    manager.entrypoint("probe")(probe)
    asyncio.get_running_loop().call_later(READY_DELAY, lambda: print(READY, flush=True))
    try:
        yield manager
    finally:
        await conn.close()


class PgQueuerCli(WorkerSubject):
    """pgqueuer 1.6 on asyncpg; ``pgq run`` runs the jobs."""

    title = "pgqueuer 1.6 (asyncpg, pgq run)"
    ready_marker = READY.encode()

    def __init__(self, shape: Shape = ANCHOR) -> None:
        tag = f"lxbench-{uuid.uuid4().hex[:10]}"
        self.db = ScratchDatabase()
        super().__init__(tag, REDIS_URL, f"{tag}:bench-probe", shape)
        self.conn: Any = None
        self.queries: Any = None

    async def open(self) -> None:
        import asyncpg
        from pgqueuer.db import AsyncpgDriver
        from pgqueuer.queries import Queries

        await super().open()
        await self.db.create()
        self.conn = await asyncpg.connect(self.db.dsn)
        self.queries = Queries(AsyncpgDriver(self.conn))
        await self.queries.install()

    async def close(self) -> None:
        await self.stop_worker()
        if self.conn is not None:
            await self.conn.close()
        await self.db.drop()
        await super().close()

    def stop_after_drain(self) -> bool:
        return False  # left() counts picked jobs until their completion is written

    def worker_argv(self) -> list[str]:
        run = (
            "import asyncio, pgqueuer; asyncio.run(pgqueuer.run("
            f"{__name__ + ':create_pgqueuer'!r}, batch_size={self.batch}, "
            f"max_concurrent_tasks={self.shape.concurrency}))"
        )
        return [sys.executable, "-c", run]

    @property
    def batch(self) -> int:
        """pgqueuer's default batch of 10, at most half the concurrency (it refuses more)."""
        return max(1, min(10, self.shape.concurrency // 2))

    def worker_env(self) -> dict[str, str]:
        return {DSN_ENV: f"{self.db.dsn} {self.probe_key}"}

    async def left(self) -> int:
        return int(await self.conn.fetchval("SELECT count(*) FROM pgqueuer"))

    async def enqueue_one(self) -> None:
        await self.queries.enqueue("noop", None)

    async def enqueue_many(self, count: int) -> None:
        await self.queries.enqueue(["noop"] * count, [None] * count, [0] * count)

    async def send_probe(self, token: int) -> None:
        await self.queries.enqueue("probe", str(token).encode())


SUBJECTS: dict[str, type[Subject]] = {"pgqueuer-cli": PgQueuerCli}
"""Found by ``benchmarks.harness.all_subjects``."""
