"""Idempotency-key lifetime, naive scheduler clocks, redacted engine errors, sync lifecycle."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from lexigram_compat import TaskConfig, TaskRegistry, TasksApp, TasksModule, scheduled, task
from lexigram_compat.adapters.memory import MemoryEngine
from lexigram_compat.envelope import JobEnvelope
from lexigram_compat.scheduling import schedule_job_id


def _app(registry: TaskRegistry) -> TasksApp:
    config = TaskConfig.from_dict(
        {"tasks": {"backend": {"type": "memory"}, "scheduler": {"enabled": False}}}, environ={}
    )
    return TasksApp(config, registry=registry)


async def test_cancelling_a_job_frees_its_idempotency_key() -> None:
    registry = TaskRegistry()

    @task(registry=registry)
    def charge(order: str) -> None: ...

    async with _app(registry) as app:
        first = (await app.queue.enqueue(charge("o-1"), idempotency_key="o-1")).unwrap()
        assert (await app.queue.enqueue(charge("o-1"), idempotency_key="o-1")).unwrap() == first
        assert (await app.queue.cancel(first)).unwrap() is True
        second = (await app.queue.enqueue(charge("o-1"), idempotency_key="o-1")).unwrap()
        assert second != first
        assert await app.queue.count() == 1


async def test_a_naive_scheduler_clock_is_read_as_utc() -> None:
    registry = TaskRegistry()

    @scheduled(cron="0 * * * *", registry=registry, name="hourly")
    def hourly() -> None: ...

    async with _app(registry) as app:
        scheduler = app.make_scheduler(start=datetime(2026, 5, 1, 9, 30))
        ids = await scheduler.tick(datetime(2026, 5, 1, 10, 30))
        assert ids == [schedule_job_id("hourly", datetime(2026, 5, 1, 10, tzinfo=UTC))]


class _LeakyEngine(MemoryEngine):
    async def enqueue(self, envelopes: Sequence[JobEnvelope], *, connection: Any = None) -> list[str]:
        raise RuntimeError("auth failed for redis://:hunter2@cache:6379/0")


async def test_unexpected_engine_errors_are_redacted(caplog: pytest.LogCaptureFixture) -> None:
    registry = TaskRegistry()

    @task(registry=registry)
    def noop() -> None: ...

    async with _app(registry) as app:
        app.backend_set.primary.engine = _LeakyEngine(app.config, app.config.backend)
        error = (await app.queue.enqueue(noop())).unwrap_err()
    assert "hunter2" not in str(error)
    assert "***" in error.message
    assert "hunter2" not in caplog.text


def test_configure_arguments_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEX_TASKS__SCHEDULER__ENABLED", "true")
    app = TasksModule.configure({"tasks": {"backend": {"type": "memory"}}}, enable_scheduler=False)
    assert app.config.scheduler.enabled is False


async def test_close_sync_closes_an_app_started_on_another_loop() -> None:
    app = _app(TaskRegistry())
    await app.start()
    # close_sync blocks its thread until this loop has run the close.
    await asyncio.wait_for(asyncio.to_thread(app.close_sync), 30)
    assert not app.is_started
