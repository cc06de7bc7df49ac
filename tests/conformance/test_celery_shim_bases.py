"""``@app.task(base=ReportingTask)`` (``tests/celery_shim/proj/tasks_base.py``) run by
each engine's native worker: the subclass's handlers are called with Celery's arguments,
in Celery's order, in the process that runs the job, and its class attributes
(``autoretry_for``, ``max_retries``, ``default_retry_delay``) are the task's policy."""

from __future__ import annotations

import asyncio
import os
from typing import Any

from lexigram_compat import JobStatus
from tests.celery_shim.proj import tasks_base

from .harness import EngineHarness, MemoryHarness
from .shim_jobs import shim_app

REFUSED = "ConnectionError('attempt {n}: refused')"


def _attempt(arg: int) -> list[tuple[str, list[Any]]]:
    return [("before_start", [True, [arg], {}]), ("__call__", [[arg]])]


async def test_a_base_classs_handlers_run_in_celerys_order_on_every_engine(engine: EngineHarness) -> None:
    shim_app.use(engine.app)
    headers = {"report-to": str(engine.recorder.path)}
    recovers = await asyncio.to_thread(tasks_base.connect.apply_async, (1,), headers=headers)
    gives_up = await asyncio.to_thread(tasks_base.connect.apply_async, (5,), headers=headers)

    await engine.drain()

    def seen(job_id: str) -> dict[int, list[tuple[str, list[Any]]]]:
        """The handler calls of each attempt (by retries before it), in order. (Two
        attempts may overlap: the next can start before the hooks of a retried one end,
        in Celery too, where the retry is sent before on_retry runs.)"""
        attempts: dict[int, list[tuple[str, list[Any]]]] = {}
        for e in engine.recorder.entries("handler", job_id=job_id):
            attempts.setdefault(e.data["retries"], []).append((e.data["point"], e.data["detail"]))
        return attempts

    assert seen(recovers.id) == {
        0: [*_attempt(1), ("on_retry", [REFUSED.format(n=1), "ConnectionError"])],
        1: [
            *_attempt(1),
            ("on_success", ["connected after 1 retries", [1]]),
            ("after_return", ["SUCCESS", "'connected after 1 retries'"]),
        ],
    }
    assert seen(gives_up.id) == {
        0: [*_attempt(5), ("on_retry", [REFUSED.format(n=1), "ConnectionError"])],
        1: [
            *_attempt(5),
            ("on_failure", [REFUSED.format(n=2), "ConnectionError"]),
            ("after_return", ["FAILURE", REFUSED.format(n=2)]),
        ],
    }
    finished = {job.id: await engine.info(job.id) for job in (recovers, gives_up)}
    assert [(i.status, i.attempts) for i in finished.values()] == [
        (JobStatus.COMPLETED, 2),
        (JobStatus.FAILED, 2),  # max_retries=1 from the class
    ]
    if not isinstance(engine, MemoryHarness):  # the others run jobs in their own worker processes
        assert os.getpid() not in {e.pid for e in engine.recorder.entries("handler")}
