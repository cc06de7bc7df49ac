"""The tasks the conformance suite runs on every engine.

They live at module level, in their own registry, under explicit names, so a
worker subprocess (``lexigram-compat worker``, ``dramatiq``, ``celery worker``)
imports exactly the same tasks as the test process. They report what happened
through :class:`Recorder`, which the container injects and which appends JSON
lines to a file, so it works across threads and processes alike. A task that
must behave differently on later runs (flaky, slow once) counts its earlier
runs in the recorder, never in process memory.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import os
import signal
import time
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel

from lexigram_compat import (
    JobContext,
    Named,
    Priority,
    Reject,
    Retry,
    RetryPolicy,
    TaskQueueProtocol,
    TaskRegistry,
    TaskSoftTimeoutError,
    current_job,
    inject,
    scheduled,
    task,
)

from .recorder import Recorder

registry = TaskRegistry()

NAMED_QUEUE = "conformance-named"
"""A queue named only by ``@task(queue=...)``: it lives on the primary backend."""
TASK_TIMEOUT = 0.2
"""``@task(timeout=...)`` of :func:`timed`."""
BACKOFF_POLICY = RetryPolicy(max_attempts=4, base_delay=0.05, backoff_factor=2.0, max_delay=0.15, jitter=True)
"""Jittered exponential backoff of :func:`flaky_backoff` (delays 0.025-0.05, 0.05-0.1, 0.075-0.15)."""
SELECTIVE_POLICY = RetryPolicy(
    max_attempts=3, base_delay=0.01, jitter=False, retry_on=(OSError,), abort_on=(PermissionError,)
)
"""OSError retries, PermissionError (an OSError too) aborts: ``abort_on`` wins."""
SCHEDULE_NAME = "conformance.every_five_minutes"


# -- values that must round-trip as their annotated types --------------------------
class Colour(enum.Enum):
    RED = "red"
    GREEN = "green"


class Point(BaseModel):
    x: int
    y: int
    label: str


@dataclasses.dataclass(frozen=True)
class Box:
    width: Decimal
    tags: list[str]


@dataclasses.dataclass(frozen=True)
class Greeting:
    text: str


class Unregistered:
    """A type no container binds."""


def describe(value: Any) -> str:
    """An exact, process-independent text form of an argument value."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, BaseModel):
        return value.model_dump_json()
    return repr(value)


# -- tasks ---------------------------------------------------------------------------
@task(name="conformance.noop", registry=registry)
async def noop(tag: str, recorder: Recorder = inject()) -> None:
    recorder.record("noop", tag=tag)


@task(name="conformance.add", registry=registry)
async def add(a: int, b: int, recorder: Recorder = inject()) -> int:
    recorder.record("add", a=a, b=b)
    return a + b


@task(name="conformance.sync_add", registry=registry)
def sync_add(a: int, b: int, recorder: Recorder = inject()) -> int:
    recorder.record("sync_add", a=a, b=b)
    return a + b


@task(name="conformance.echo", registry=registry)
async def echo(
    when: datetime,
    day: date,
    ident: UUID,
    amount: Decimal,
    colour: Colour,
    *,
    point: Point,
    box: Box,
    recorder: Recorder = inject(),
) -> Point:
    received: dict[str, Any] = {
        "when": when,
        "day": day,
        "ident": ident,
        "amount": amount,
        "colour": colour,
        "point": point,
        "box": box,
    }
    recorder.record(
        "echo",
        types={k: type(v).__qualname__ for k, v in received.items()},
        values={k: describe(v) for k, v in received.items()},
    )
    return point


@task(name="conformance.triple", registry=registry)
async def triple(amount: Decimal) -> Decimal:
    return amount * 3


@task(name="conformance.accept_any", registry=registry)
async def accept_any(value: Any, recorder: Recorder = inject()) -> None:
    recorder.record("accept_any", type=type(value).__qualname__)


