"""One attempt of one job, engine-neutral.

Every engine's worker (ours, ``dramatiq``, ``celery worker``) calls
:func:`execute` and translates the :class:`Outcome` into its own ack, retry
or dead-letter. Decoding, DI, timeouts and the retry decision live here once.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from collections.abc import Awaitable, Coroutine, Generator
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import timedelta
from types import CoroutineType
from typing import TYPE_CHECKING, Any

from lexigram_compat.di.injection import resolve_missing
from lexigram_compat.envelope import JobEnvelope, utcnow
from lexigram_compat.errors import TaskNotFoundError, TaskTimeoutError, TaskValidationError
from lexigram_compat.job_context import enter, job_context_of, leave
from lexigram_compat.outcomes import (
    Completed,
    DeadLettered,
    Outcome,
    RetryLater,
    failure_of,
    undecodable,
)
from lexigram_compat.retry import Reject, Retry, RetryPolicy, cause_of
from lexigram_compat.worker.soft_timeout import SoftDeadline, ThreadDeadline

if TYPE_CHECKING:
    from lexigram_compat.di.container import Resolver
    from lexigram_compat.registry import TaskRegistry

__all__ = [
    "Completed",
    "DeadLettered",
    "ExecutionContext",
    "Outcome",
    "RetryLater",
    "execute",
    "failure_of",
    "policy_for",
    "undecodable",
]

log = logging.getLogger("lexigram_compat.worker")


@dataclass
class ExecutionContext:
    """What executing a job needs from the app."""

    registry: TaskRegistry
    resolver: Resolver | None
    default_policy: RetryPolicy
    default_timeout: float
    executor: Executor | None = None


class _DeadlineExceeded(Exception):
    """The attempt's own deadline passed (not a TimeoutError raised by the task)."""


async def _call(
    ctx: ExecutionContext, task: Any, args: list[Any], kwargs: dict[str, Any], timeout: float
) -> Any:
    soft = _soft_timeout(task, timeout)
    if task.is_async:
        due = asyncio.get_running_loop().time() + timeout
        coro = task.fn(*args, **kwargs)
        awaitable: Awaitable[Any] = coro
        if soft is not None:
            awaitable = SoftDeadline(coro, soft)
        elif type(coro) is CoroutineType:
            # Many jobs finish without waiting for anything: their first step runs
            # before the deadline's timer is armed (arming and disarming it costs
            # more than such a job's whole run). One that waits goes on under it,
            # due from its start all the same.
            try:
                yielded = coro.send(None)
            except StopIteration as finished:
                return finished.value
            awaitable = _Resumed(coro, yielded)
        deadline = asyncio.timeout_at(due)
        try:
            async with deadline:
                return await awaitable
        except TimeoutError as exc:
            if deadline.expired():
                raise _DeadlineExceeded from exc
            raise
    # A sync task runs in a thread. Threads cannot be killed: on timeout the
    # attempt is failed at once, but the thread runs on to its end and its
    # result is discarded (documented limit).
    loop = asyncio.get_running_loop()
    started = asyncio.Event()
    context = contextvars.copy_context()
    interrupt = ThreadDeadline() if soft is not None else None

    def run() -> Any:
        loop.call_soon_threadsafe(started.set)
        if interrupt is not None:
            return context.run(interrupt.run, task.fn, *args, **kwargs)
        return context.run(task.fn, *args, **kwargs)

    future = loop.run_in_executor(ctx.executor, run)
    # The timeout bounds the run, not the wait for a free thread: a job queued
    # behind busy threads must not time out (and be retried) before it starts.
    waiting = asyncio.ensure_future(started.wait())
    try:
        await asyncio.wait([waiting, future], return_when=asyncio.FIRST_COMPLETED)
    except BaseException:
        future.cancel()  # not started yet: it never will be (no run after a release)
        raise
    finally:
        waiting.cancel()
    timer = None if soft is None or interrupt is None else loop.call_later(soft, interrupt.fire)
    deadline = asyncio.timeout(timeout)
    try:
        async with deadline:
            return await asyncio.shield(future)
    except TimeoutError as exc:
        if deadline.expired():
            raise _DeadlineExceeded from exc
        raise
    finally:
        if timer is not None:
            timer.cancel()


