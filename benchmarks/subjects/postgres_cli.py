"""The PostgreSQL engine's jobs run by ``lexigram-compat worker`` in a subprocess.

The same facade as :mod:`benchmarks.subjects.postgres`, but drained and probed by
the project's own worker command (``--processes P --concurrency C``), the way a
deployment runs it, so that its rows sit beside the Dramatiq and Celery rows of
``benchmarks.brokers``. :data:`DSN_ENV` tells the module, imported by the worker
subprocess, which scratch database to build its app on.
"""

from __future__ import annotations

import logging
import os
import sys
import time
import uuid
from typing import Any

from benchmarks.harness import Subject
from benchmarks.subjects.postgres import ScratchDatabase
from benchmarks.worker_subject import ANCHOR, Shape, WorkerSubject

__all__ = ["SUBJECTS"]

DSN_ENV = "LEXIGRAM_BENCH_PG_WORKER_DSN"
REDIS_URL = os.environ.get("LEXIGRAM_BENCH_REDIS_URL", "redis://127.0.0.1:6379/4")


def build(dsn: str, probe_key: str, concurrency: int) -> tuple[Any, Any, Any]:
    """``(app, noop, probe)`` on the scratch database ``dsn``."""
    import redis

    from lexigram_compat import TaskConfig, TaskRegistry, TasksApp, task

    probes = redis.Redis.from_url(REDIS_URL)
    registry = TaskRegistry()

    @task(registry=registry, name="bench.noop")
    async def noop() -> None:
        """Does nothing: what is measured is the queue's cost."""

    @task(registry=registry, name="bench.probe")
    async def probe(token: int) -> None:
        probes.rpush(probe_key, f"{token}:{time.time()!r}")

    section = {
        "backend": {"type": "postgres", "postgres_dsn": dsn},
        "scheduler": {"enabled": False},
        "worker": {"max_concurrent_tasks": concurrency},
    }
    app = TasksApp(TaskConfig.from_dict({"tasks": section}, environ={}), registry=registry)
    return app, noop, probe


if DSN_ENV in os.environ:  # imported by `lexigram-compat worker` in the subprocess
    logging.getLogger("lexigram_compat").setLevel(logging.WARNING)
    logging.getLogger("lexigram_compat.cli").setLevel(logging.INFO)  # "worker started": the ready mark
    _dsn, _key, _concurrency = os.environ[DSN_ENV].split(" ")
    WORKER_APP = build(_dsn, _key, int(_concurrency))[0]


class PostgresCli(WorkerSubject):
    """``TasksApp`` on PostgreSQL; ``lexigram-compat worker`` runs the jobs."""

    title = "postgres (facade, lexigram-compat worker)"
    ready_marker = b"worker started"

    def __init__(self, shape: Shape = ANCHOR) -> None:
        tag = f"lxbench-{uuid.uuid4().hex[:10]}"
        self.db = ScratchDatabase()
        super().__init__(tag, REDIS_URL, f"{tag}:bench-probe", shape)
        self.app, self.noop, self.probe_task = build(self.db.dsn, self.probe_key, shape.concurrency)

    async def open(self) -> None:
        from lexigram_compat.adapters.postgres import apply_migrations

        await super().open()
        await self.db.create()
        await apply_migrations(self.db.dsn, "lexigram")
        await self.app.start()

    async def close(self) -> None:
        await self.stop_worker()
        await self.app.close()
        await self.db.drop()
        await super().close()

    def stop_after_drain(self) -> bool:
        return False  # count() sees running jobs too

    def worker_argv(self) -> list[str]:
        return [
            sys.executable, "-m", "lexigram_compat.cli", "--log-level", "info", "worker",
            f"{__name__}:WORKER_APP", "--processes", str(self.shape.processes),
            "--concurrency", str(self.shape.concurrency), "--no-scheduler",
        ]  # fmt: skip

    def worker_env(self) -> dict[str, str]:
        return {DSN_ENV: f"{self.db.dsn} {self.probe_key} {self.shape.concurrency}"}

    async def left(self) -> int:
        from lexigram_compat import JobStatus

        counts = [await self.app.queue.count(status=s) for s in (JobStatus.PENDING, JobStatus.RUNNING)]
        return sum(counts)

    async def enqueue_one(self) -> None:
        (await self.app.queue.enqueue(self.noop())).unwrap()

    async def enqueue_many(self, count: int) -> None:
        (await self.app.queue.enqueue_many([self.noop() for _ in range(count)])).unwrap()

    async def send_probe(self, token: int) -> None:
        (await self.app.queue.enqueue(self.probe_task(token))).unwrap()


SUBJECTS: dict[str, type[Subject]] = {"postgres-cli": PostgresCli}
"""Found by ``benchmarks.harness.all_subjects``."""