async def _flaky(event: str, key: str, succeed_on: int, recorder: Recorder) -> int:
    run = recorder.runs(event, key) + 1
    recorder.record(event, key=key, run=run)
    if run < succeed_on:
        raise RuntimeError(f"{key}: run {run} fails (run {succeed_on} succeeds)")
    return run


@task(name="conformance.flaky", registry=registry)
async def flaky(key: str, succeed_on: int, recorder: Recorder = inject()) -> int:
    """Fails until its ``succeed_on``-th run (the config's retry policy)."""
    return await _flaky("flaky", key, succeed_on, recorder)


@task(name="conformance.flaky_backoff", registry=registry, retry=BACKOFF_POLICY)
async def flaky_backoff(key: str, succeed_on: int, recorder: Recorder = inject()) -> int:
    """Like :func:`flaky`, with :data:`BACKOFF_POLICY`."""
    return await _flaky("flaky_backoff", key, succeed_on, recorder)


@task(name="conformance.always_fails", registry=registry)
async def always_fails(key: str, recorder: Recorder = inject()) -> None:
    recorder.record("always_fails", key=key)
    raise RuntimeError(f"always fails: {key}")


@task(name="conformance.rejects", registry=registry, retry=RetryPolicy(max_attempts=5, base_delay=0.01))
async def rejects(key: str, recorder: Recorder = inject()) -> None:
    recorder.record("rejects", key=key)
    raise Reject(f"rejected: {key}")


@task(
    name="conformance.asks_retry",
    registry=registry,
    retry=RetryPolicy(max_attempts=3, base_delay=30.0, jitter=False),
)
async def asks_retry(key: str, delay: float, times: int, recorder: Recorder = inject()) -> int:
    """Raises ``Retry(delay)`` on its first ``times`` runs (the policy's own delay is 30 s)."""
    run = recorder.runs("asks_retry", key) + 1
    recorder.record("asks_retry", key=key, run=run)
    if run <= times:
        raise Retry(delay=delay)
    return run


@task(
    name="conformance.knows_its_job",
    registry=registry,
    retry=RetryPolicy(max_attempts=3, base_delay=30.0, jitter=False),
)
async def knows_its_job(
    key: str, retries: int, ctx: JobContext = inject(), recorder: Recorder = inject()
) -> str:
    """Records its own :class:`JobContext` (and what ``current_job()`` says), then
    raises ``Retry(delay=0.05, exc=LookupError)`` on its first ``retries`` attempts."""
    recorder.record(
        "knows_its_job",
        key=key,
        job_id=ctx.job_id,
        task_name=ctx.task_name,
        attempt=ctx.attempt,
        max_attempts=ctx.max_attempts,
        queue=ctx.queue,
        headers=dict(ctx.headers),
        eta=ctx.eta.isoformat() if ctx.eta else None,
        current_is_ctx=current_job() == ctx,
    )
    if ctx.attempt <= retries:
        try:
            raise LookupError(f"{key}: the real cause, attempt {ctx.attempt}")
        except LookupError as exc:
            raise Retry(delay=0.05, exc=exc) from exc
    return ctx.job_id


@task(name="conformance.sync_knows_its_job", registry=registry)
def sync_knows_its_job(key: str, ctx: JobContext = inject(), recorder: Recorder = inject()) -> str:
    """The sync twin: the context reaches a task run in a thread, and so does ``current_job()``."""
    current = current_job()
    recorder.record("sync_knows_its_job", key=key, attempt=ctx.attempt, headers=dict(ctx.headers),
                    current_id=current.job_id if current else None)  # fmt: skip
    return ctx.job_id


_ERRORS: dict[str, type[Exception]] = {
    "connection": ConnectionError,
    "permission": PermissionError,
    "value": ValueError,
}


@task(name="conformance.selective", registry=registry, retry=SELECTIVE_POLICY)
async def selective(key: str, error: str, recorder: Recorder = inject()) -> None:
    recorder.record("selective", key=key)
    raise _ERRORS[error](f"{error} error: {key}")


