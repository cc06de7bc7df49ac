"""Fixtures of the PostgreSQL engine's own tests: a database per test (copied
from a migrated template), apps on it built like the conformance suite's, and
real ``lexigram-compat worker`` processes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from lexigram_compat import TasksApp
from tests.conformance.harness import SUITE_SECTION, deep_merge
from tests.conformance.recorder import Recorder
from tests.services import Service

from .databases import ScratchDatabase, create_test_database
from .workers import WorkerProcess, build_postgres_app

MakeApp = Callable[..., Awaitable[TasksApp]]
MakeWorker = Callable[..., WorkerProcess]


@pytest.fixture
async def database(postgres_service: Service) -> AsyncIterator[ScratchDatabase]:
    db = await create_test_database(postgres_service.url)
    try:
        yield db
    finally:
        await db.drop()


@pytest.fixture
def section(database: ScratchDatabase) -> dict[str, Any]:
    """The ``tasks:`` section of this test's apps (the conformance suite's, on this database)."""
    return deep_merge(
        SUITE_SECTION,
        {
            "engine": "native",
            "backend": {"type": "postgres", "postgres_dsn": database.dsn},
            "worker": {"lease_seconds": 1.0, "heartbeat_interval": 0.25},
        },
    )


@pytest.fixture
def recorder(tmp_path: Path) -> Recorder:
    return Recorder(tmp_path / "recorder.jsonl")


@pytest.fixture
async def make_app(section: dict[str, Any], recorder: Recorder) -> AsyncIterator[MakeApp]:
    """Started apps on this test's database (closed at the end)."""
    started: list[TasksApp] = []

    async def make(**overrides: Any) -> TasksApp:
        app = build_postgres_app(deep_merge(section, overrides), recorder.path)
        await app.start()
        started.append(app)
        return app

    yield make
    for app in started:
        await app.close()


@pytest.fixture
def make_worker(section: dict[str, Any], recorder: Recorder, tmp_path: Path) -> Iterator[MakeWorker]:
    """``lexigram-compat worker`` processes (killed at the end if still running)."""
    workers: list[WorkerProcess] = []

    def make(**overrides: Any) -> WorkerProcess:
        log = tmp_path / f"worker-{len(workers)}.log"
        worker = WorkerProcess(deep_merge(section, overrides), recorder.path, log)
        workers.append(worker)
        return worker

    yield make
    for worker in workers:
        worker.kill()
