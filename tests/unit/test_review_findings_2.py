"""Defects found in the second review (CLI, docs, test helpers), each pinned by a
test that failed before its fix."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from lexigram_compat import TaskRegistry, TasksApp, scheduled
from lexigram_compat.testing import memory_app

REGISTRY = TaskRegistry()


@scheduled("* * * * *", name="review2.every_minute", registry=REGISTRY)
async def every_minute() -> None:
    return None


# -- the scheduler's start-up report warned about a cap that was never reached --------


def test_next_fire_times_of_a_frequent_schedule_logs_no_warning(caplog: pytest.LogCaptureFixture) -> None:
    app = TasksApp.from_dict({"tasks": {"backend": {"type": "memory"}}}, registry=REGISTRY, environ={})
    start = datetime(2026, 1, 1, 12, 0, 30, tzinfo=UTC)
    sched = app.make_scheduler(start=start)
    with caplog.at_level(logging.WARNING):
        nxt = sched.next_fire_times()
    # "more than 1000 fire times ...; firing the first 1000" on every scheduler start
    assert [r.getMessage() for r in caplog.records] == []
    assert nxt == {"review2.every_minute": datetime(2026, 1, 1, 12, 1, tzinfo=UTC)}


# -- memory_app promised the memory engine with the scheduler off, whatever the environment --


async def test_memory_app_ignores_lex_tasks_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    # A CI job that configures the production app through the environment must
    # not turn the test helper's app into something else.
    monkeypatch.setenv("LEX_TASKS__SCHEDULER__ENABLED", "true")
    monkeypatch.setenv("LEX_TASKS__RETRY__BASE_DELAY", "30")
    async with memory_app(registry=REGISTRY) as app:
        assert app.config.scheduler.enabled is False
        assert app.config.retry.base_delay == 0.0
