"""A sample of the converted corpus (``corpus/runnable``), imported and run on the memory
engine and on PostgreSQL: the shim's output and the neutral output reach the outcomes the
original Celery code means (attempts, final state, result), each in a process of its own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.migrate.golden import EXPECTED, MODES
from tests.services import Service

REPO = Path(__file__).resolve().parents[2]
DRIVER = """
import asyncio, json, os
from lexigram_compat.celery import current_app
from runnable.services import start, start_from_async_code

app = current_app()
if os.environ.get("RUNNABLE_DSN"):
    from lexigram_compat.adapters.postgres import apply_migrations

    dsn, schema = os.environ["RUNNABLE_DSN"], os.environ["RUNNABLE_SCHEMA"]
    asyncio.run(apply_migrations(dsn, schema))
    app.conf["broker_url"] = dsn
    app.conf["lexigram"] = {"tasks": {"extra": {"postgres_schema": schema}}}
ids = start()
ids["async_add"] = asyncio.run(start_from_async_code())
app.tasks_app.run_worker_sync(until_idle=True)
queue = app.queue_handle()
jobs = {name: queue.get_job_sync(job_id) for name, job_id in ids.items()}
print(json.dumps({name: [info.status.value, info.attempts, info.result] for name, info in jobs.items()}))
app.close()
"""

# What the original means on Celery: a plain error is not retried; self.retry retries up to
# max_retries, then fails; autoretry_for retries its exceptions.
INTENT = {
    "add": ["completed", 1, 5],
    "async_add": ["completed", 1, 42],
    "flaky": ["completed", 3, {"retries": 2, "name": "runnable.tasks.flaky"}],
    "gives_up": ["failed", 2, None],
    "auto": ["completed", 3, 3],
    "boom": ["failed", 1, None],
}


def _run(mode: str, extra_env: dict[str, str]) -> dict[str, object]:
    env = {**os.environ, **extra_env, "PYTHONPATH": os.pathsep.join([str(EXPECTED / mode), str(REPO)])}
    done = subprocess.run([sys.executable, "-c", DRIVER], env=env, capture_output=True, text=True,
                          timeout=90, check=False, cwd=EXPECTED / mode)  # fmt: skip
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@pytest.fixture
def pg_schema(postgres_service: Service) -> Iterator[tuple[str, str]]:
    dsn = postgres_service.url
    schema = f"migrate_{uuid.uuid4().hex[:10]}"
    yield dsn, schema
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.mark.parametrize("mode", MODES)
def test_converted_project_keeps_the_originals_outcomes_on_memory(mode: str) -> None:
    assert _run(mode, {}) == INTENT


@pytest.mark.services("postgres")
@pytest.mark.parametrize("mode", MODES)
def test_converted_project_keeps_the_originals_outcomes_on_postgres(
    mode: str, pg_schema: tuple[str, str]
) -> None:
    dsn, schema = pg_schema
    assert _run(mode, {"RUNNABLE_DSN": dsn, "RUNNABLE_SCHEMA": schema}) == INTENT
