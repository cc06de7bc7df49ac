"""Migrations: ``db migrate`` applies them once; an engine refuses a schema that is behind."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import psycopg
import pytest

from lexigram_compat.adapters.postgres import SchemaBehindError, apply_migrations
from lexigram_compat.adapters.postgres.sql import DEFAULT_SCHEMA, migrations
from tests.conformance.apps import worker_environ
from tests.conformance.subprocess_harness import REPO_ROOT
from tests.services import Service

from .databases import ScratchDatabase, create_test_database
from .workers import build_postgres_app


@pytest.fixture
async def empty(postgres_service: Service) -> AsyncIterator[ScratchDatabase]:
    db = await create_test_database(postgres_service.url, migrated=False)
    try:
        yield db
    finally:
        await db.drop()


def _section(db: ScratchDatabase) -> dict[str, object]:
    return {"backend": {"type": "postgres", "postgres_dsn": db.dsn}, "scheduler": {"enabled": False}}


async def test_an_app_refuses_to_start_on_a_schema_that_is_behind(
    empty: ScratchDatabase, tmp_path: Path
) -> None:
    app = build_postgres_app(_section(empty), tmp_path / "r.jsonl")

    with pytest.raises(SchemaBehindError) as refused:
        await app.start()

    assert not app.is_started
    assert "is at version 0" in refused.value.message
    assert "0001_jobs" in refused.value.message
    assert "lexigram-compat db migrate" in (refused.value.hint or "")


async def test_the_worker_command_exits_with_the_message(empty: ScratchDatabase, tmp_path: Path) -> None:
    env = {**os.environ, **worker_environ(_section(empty), tmp_path / "r.jsonl")}
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "lexigram_compat.cli", "worker", "tests.conformance.worker_app:app"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 2, done.stderr
    assert "is at version 0" in done.stderr
    assert "db migrate" in done.stderr
    assert "Traceback" not in done.stderr


async def test_db_migrate_applies_each_migration_once(empty: ScratchDatabase, tmp_path: Path) -> None:
    command = [sys.executable, "-m", "lexigram_compat.cli", "db", "migrate", "--dsn", empty.dsn]
    first = await asyncio.to_thread(
        subprocess.run, command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert first.returncode == 0, first.stderr
    assert "applied 0001_jobs" in first.stdout

    assert await apply_migrations(empty.dsn, DEFAULT_SCHEMA) == []
    async with await psycopg.AsyncConnection.connect(empty.dsn) as conn:
        rows = await (await conn.execute("SELECT version FROM lexigram.schema_migrations")).fetchall()
    assert [row[0] for row in rows] == [m.version for m in migrations()]

    app = build_postgres_app(_section(empty), tmp_path / "r.jsonl")
    async with app:
        assert await app.queue.count() == 0
