"""Lifecycle hooks the conformance app registers (``build_app``), so every engine's
worker reports, through the recorder, which hook points it reached.

Job points record only jobs sent with the :data:`PROBE_HEADER` header (the other
tests' jobs pass the hooks, unrecorded); the worker points record every worker
process start and stop. Half of the handlers are sync, half async.
"""

from __future__ import annotations

import asyncio
from typing import Any

from lexigram_compat import JobContext, TasksApp
from lexigram_compat.hooks import HOOK_NAMES
from lexigram_compat.outcomes import Completed, DeadLettered, RetryLater

from .recorder import Recorder

__all__ = ["PROBE_HEADER", "install_hook_probe"]

PROBE_HEADER = "hook-probe"
"""``enqueue(..., headers={PROBE_HEADER: key})``: the job's hook points are recorded under ``key``."""
WORKER_POINTS = ("worker_started", "worker_stopped")


def _detail(point: str, args: tuple[Any, ...]) -> Any:
    """What the test compares of a point's arguments (JSON-able)."""
    if point == "succeeded":
        return args[0]
    if point in ("failed", "dead_lettered"):
        return type(args[0]).__name__
    if point == "retried":
        return [type(args[0]).__name__, args[1] >= 0]
    if point == "attempt_finished":
        outcome = args[0]
        kinds = {Completed: "completed", RetryLater: "retry", DeadLettered: "dead"}
        return kinds[type(outcome)]
    return None


def install_hook_probe(app: TasksApp, recorder: Recorder) -> None:
    def job_handler(point: str, asynchronous: bool) -> Any:
        def record(ctx: JobContext, *args: Any) -> None:
            key = ctx.headers.get(PROBE_HEADER)
            if key is not None:
                recorder.record(
                    "hook", point=point, key=key, job_id=ctx.job_id, attempt=ctx.attempt,
                    detail=_detail(point, args),
                )  # fmt: skip

        async def record_async(ctx: JobContext, *args: Any) -> None:
            await asyncio.sleep(0)
            record(ctx, *args)

        return record_async if asynchronous else record

    for index, point in enumerate(HOOK_NAMES):
        if point in WORKER_POINTS:
            continue
        app.hooks.on(point, job_handler(point, asynchronous=index % 2 == 1))

    @app.hooks.on_worker_start
    def started(started_app: TasksApp) -> None:
        recorder.record("hook", point="worker_started", key="worker", same_app=started_app is app)

    @app.hooks.on_worker_stop
    async def stopped(stopped_app: TasksApp) -> None:
        recorder.record("hook", point="worker_stopped", key="worker", same_app=stopped_app is app)
