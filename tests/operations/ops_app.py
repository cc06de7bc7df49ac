"""The app the operator tests (CLI, dashboard, metrics, logs) run in real
processes: its ``tasks:`` section comes from ``$LEXIGRAM_OPS_SECTION`` (JSON),
so the test, the worker subprocess and the CLI subprocess build the same app.
Without it, a memory app (for in-process use)."""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path
from typing import Any

from lexigram_compat import RetryPolicy, TaskRegistry, TasksApp, scheduled, task
from tests.operations import span_file

SECTION_ENV = "LEXIGRAM_OPS_SECTION"
SEED_ENV = "LEXIGRAM_OPS_SEED"
"""A path: at startup, enqueue sample jobs (a dead one is fixed once that path exists)."""
TRACED_SEED_ENV = "LEXIGRAM_OPS_TRACED_SEED"
"""Set: the seed also enqueues ``ops.add(7, 7)`` inside a span named ``seed``."""
APP = "tests.operations.ops_app:app"
RELEASE_TIMEOUT = 60.0

registry = TaskRegistry()


@task(name="ops.add", registry=registry)
async def add(x: int, y: int) -> int:
    return x + y


@task(name="ops.fail", registry=registry, retry=RetryPolicy(max_attempts=2, base_delay=0.0, jitter=False))
async def fail(reason: str, fixed_when: str = "") -> str:
    """Fails (both attempts, so it is dead-lettered) until ``fixed_when`` exists."""
    if fixed_when and os.path.exists(fixed_when):  # noqa: ASYNC240 - a test task, a tiny local file
        Path(fixed_when).with_suffix(".ran").write_text(reason)
        return reason
    raise RuntimeError(f"ops failed: {reason}")


@task(name="ops.slow", registry=registry)
async def slow(folder: str) -> str:
    """Marks that it started, then runs until the test creates ``release``."""
    where = Path(folder)
    (where / f"started-{os.getpid()}").write_text("")
    deadline = time.monotonic() + RELEASE_TIMEOUT
    while not (where / "release").exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{where / 'release'} never appeared")
        await asyncio.sleep(0.02)
    return "done"


@scheduled("0 3 * * *", name="ops.nightly", registry=registry)
async def nightly() -> None:
    return None


MEMORY: dict[str, Any] = {"backend": {"type": "memory"}}


async def seed(app: TasksApp) -> None:
    """With ``$LEXIGRAM_OPS_SEED`` set: jobs for the dashboard to show (the memory
    engine's jobs exist only in the process that serves it)."""
    fixed = os.environ.get(SEED_ENV)
    if not fixed:
        return
    for n in range(3):
        (await app.queue.enqueue(add(n, n))).unwrap()
    (await app.queue.enqueue(add(1, 1), delay=3600)).unwrap()
    (await app.queue.enqueue(fail("seeded", fixed_when=fixed))).unwrap()
    if os.environ.get(TRACED_SEED_ENV):
        from opentelemetry import trace

        with trace.get_tracer("tests.operations").start_as_current_span("seed"):
            (await app.queue.enqueue(add(7, 7))).unwrap()


def build(section: dict[str, Any] | None = None) -> TasksApp:
    """The app on ``section`` (default: ``$LEXIGRAM_OPS_SECTION``, else memory)."""
    if section is None:
        raw = os.environ.get(SECTION_ENV)
        section = json.loads(raw) if raw else MEMORY
    built = TasksApp.from_dict({"tasks": section}, registry=registry, environ={})
    built.on_startup(seed)
    return built


span_file.install_from_env()
app = build()
celery_app = app.native if app.backend_set.primary.engine_name == "celery" else None