@task(name="conformance.cancels_itself", registry=registry)
async def cancels_itself(key: str, recorder: Recorder = inject()) -> None:
    """Raises ``CancelledError`` of its own, while nobody cancels the worker."""
    recorder.record("cancels_itself", key=key)
    future = asyncio.get_running_loop().create_future()
    future.cancel()
    await future


async def _slow(event: str, key: str, durations: list[float], recorder: Recorder) -> int:
    run = recorder.runs(f"{event}.start", key) + 1
    recorder.record(f"{event}.start", key=key, run=run)
    await asyncio.sleep(durations[min(run, len(durations)) - 1])
    recorder.record(f"{event}.end", key=key, run=run)
    return run


@task(name="conformance.slow", registry=registry)
async def slow(key: str, durations: list[float], recorder: Recorder = inject()) -> int:
    """Sleeps ``durations[n-1]`` seconds on its n-th run (the last value repeats)."""
    return await _slow("slow", key, durations, recorder)


@task(name="conformance.blocks_loop", registry=registry)
async def blocks_loop(key: str, release: str, recorder: Recorder = inject()) -> None:
    """Holds the worker's event loop (blocking sleeps in ``async def``) until the file
    ``release`` exists (60 s at most): no other delivery's coroutine on that loop goes
    on until then."""
    recorder.record("blocks_loop.start", key=key)
    deadline = time.monotonic() + 60
    # Blocking on purpose: that is what holds the loop.
    while not os.path.exists(release) and time.monotonic() < deadline:  # noqa: ASYNC240
        time.sleep(0.01)  # noqa: ASYNC251
    recorder.record("blocks_loop.end", key=key)


@task(name="conformance.kills_worker", registry=registry)
async def kills_worker(key: str, recorder: Recorder = inject()) -> None:
    """SIGKILLs the process running it, every time: a job that kills its worker."""
    recorder.record("kills_worker", key=key, run=recorder.runs("kills_worker", key) + 1)
    os.kill(os.getpid(), signal.SIGKILL)


@task(
    name="conformance.timed",
    registry=registry,
    timeout=TASK_TIMEOUT,
    retry=RetryPolicy(max_attempts=2, base_delay=0.01, jitter=False),
)
async def timed(key: str, durations: list[float], recorder: Recorder = inject()) -> int:
    """Like :func:`slow`, with ``@task(timeout=TASK_TIMEOUT)``."""
    return await _slow("timed", key, durations, recorder)


@task(name="conformance.needs_missing", registry=registry, max_retries=0)
async def needs_missing(key: str, missing: Unregistered = inject(), recorder: Recorder = inject()) -> None:
    recorder.record("needs_missing", key=key)


@task(name="conformance.greet", registry=registry)
async def greet(
    name: str,
    greeting: Greeting = inject(),
    formal: Annotated[Greeting, Named("formal")] = inject(),
    recorder: Recorder = inject(),
) -> str:
    recorder.record("greet", name=name, greeting=greeting.text, formal=formal.text)
    return f"{greeting.text}, {name}"


@task(name="conformance.fan_out", registry=registry)
async def fan_out(tag: str, queue: TaskQueueProtocol = inject()) -> str:
    """Enqueues ``noop(tag + "-child")`` through the injected primary queue."""
    return (await queue.enqueue(noop(f"{tag}-child"))).unwrap()


@task(name="conformance.ordered", registry=registry)
async def ordered(label: str, recorder: Recorder = inject()) -> None:
    recorder.record("ordered", label=label)


@task(name="conformance.urgent", registry=registry, priority=Priority.CRITICAL)
async def urgent(label: str, recorder: Recorder = inject()) -> None:
    recorder.record("ordered", label=label)


