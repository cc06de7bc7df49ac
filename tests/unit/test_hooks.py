"""Lifecycle hooks (``app.hooks``) on the memory engine: the points, their arguments,
sync and async handlers, and a handler that raises never breaking the job."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from lexigram_compat import JobContext, JobStatus, RetryPolicy, TaskConfig, TaskRegistry, TasksApp, task
from lexigram_compat.hooks import HOOK_NAMES, Hooks
from lexigram_compat.outcomes import Completed, DeadLettered, RetryLater

QUICK = RetryPolicy(max_attempts=2, base_delay=0.01, jitter=False)


def _app(registry: TaskRegistry) -> TasksApp:
    config = TaskConfig.from_dict(
        {"tasks": {"backend": {"type": "memory"}, "scheduler": {"enabled": False}}}, environ={}
    )
    return TasksApp(config, registry=registry)


def _tasks() -> tuple[TaskRegistry, Any, Any, Any]:
    registry = TaskRegistry()
    runs: dict[str, int] = {}

    @task(registry=registry, name="hooks.add", retry=QUICK)
    def add(a: int, b: int) -> int:
        return a + b

    @task(registry=registry, name="hooks.flaky", retry=QUICK)
    async def flaky(key: str) -> str:
        runs[key] = runs.get(key, 0) + 1
        if runs[key] == 1:
            raise ConnectionError("first run fails")
        return key

    @task(registry=registry, name="hooks.doomed", retry=QUICK)
    def doomed() -> None:
        raise ValueError("never works")

    return registry, add, flaky, doomed


def _record_everything(app: TasksApp, calls: list[tuple[Any, ...]]) -> None:
    """A handler on every point: sync on even-numbered points, async on the others."""
    for index, name in enumerate(HOOK_NAMES):
        if index % 2 == 0:

            def sync_handler(*args: Any, _name: str = name) -> None:
                calls.append((_name, *args))

            app.hooks.on(name, sync_handler)
        else:

            async def async_handler(*args: Any, _name: str = name) -> None:
                await asyncio.sleep(0)
                calls.append((_name, *args))

            app.hooks.on(name, async_handler)


def _sequence(calls: list[tuple[Any, ...]], job_id: str) -> list[tuple[str, int]]:
    return [
        (call[0], call[1].attempt)
        for call in calls
        if isinstance(call[1], JobContext) and call[1].job_id == job_id
    ]


async def test_every_point_fires_in_order_with_its_arguments_sync_and_async() -> None:
    registry, add, flaky, doomed = _tasks()
    app = _app(registry)
    calls: list[tuple[Any, ...]] = []
    _record_everything(app, calls)
    async with app:
        done = (await app.queue.enqueue(add(2, 3), headers={"tenant": "t1"})).unwrap()
        retried = (await app.queue.enqueue(flaky("k"))).unwrap()
        dead = (await app.queue.enqueue(doomed())).unwrap()
        await app.run_worker(until_idle=True)

    assert _sequence(calls, done) == [
        ("before_enqueue", 1),
        ("enqueued", 1),
        ("attempt_started", 1),
        ("succeeded", 1),
        ("attempt_finished", 1),
    ]
    assert _sequence(calls, retried) == [
        ("before_enqueue", 1),
        ("enqueued", 1),
        ("attempt_started", 1),
        ("failed", 1),
        ("retried", 1),
        ("attempt_finished", 1),
        ("attempt_started", 2),
        ("succeeded", 2),
        ("attempt_finished", 2),
    ]
    assert _sequence(calls, dead) == [
        ("before_enqueue", 1),
        ("enqueued", 1),
        ("attempt_started", 1),
        ("failed", 1),
        ("retried", 1),
        ("attempt_finished", 1),
        ("attempt_started", 2),
        ("failed", 2),
        ("dead_lettered", 2),
        ("attempt_finished", 2),
    ]
    by_point = {(c[0], c[1].job_id, c[1].attempt): c for c in calls if isinstance(c[1], JobContext)}
    assert by_point[("before_enqueue", done, 1)][1].headers == {"tenant": "t1"}
    assert by_point[("succeeded", done, 1)][2] == 5
    assert isinstance(by_point[("attempt_finished", done, 1)][2], Completed)
    _, _, error, delay = by_point[("retried", retried, 1)]
    assert isinstance(error, ConnectionError)
    assert delay == pytest.approx(0.01)
    assert isinstance(by_point[("attempt_finished", retried, 1)][2], RetryLater)
    assert isinstance(by_point[("failed", dead, 2)][2], ValueError)
    assert isinstance(by_point[("dead_lettered", dead, 2)][2], ValueError)
    assert isinstance(by_point[("attempt_finished", dead, 2)][2], DeadLettered)
    # The worker's own points, around its jobs, with the app.
    worker_calls = [c for c in calls if c[0].startswith("worker_")]
    assert worker_calls == [("worker_started", app), ("worker_stopped", app)]
    assert calls.index(worker_calls[0]) < calls.index(by_point[("attempt_started", done, 1)])
    assert calls[-1] == ("worker_stopped", app)


async def test_a_raising_handler_is_logged_and_the_job_and_later_handlers_go_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    registry, add, _, _ = _tasks()
    app = _app(registry)
    seen: list[str] = []

    @app.hooks.before_attempt
    def broken_sync(ctx: JobContext) -> None:
        raise RuntimeError("sync hook bug")

    @app.hooks.before_attempt
    async def broken_async(ctx: JobContext) -> None:
        raise LookupError("async hook bug")

    @app.hooks.on_success
    def after(ctx: JobContext, result: Any) -> None:
        seen.append(f"{ctx.task_name}={result}")

    caplog.set_level(logging.ERROR, logger="lexigram_compat.hooks")
    async with app:
        job = (await app.queue.enqueue(add(1, 1))).unwrap()
        await app.run_worker(until_idle=True)
        info = await app.queue.get_job(job)

    assert info is not None
    assert info.status is JobStatus.COMPLETED
    assert info.result == 2
    assert seen == ["hooks.add=2"]
    messages = [r.getMessage() for r in caplog.records if r.name == "lexigram_compat.hooks"]
    assert len(messages) == 2, messages
    assert "attempt_started hook" in messages[0]
    assert "broken_sync" in messages[0]
    assert "broken_async" in messages[1]
    assert caplog.records[0].exc_info is not None


async def test_a_raising_enqueue_hook_does_not_stop_the_enqueue() -> None:
    registry, add, _, _ = _tasks()
    app = _app(registry)

    @app.hooks.before_enqueue
    def broken(ctx: JobContext) -> None:
        raise RuntimeError("producer hook bug")

    async with app:
        job = (await app.queue.enqueue(add(1, 2))).unwrap()
        info = await app.queue.get_job(job)
    assert info is not None
    assert info.status is JobStatus.PENDING


def test_registration_checks_the_name_and_off_clears_the_flag() -> None:
    hooks = Hooks()
    assert not hooks.registered

    def handler(ctx: JobContext) -> None:
        pass

    with pytest.raises(ValueError, match=r"no hook named 'attempt_start'; the hooks are: before_enqueue"):
        hooks.on("attempt_start", handler)
    with pytest.raises(TypeError, match="is not callable"):
        hooks.on("succeeded", "not a function")  # type: ignore[call-overload]
    assert hooks.on("succeeded")(handler) is handler
    hooks.on("succeeded", handler)
    assert hooks.handlers("succeeded") == (handler,), "registered once"
    assert hooks.registered
    hooks.off("succeeded", handler)
    assert hooks.handlers("succeeded") == ()
    assert not hooks.registered