class _Resumed:
    """``await _Resumed(coro, yielded)``: the rest of ``coro``, whose first step (run
    by the caller) yielded ``yielded``; every value and exception passes through as
    ``await coro`` would have passed it."""

    __slots__ = ("_coro", "_yielded")

    def __init__(self, coro: Coroutine[Any, Any, Any], yielded: Any) -> None:
        self._coro = coro
        self._yielded = yielded

    def __await__(self) -> Generator[Any, Any, Any]:
        coro, yielded = self._coro, self._yielded
        while True:
            try:
                sent = yield yielded
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as exc:  # thrown in by the task (a cancellation): passed on
                try:
                    yielded = coro.throw(exc)
                except StopIteration as finished:
                    return finished.value
            else:
                try:
                    yielded = coro.send(sent)
                except StopIteration as finished:
                    return finished.value


def _soft_timeout(task: Any, timeout: float) -> float | None:
    """The task's soft timeout, when it comes before the attempt's ``timeout`` (one at
    or past it would never fire: the attempt has failed by then)."""
    soft: float | None = getattr(task, "soft_timeout", None)
    return soft if soft is not None and soft < timeout else None


def policy_for(
    registry: TaskRegistry, default_policy: RetryPolicy, envelope: JobEnvelope, task: Any = None
) -> RetryPolicy:
    """The retry policy of ``envelope``'s job: its task's (or the default), with the
    attempt budget the job carries (fixed when it was enqueued)."""
    task = task if task is not None else registry.get(envelope.task_name)
    policy: RetryPolicy = task.policy(default_policy) if task is not None else default_policy
    if envelope.max_attempts != policy.max_attempts:
        policy = policy.with_max_attempts(max(1, envelope.max_attempts))
    return policy


async def execute(ctx: ExecutionContext, envelope: JobEnvelope) -> Outcome:
    """Run one attempt of ``envelope`` (whose ``attempts`` counts this one)."""
    task = ctx.registry.get(envelope.task_name)
    if task is None:
        error = TaskNotFoundError(f"no task named {envelope.task_name!r} is registered in this worker")
        return DeadLettered(failure_of(error, with_traceback=False), error)
    policy = policy_for(ctx.registry, ctx.default_policy, envelope, task)
    try:
        args, kwargs, supplied = task.params.decode(task.name, envelope.args, envelope.kwargs)
    except TaskValidationError as error:
        # The same arguments would fail every time: no retry.
        return DeadLettered(failure_of(error, with_traceback=False), error)
    timeout = envelope.timeout or task.timeout or ctx.default_timeout
    started = time.perf_counter()
    token = enter(envelope)  # current_job(); a sync task's thread copies this context
    try:
        if len(supplied) < len(task.params.parameters):  # else every parameter came with the job
            job = job_context_of(envelope)
            kwargs = {**(await resolve_missing(task, supplied, ctx.resolver, job)), **kwargs}
        value = await _call(ctx, task, args, kwargs, timeout)
    except asyncio.CancelledError as exc:
        current = asyncio.current_task()
        if current is None or current.cancelling():
            raise  # the worker is stopping: the attempt does not count
        # The task raised CancelledError itself (nobody cancelled this worker's
        # task): a failed attempt, or the job would run again forever, uncounted.
        return _failed(envelope, policy, exc, time.perf_counter() - started)
    except _DeadlineExceeded as exc:
        timed_out = TaskTimeoutError(
            f"{task.name} attempt {envelope.attempts} ran past its timeout of {timeout:g}s"
        )
        timed_out.__cause__ = exc.__cause__
        return _failed(envelope, policy, timed_out, time.perf_counter() - started)
    except Exception as exc:
        return _failed(envelope, policy, exc, time.perf_counter() - started)
    finally:
        leave(token)
    return Completed(task.params.encode_result(value), time.perf_counter() - started)


def _failed(envelope: JobEnvelope, policy: RetryPolicy, error: BaseException, duration: float) -> Outcome:
    attempt = envelope.attempts
    if isinstance(error, Retry):
        if error.max_attempts is not None:
            policy = policy.with_max_attempts(error.max_attempts)
        # The real cause (Retry(exc=e)), for the retry's log line and the dead letter.
        failure = failure_of(cause_of(error))
    else:
        failure = failure_of(error)
    if isinstance(error, Reject) or not policy.should_retry(attempt, error):
        return DeadLettered(failure, error, duration)
    delay = error.delay if isinstance(error, Retry) and error.delay is not None else policy.delay_for(attempt)
    return RetryLater(utcnow() + timedelta(seconds=delay), delay, failure, error, duration)
