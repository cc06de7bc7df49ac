"""Helpers for applications' own test suites (memory engine).

>>> async with memory_app() as app:
...     await app.queue.enqueue(my_task(1))
...     await drain(app)
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any

from lexigram_compat.app import TasksApp
from lexigram_compat.config import TaskConfig
from lexigram_compat.di.container import Resolver
from lexigram_compat.errors import JobNotFoundError
from lexigram_compat.queue import JobInfo, JobStatus
from lexigram_compat.registry import TaskRegistry

__all__ = ["FINAL_STATUSES", "drain", "join", "memory_app"]

FINAL_STATUSES = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED})


@asynccontextmanager
async def memory_app(
    *,
    container: Resolver | None = None,
    registry: TaskRegistry | None = None,
    retry: dict[str, Any] | None = None,
    **tasks_section: Any,
) -> AsyncIterator[TasksApp]:
    """A started app on the memory engine, scheduler off, fast retries by default.

    ``LEX_TASKS__*`` environment variables are ignored: the app is what the
    arguments say, wherever the tests run.
    """
    section: dict[str, Any] = {
        "backend": {"type": "memory"},
        "scheduler": {"enabled": False},
        "retry": retry or {"base_delay": 0.0, "jitter": False},
        **tasks_section,
    }
    # environ={}: a LEX_TASKS__* variable meant for the production app must not
    # turn this app into another engine or switch its scheduler on.
    config = TaskConfig.from_dict({"tasks": section}, environ={})
    app = TasksApp(config, container=container, registry=registry)
    async with app:
        yield app


async def drain(app: TasksApp, *, fail_fast: bool = False, queues: list[str] | None = None) -> int:
    """Run every ready job (and retries) until idle; return attempts processed.

    With ``fail_fast=True`` the first failed attempt raises ``JobFailed``
    (chained to the task's exception) instead of retrying quietly.
    """
    return await app.run_worker(until_idle=True, fail_fast=fail_fast, queues=queues, scheduler=False)


async def join(
    app: TasksApp,
    job_ids: Iterable[str],
    *,
    timeout: float = 30.0,
    statuses: frozenset[JobStatus] = FINAL_STATUSES,
    interval: float = 0.01,
) -> list[JobInfo]:
    """Wait until every job reaches one of ``statuses``; return their infos.

    Raises:
        TimeoutError: Some job did not get there in ``timeout`` seconds (the
            message names it and its last status).
        JobNotFoundError: A job id is unknown.
    """
    ids = list(job_ids)
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        infos = [await app.queue.get_job(job_id) for job_id in ids]
        for job_id, info in zip(ids, infos, strict=True):
            if info is None:
                raise JobNotFoundError(f"join(): no job with id {job_id!r}")
        done = [i for i in infos if i is not None and i.status in statuses]
        if len(done) == len(ids):
            return done
        if asyncio.get_running_loop().time() >= deadline:
            waiting = [f"{i.job_id}={i.status}" for i in infos if i is not None and i.status not in statuses]
            raise TimeoutError(f"join(): after {timeout}s these jobs are still waiting: {', '.join(waiting)}")
        await asyncio.sleep(interval)
