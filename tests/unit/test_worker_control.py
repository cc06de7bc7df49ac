"""Worker control: startup hooks, forced stop, fail-fast."""

from __future__ import annotations

import asyncio

import pytest

from lexigram_compat import JobFailed, JobStatus, TaskConfig, TaskRegistry, TasksApp, task


def _app(registry: TaskRegistry, **worker: object) -> TasksApp:
    config = TaskConfig.from_dict(
        {"tasks": {"backend": {"type": "memory"}, "scheduler": {"enabled": False}, "worker": worker}},
        environ={},
    )
    return TasksApp(config, registry=registry)


async def test_a_failing_startup_hook_closes_the_app_and_propagates() -> None:
    app = _app(TaskRegistry())

    @app.on_startup
    async def explode(_: TasksApp) -> None:
        raise RuntimeError("cache warm-up failed")

    with pytest.raises(RuntimeError, match="cache warm-up failed"):
        async with app:
            pass
    assert not app.is_started


async def test_startup_hooks_run_after_start_and_can_enqueue() -> None:
    registry = TaskRegistry()

    @task(registry=registry)
    def bootstrap() -> str:
        return "booted"

    app = _app(registry)
    enqueued: list[str] = []

    @app.on_startup
    async def seed(started: TasksApp) -> None:
        enqueued.append((await started.queue.enqueue(bootstrap())).unwrap())

    async with app:
        await app.run_worker(until_idle=True)
        info = await app.queue.get_job(enqueued[0])
        assert info is not None
        assert info.result == "booted"


async def test_second_stop_returns_running_jobs_without_counting_the_attempt() -> None:
    registry = TaskRegistry()
    started = asyncio.Event()

    @task(registry=registry)
    async def stuck() -> None:
        started.set()
        await asyncio.sleep(3600)

    # shutdown_timeout far beyond the test timeout: only the forced stop can end this test.
    app = _app(registry, shutdown_timeout=3600)
    async with app:
        job_id = (await app.queue.enqueue(stuck())).unwrap()
        worker = asyncio.create_task(app.run_worker())
        await asyncio.wait_for(started.wait(), 30)
        app.stop_worker()
        await asyncio.sleep(0)
        assert not worker.done(), "a graceful stop waits for the running job"
        app.stop_worker()  # the second request stops at once
        await asyncio.wait_for(worker, 30)
        info = await app.queue.get_job(job_id)
        assert info is not None
        assert info.status is JobStatus.PENDING
        assert info.attempts == 0


async def test_fail_fast_raises_with_the_task_error() -> None:
    registry = TaskRegistry()

    @task(registry=registry)
    def broken() -> None:
        raise ValueError("bad input")

    async with _app(registry) as app:
        job_id = (await app.queue.enqueue(broken())).unwrap()
        with pytest.raises(JobFailed) as caught:
            await app.run_worker(until_idle=True, fail_fast=True)
        assert caught.value.job_id == job_id
        assert isinstance(caught.value.error, ValueError)


async def test_until_idle_on_one_queue_ignores_jobs_running_on_another() -> None:
    registry = TaskRegistry()
    started = asyncio.Event()
    ran: list[str] = []

    @task(registry=registry, queue="slow")
    async def slow() -> None:
        started.set()
        await asyncio.sleep(3600)

    @task(registry=registry, queue="fast")
    async def fast() -> None:
        ran.append("fast")

    async with _app(registry, shutdown_timeout=0) as app:
        (await app.queue.enqueue(slow())).unwrap()
        (await app.queue.enqueue(fast())).unwrap()
        slow_worker = asyncio.create_task(app.run_worker(queues=["slow"]))
        await asyncio.wait_for(started.wait(), 30)
        # Must return although a job is still running on the other queue.
        await asyncio.wait_for(app.run_worker(until_idle=True, queues=["fast"]), 30)
        assert ran == ["fast"]
        app.stop_worker()  # stops every running worker
        await asyncio.wait_for(slow_worker, 30)
