"""Apps for the command-line tests: memory engine, their own task registry.

``app`` is the main one: a primary memory backend plus a named ``emails``
backend. The memory engine keeps its state in the app object, so a test can
run ``enqueue``, ``worker --until-idle``, ``dlq`` and ``queues`` one after the
other in this process. The other attributes are the error cases (an
unreachable broker, an engine whose own worker runs the jobs, ...).

Startup hooks act only when an environment variable names a directory: the
subprocess tests use them to enqueue a job inside the worker process.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

from lexigram_compat import RetryPolicy, TaskRegistry, TasksApp, scheduled, task
from lexigram_compat.adapters.memory import MemoryEngine
from lexigram_compat.engine_contract import Capabilities
from lexigram_compat.envelope import JobEnvelope
from lexigram_compat.queue import JobInfo, JobStatus

SLOW_DIR_ENV = "LEXIGRAM_CLI_TEST_SLOW_DIR"
MARK_DIR_ENV = "LEXIGRAM_CLI_TEST_MARK_DIR"
HOLD_DIR_ENV = "LEXIGRAM_CLI_TEST_HOLD_DIR"
RELEASE_TIMEOUT = 60.0

registry = TaskRegistry()


class Switch:
    """Whether ``sample.flaky`` fails; tests flip it to check a replay succeeds."""

    broken = True


switch = Switch()


@task(name="sample.add", registry=registry)
async def add(x: int, y: int) -> int:
    return x + y


@task(name="sample.flaky", registry=registry, retry=RetryPolicy(max_attempts=2, base_delay=0.0, jitter=False))
async def flaky(reason: str) -> str:
    if switch.broken:
        raise RuntimeError(f"flaky failed: {reason}")
    return reason


@task(name="sample.report", registry=registry, queue="reports")
async def report(report_id: int) -> int:
    return report_id


@task(name="sample.email", registry=registry, queue="emails")
async def email(to: str) -> str:
    return to


async def _mark_then_wait_for_release(where: Path, mark: str) -> None:
    """Write ``mark`` (this pid), then wait until the test creates ``release``."""
    (where / mark).write_text(str(os.getpid()))
    deadline = time.monotonic() + RELEASE_TIMEOUT
    while not (where / "release").exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{where / 'release'} never appeared")
        await asyncio.sleep(0.02)


@task(name="sample.slow", registry=registry)
async def slow(folder: str) -> str:
    """Marks that it started, then runs until the test creates ``release``."""
    where = Path(folder)
    await _mark_then_wait_for_release(where, "started")
    (where / "finished").write_text("done")
    return "done"


@task(name="sample.mark", registry=registry)
def mark(folder: str) -> int:
    """Records that a worker process runs jobs (its handlers are installed by then)."""
    Path(folder, f"started-{os.getpid()}").write_text("")
    return os.getpid()


@scheduled("0 0 1 1 *", name="sample.yearly", registry=registry)
async def yearly() -> None:
    return None


CONFIG: dict[str, Any] = {
    "tasks": {
        "backend": {"type": "memory"},
        "retry": {"base_delay": 0.0, "jitter": False},
        "backends": [{"name": "emails", "type": "memory", "queue_name": "emails"}],
    }
}


async def enqueue_slow_job(app: TasksApp) -> None:
    if folder := os.environ.get(SLOW_DIR_ENV):
        (await app.queue.enqueue(slow(folder))).unwrap()


async def enqueue_mark_job(app: TasksApp) -> None:
    if folder := os.environ.get(MARK_DIR_ENV):
        (await app.queue.enqueue(mark(folder))).unwrap()


async def hold_startup(app: TasksApp) -> None:
    """Keeps the app starting (connected, the worker not yet running) until the test
    creates ``release``: a signal sent meanwhile arrives while the worker starts."""
    if folder := os.environ.get(HOLD_DIR_ENV):
        await _mark_then_wait_for_release(Path(folder), "starting")


def build_app() -> TasksApp:
    """The main test app (a fresh one per test: see conftest)."""
    built = TasksApp.from_dict(CONFIG, registry=registry, environ={})
    built.on_startup(enqueue_slow_job)
    built.on_startup(enqueue_mark_job)
    built.on_startup(hold_startup)
    return built


app = build_app()
make_app = build_app  # APP may also name a zero-argument factory


class MultiProcessEngine(MemoryEngine):
    """Pretends to be shared between processes, to drive ``--processes N``."""

    capabilities: ClassVar[Capabilities] = replace(MemoryEngine.capabilities, multi_process=True)


class NativeWorkerEngine(MemoryEngine):
    """An engine whose own worker runs the jobs (as Celery's and Dramatiq's do)."""

    capabilities: ClassVar[Capabilities] = replace(
        MemoryEngine.capabilities, multi_process=True, worker="fake-native-worker -A <module> run"
    )

    def job_source(self) -> None:  # type: ignore[override]
        return None

    def native_worker_argv(
        self,
        app_spec: str,
        *,
        queues: Sequence[str] | None,
        processes: int | None,
        concurrency: int | None,
        log_level: str | None = None,
    ) -> list[str] | None:
        # Stands in for `dramatiq ...` / `celery ... worker`: prints what it was given.
        report = "import json, os, sys; print(json.dumps([*sys.argv[1:], os.environ.get('LEXIGRAM_APP')]))"
        options = {"queues": queues, "processes": processes, "concurrency": concurrency}
        return [sys.executable, "-c", report, app_spec, json.dumps(options)]


class CommandlessEngine(NativeWorkerEngine):
    """An engine with its own worker but no command line ``worker`` can start."""

    def native_worker_argv(
        self,
        app_spec: str,
        *,
        queues: Sequence[str] | None,
        processes: int | None,
        concurrency: int | None,
        log_level: str | None = None,
    ) -> list[str] | None:
        return None


class UnreachableEngine(MemoryEngine):
    """A broker that refuses connections."""

    async def enqueue(self, envelopes: Sequence[JobEnvelope], *, connection: Any = None) -> list[str]:
        raise ConnectionRefusedError(111, "Connection refused")

    async def count(self, queue: str, status: JobStatus | None) -> int:
        raise ConnectionRefusedError(111, "Connection refused")

    async def get_job(self, job_id: str) -> JobInfo | None:
        raise ConnectionRefusedError(111, "Connection refused")


def _with_engine(engine: type[MemoryEngine]) -> TasksApp:
    built = TasksApp.from_dict({"tasks": {"backend": {"type": "memory"}}}, registry=registry, environ={})
    primary = built.backend_set.primary
    primary.engine = engine(built.config, primary.config)
    return built


def multi_app() -> TasksApp:
    built = _with_engine(MultiProcessEngine)
    built.on_startup(enqueue_mark_job)
    return built


def native_app() -> TasksApp:
    return _with_engine(NativeWorkerEngine)


def commandless_app() -> TasksApp:
    return _with_engine(CommandlessEngine)


def down_app() -> TasksApp:
    return _with_engine(UnreachableEngine)


def bad_config_app() -> TasksApp:
    section = {"backend": {"type": "redis", "redis_url": "redis://user:s3cret-pw@localhost:1/0"}}
    return TasksApp.from_dict({"tasks": {**section, "worker": {"worker_count": 0}}}, environ={})


def secret_failure() -> TasksApp:
    raise RuntimeError("could not reach redis://admin:hunter2@db.internal:6379/0")


def interrupted() -> TasksApp:
    raise KeyboardInterrupt


def returns_wrong_type() -> object:
    return {"not": "an app"}


not_an_app = 42


def no_schedules_app() -> TasksApp:
    section = {"backend": {"type": "memory"}, "scheduler": {"enabled": False}}
    return TasksApp.from_dict({"tasks": section}, registry=registry, environ={})