@task(name="conformance.on_named_queue", registry=registry, queue=NAMED_QUEUE)
async def on_named_queue(tag: str, recorder: Recorder = inject()) -> None:
    recorder.record("on_named_queue", tag=tag)


def _order_key(order_id: str, amount: int) -> str:
    return f"order-{order_id}"


@task(name="conformance.charge", registry=registry, idempotency_key=_order_key)
async def charge(order_id: str, amount: int, recorder: Recorder = inject()) -> None:
    recorder.record("charge", order_id=order_id, amount=amount)


RATE_LIMIT_PER_SECOND = 5.0
"""``@task(rate_limit="5/s")`` of :func:`rate_limited`: starts 0.2 s apart per worker process."""


@task(name="conformance.compressed", registry=registry, compression="zlib")
async def compressed(key: str, blob: str, numbers: list[int], recorder: Recorder = inject()) -> int:
    """Arguments sent zlib-compressed (the task's own option); checks they arrive whole."""
    recorder.record("compressed", key=key, size=len(blob), numbers=numbers)
    return len(blob) + sum(numbers)


@task(name="conformance.expiring", registry=registry, expires=60)
async def expiring(key: str, fail_first: float, recorder: Recorder = inject()) -> str:
    """A job expiring 60 s after enqueue (unless the call says otherwise); with
    ``fail_first`` its first attempt asks for a retry that many seconds later."""
    run = recorder.runs("expiring", key) + 1
    recorder.record("expiring", key=key, run=run)
    if fail_first and run == 1:
        raise Retry(delay=fail_first)
    return key


@task(name="conformance.rate_limited", registry=registry, rate_limit="5/s")
async def rate_limited(key: str, ctx: JobContext = inject(), recorder: Recorder = inject()) -> None:
    """Records when each attempt started (the recorder's clock) and which attempt it is."""
    recorder.record("rate_limited", key=key, attempt=ctx.attempt)


@scheduled("*/5 * * * *", name=SCHEDULE_NAME, timezone="UTC", registry=registry)
async def every_five_minutes(recorder: Recorder = inject()) -> None:
    recorder.record("every_five_minutes")


# -- soft timeouts: TaskSoftTimeoutError raised inside the task -------------------------
SOFT_TIMEOUT = 0.3
"""``@task(soft_timeout=...)`` of :func:`soft_async` and :func:`soft_sync`."""
HARD_TIMEOUT = 10.0
"""Their ``timeout``: far enough that catching the soft timeout first is the only way to finish."""


@task(name="conformance.soft_async", registry=registry, soft_timeout=SOFT_TIMEOUT, timeout=HARD_TIMEOUT)
async def soft_async(seconds: float) -> list[float]:
    """Sleeps ``seconds``; returns ``[started]``, or ``[started, caught]`` (wall clock)
    when the soft timeout interrupted the sleep and it cleaned up."""
    started = time.time()
    try:
        await asyncio.sleep(seconds)
    except TaskSoftTimeoutError:
        return [started, time.time()]
    return [started]


@task(name="conformance.soft_sync", registry=registry, soft_timeout=SOFT_TIMEOUT, timeout=HARD_TIMEOUT)
def soft_sync(seconds: float) -> list[float]:
    """:func:`soft_async` in a thread: short C calls, so the exception arrives between them."""
    started = time.time()
    try:
        while time.time() - started < seconds:
            time.sleep(0.01)
    except TaskSoftTimeoutError:
        return [started, time.time()]
    return [started]


@task(
    name="conformance.soft_uncaught",
    registry=registry,
    soft_timeout=0.1,
    timeout=HARD_TIMEOUT,
    retry=RetryPolicy(max_attempts=2, base_delay=0.01, jitter=False),
)
async def soft_uncaught(key: str, recorder: Recorder = inject()) -> None:
    """Does not catch its soft timeout: each attempt fails with it."""
    recorder.record("soft_uncaught", key=key)
    await asyncio.sleep(HARD_TIMEOUT * 2)
