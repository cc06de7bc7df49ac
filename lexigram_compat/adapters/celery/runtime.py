"""Running facade jobs inside ``celery worker``: one event loop per worker process.

The first job (or bad message) a worker process sees starts the ``TasksApp`` on
a :class:`~lexigram_compat.portal.LoopThread`; every attempt then runs
:func:`~lexigram_compat.worker.execution.execute` on that one loop, so async
clients created by tasks stay bound to one loop for the life of the process.
Pool threads (``-P threads``) block on their job's future; prefork children
each get their own loop (the runtime notices the fork by its pid).

Shutdown: a warm shutdown (SIGTERM) lets running jobs finish for
``worker.shutdown_timeout`` seconds; then the runtime puts the jobs still
running back to pending (their attempt not counted) and asks Celery for a cold
shutdown, which returns their unacknowledged messages to the broker.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import signal
import threading
from concurrent.futures import Future
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from celery import signals

from lexigram_compat.envelope import JobEnvelope
from lexigram_compat.errors import TaskNotFoundError, TaskValidationError, WorkerLostError
from lexigram_compat.portal import LoopThread
from lexigram_compat.queue import DeadLetter, JobStatus
from lexigram_compat.worker.execution import (
    Completed,
    DeadLettered,
    ExecutionContext,
    Outcome,
    RetryLater,
    execute,
    failure_of,
)

if TYPE_CHECKING:
    from lexigram_compat.adapters.celery.engine import CeleryEngine
    from lexigram_compat.app import TasksApp

__all__ = ["WorkerRuntime", "shutting_down", "warm_up"]

log = logging.getLogger("lexigram_compat.celery")

RELEASE_TIMEOUT = 5.0
"""Seconds a shutting-down worker spends returning its running jobs to pending."""

_RUNTIMES: set[WorkerRuntime] = set()
"""Runtimes that started their app in some process (checked against the pid)."""


def shutting_down(how: str) -> None:
    """Celery's ``worker_shutting_down`` signal, for every runtime of this process."""
    for runtime in list(_RUNTIMES):
        runtime.on_shutdown(how)


def warm_up(consumer: Any) -> None:
    """Celery's ``worker_ready``: start the app now rather than on the first job."""
    for runtime in list(_RUNTIMES):
        runtime.consumer = consumer
        runtime.tick_event_loop()
        if _is_prefork(consumer):
            continue  # jobs run in the children; each starts the app in its own process
        try:
            runtime._ensure()
        except Exception:
            log.exception("could not start the tasks app in this worker; retrying at the first job")


def _is_prefork(consumer: Any) -> bool:
    pool = getattr(consumer, "pool", None)
    return pool is not None and "prefork" in type(pool).__module__


def _after_fork_in_child() -> None:
    for runtime in list(_RUNTIMES):
        runtime.after_fork()


class WorkerRuntime:
    """The per-process state of a Celery worker running this app's jobs."""

    def __init__(self, app: TasksApp, engine: CeleryEngine) -> None:
        self.app = app
        self.engine = engine
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._thread: LoopThread | None = None
        self._ctx: ExecutionContext | None = None
        self._running: dict[str, Future[Any]] = {}
        self._stopping = False
        self._released = threading.Event()
        """Set before running jobs are returned to pending: no attempt acks after it."""
        self.consumer: Any = None
        """Celery's consumer in this worker process (set when the worker is ready)."""
        _RUNTIMES.add(self)

    # -- process start -------------------------------------------------------------
    def after_fork(self) -> None:
        """In a forked child (a prefork pool's process, also one replacing another):
        forget the parent's loop thread, started app and Redis connections, so the
        child starts its own at its first job instead of using the parent's (bound to
        a loop that does not run here, or to threads that do not exist here)."""
        self._lock = threading.Lock()
        self._pid = None
        self._thread = None
        self._ctx = None
        self._running = {}
        self._stopping = False
        self._released = threading.Event()
        self.engine.forget_connections()
        app = self.app
        if app.is_started:
            # The parent's started state, reset field by field: app.close() would
            # run on (and close connections of) the parent's loop.
            app._started = False
            app._loop = None
            app._executor = None

    def _ensure(self) -> tuple[LoopThread, ExecutionContext]:
        with self._lock:
            if self._pid != os.getpid() or self._thread is None or self._ctx is None:
                thread = LoopThread(name="lexigram-celery-loop")
                thread.run(self.app.start())
                self._thread, self._pid = thread, os.getpid()
                self._ctx = self.app.execution_context()
                self._running = {}
            return self._thread, self._ctx

    def tick_event_loop(self) -> None:
        """Wake Celery's event loop every ``worker.poll_interval`` seconds, so a stop
        asked by a signal is noticed then (an idle AMQP consumer can otherwise sleep
        in its poll for many seconds before it sees the signal's flag)."""
        hub = getattr(self.consumer, "hub", None)
        if hub is not None:
            hub.call_repeatedly(self.app.config.worker.poll_interval, _noop)

    # -- one attempt ----------------------------------------------------------------
    def run_attempt(
        self, task_name: str, request: Any, args: list[Any], kwargs: dict[str, Any]
    ) -> Outcome | None:
        """Run one attempt of the job ``request`` describes; None when it must not run
        (cancelled or cleared). Blocks the calling pool thread until it ends."""
        thread, ctx = self._ensure()
        job_id = str(request.id)
        queue = (getattr(request, "delivery_info", None) or {}).get(
            "routing_key"
        ) or self.engine.default_queue
        future = _submit(
            thread, self._attempt(ctx, job_id=job_id, name=task_name, queue=queue, args=args, kwargs=kwargs)
        )
        self._running[job_id] = future
        try:
            outcome: Outcome | None = future.result()
        finally:
            self._running.pop(job_id, None)
        if self._released.is_set():
            # Its record may have been put back to pending by release_running (its
            # outcome then refused by the store): acking now would lose the job. The
            # process exits in a moment and the message goes back to the broker.
            threading.Event().wait()
        return outcome

    async def _attempt(
        self,
        ctx: ExecutionContext,
        *,
        job_id: str,
        name: str,
        queue: str,
        args: list[Any],
        kwargs: dict[str, Any],
    ) -> Outcome | None:
        store = self.engine.state
        task = ctx.registry.get(name)
        policy = task.policy(ctx.default_policy) if task is not None else ctx.default_policy
        started = await store.start(job_id, name, queue, policy.max_attempts, 5)
        if not started.run:
            log.info("job %s (%s) is %s: not run", job_id, name, started.previous)
            return None
        envelope = JobEnvelope(
            job_id=job_id,
            task_name=name,
            queue=queue,
            args=args,
            kwargs=kwargs,
            attempts=started.attempts,
            max_attempts=started.max_attempts,
        )
        if started.previous == JobStatus.RUNNING.value and started.attempts > started.max_attempts:
            # Redelivered while running, with no attempt left: every attempt so far
            # ended with its worker gone (or unsettled). Running it again could kill
            # this worker too, so it is dead-lettered instead.
            lost = WorkerLostError(
                f"job {job_id} ({name}): its worker was lost during each of its "
                f"{started.max_attempts} attempt(s); not run again"
            )
            dead = DeadLettered(failure_of(lost, with_traceback=False), lost)
            await self._dead_letter(dataclasses.replace(envelope, attempts=started.max_attempts), dead)
            return dead
        outcome = await execute(ctx, envelope)
        if isinstance(outcome, Completed):
            await store.complete(job_id, outcome.result)
        elif isinstance(outcome, RetryLater):
            await store.retrying(job_id, outcome.run_at, outcome.failure.summary())
        else:
            await self._dead_letter(envelope, outcome)
        return outcome

    async def _dead_letter(
        self, envelope: JobEnvelope, outcome: DeadLettered, raw: bytes | None = None
    ) -> None:
        failure = outcome.failure
        letter = DeadLetter(
            job_id=envelope.job_id,
            task_name=envelope.task_name,
            args=list(envelope.args),
            kwargs=dict(envelope.kwargs),
            queue=envelope.queue,
            attempts=max(1, envelope.attempts),
            error_type=failure.error_type,
            error_message=failure.message,
            traceback=failure.traceback,
            failed_at=datetime.now(UTC),
            priority=envelope.priority,
            raw=raw,
        )
        await self.engine.state.failed(envelope.job_id, failure.summary())
        await self.engine.dead_letter_store.add(letter)
        await self.engine.publish_dead_letter(letter)

    # -- messages Celery could not hand to a task --------------------------------------
    def dead_letter_message(
        self,
        *,
        job_id: str,
        task_name: str | None,
        queue: str,
        args: list[Any],
        kwargs: dict[str, Any],
        problem: str,
        raw: bytes | None,
    ) -> None:
        """Dead-letter a message the consumer could not run: undecodable bytes
        (``raw``), a malformed Celery message, or an unknown task name."""
        thread, _ = self._ensure()
        if task_name is None:
            error: Exception = TaskValidationError(f"job payload could not be decoded: {problem}")
            name = "<undecodable>"
        else:
            error = TaskNotFoundError(f"no task named {task_name!r} is registered in this worker")
            name = task_name
        outcome = DeadLettered(failure_of(error, with_traceback=False), error)
        envelope = JobEnvelope(
            job_id=job_id, task_name=name, queue=queue, args=args, kwargs=kwargs, attempts=1
        )
        _submit(thread, self._dead_letter(envelope, outcome, raw if task_name is None else None)).result()

    # -- beat ----------------------------------------------------------------------------
    def fire(self, schedule_name: str, now: datetime) -> str:
        """Enqueue the fire time of ``schedule_name`` due at ``now``; return its job id."""
        from lexigram_compat.adapters.celery.beat import fire_time
        from lexigram_compat.portal import call_in_loop

        schedule = next((s for s in self.app.registry.schedules() if s.name == schedule_name), None)
        if schedule is None:
            raise TaskNotFoundError(f"no schedule named {schedule_name!r} in this app")
        fire = fire_time(schedule, now, self.app.config.scheduler.timezone)
        if self.app.is_started and self._pid != os.getpid():
            result = call_in_loop(self.app.loop, lambda: self.app.enqueue_fire_time(schedule, fire))
        else:
            thread, _ = self._ensure()
            result = thread.run(self.app.enqueue_fire_time(schedule, fire))
        return result.unwrap()

    # -- shutdown ---------------------------------------------------------------------
    def on_shutdown(self, how: str) -> None:
        """Celery's ``worker_shutting_down``: bound a warm shutdown by ``shutdown_timeout``."""
        if self._stopping:
            return
        if self._pid != os.getpid():
            if how != "Cold" and _is_prefork(self.consumer):
                # The jobs run in the children, which never see this signal: the main
                # process turns the warm shutdown cold at the deadline (SIGQUIT), which
                # terminates the children; their messages are requeued (worker lost).
                self._stopping = True
                timer = threading.Timer(self.app.config.worker.shutdown_timeout, _cold_shutdown)
                timer.daemon = True
                timer.start()
            return
        if how == "Cold":
            self.release_running()
            return
        self._stopping = True
        timer = threading.Timer(self.app.config.worker.shutdown_timeout, self._past_deadline)
        timer.daemon = True
        timer.start()

    def _past_deadline(self) -> None:
        if not self._running:
            return
        log.warning(
            "%d job(s) still running after worker.shutdown_timeout=%ss: returning them to the queue",
            len(self._running),
            self.app.config.worker.shutdown_timeout,
        )
        self.release_running()
        self._return_unacked()
        # Celery's own cold shutdown cannot stop a thread pool's running task (the
        # threads pool has no terminate_job) and then waits for it; the jobs are
        # back in the queue and pending, so the process ends here.
        logging.shutdown()
        os._exit(0)

    def _return_unacked(self) -> None:
        """Hand every delivered, unacknowledged message back to the broker now (Redis
        would otherwise wait for the visibility timeout; RabbitMQ requeues on close)."""
        consumer = self.consumer
        if consumer is None:
            return
        try:
            channel = consumer.task_consumer.channel
            restore = getattr(channel.qos, "restore_unacked", None)
            if restore is not None:
                restore()
        except Exception:
            log.exception(
                "could not return unacknowledged messages; they come back after the visibility timeout"
            )

    def release_running(self) -> None:
        """Put every job running in this process back to pending (attempt not counted)."""
        thread = self._thread
        if thread is None:
            return
        self._released.set()
        # The attempts are left running: the process is about to exit, and a pool
        # thread that returned now would ack its message, losing the job.
        for job_id in list(self._running):
            with contextlib.suppress(Exception):
                _submit(thread, self.engine.state.release(job_id)).result(timeout=RELEASE_TIMEOUT)


def _cold_shutdown() -> None:
    log.warning("jobs still running after worker.shutdown_timeout: cold shutdown, their messages requeued")
    os.kill(os.getpid(), signal.SIGQUIT)


def _noop() -> None:
    pass


def _submit(thread: LoopThread, coro: Any) -> Future[Any]:
    return asyncio.run_coroutine_threadsafe(coro, thread.loop)


def _on_shutting_down(sender: Any = None, how: str = "Warm", **_: Any) -> None:
    shutting_down(how)


def _on_ready(sender: Any = None, **_: Any) -> None:
    warm_up(sender)


signals.worker_shutting_down.connect(_on_shutting_down, weak=False)
signals.worker_ready.connect(_on_ready, weak=False)
os.register_at_fork(after_in_child=_after_fork_in_child)
