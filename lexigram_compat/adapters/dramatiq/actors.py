"""One real Dramatiq actor per task, and what its body does with each delivery.

The body runs in a Dramatiq worker thread. It reads the delivered message
(``CurrentMessage``), records the start in the job state (a cancelled job is
acked without running), runs :func:`~lexigram_compat.worker.execution.execute`
on the ``AsyncIO`` middleware's event loop, and translates the outcome:

- ``Completed`` → the state records the result; Dramatiq acks.
- ``RetryLater`` → the same message (same id, attempts counted) is enqueued
  again with the policy's delay, then the delivery is acked (what Dramatiq's
  ``Retries`` does, with the facade's delays instead of its own).
- ``DeadLettered`` → the message, with its failure, is written to Dramatiq's
  ``.XQ`` queue, then the delivery is acked.

The policy (attempt counting, delays, ``retry_on``/``abort_on``, timeouts, DI,
argument validation) is all in ``execute``; nothing here decides it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import dramatiq
from dramatiq.asyncio import get_event_loop_thread
from dramatiq.middleware import CurrentMessage
from dramatiq.threading import Interrupt

from lexigram_compat.envelope import EnvelopeError, JobEnvelope
from lexigram_compat.worker.execution import Completed, DeadLettered, RetryLater, execute, undecodable

from .broker import COMPLETED_ATTRIBUTE
from .messages import delay_ms, envelope_of, retry_message

if TYPE_CHECKING:
    from dramatiq import Broker, Message

    from lexigram_compat.app import TasksApp
    from lexigram_compat.worker.execution import ExecutionContext

    from .dead_letters import DeadLetterWriter
    from .engine import DramatiqEngine

__all__ = ["ShutdownTimeout", "WorkerRuntime", "declare_actors"]

log = logging.getLogger("lexigram_compat.dramatiq")

REDELIVERY_DELAY_MS = 1000
"""How long a delivery the worker could not record waits before it comes again."""
RECORD_TRIES = 5
RECORD_BACKOFF = 0.2
"""Seconds before the second try of a recording step, doubled for each next one."""
SCHEDULER_LOCK_RETRY = 5.0
"""Seconds between a worker's tries to take the schedules over from another (RabbitMQ
without a state store: one scheduler at a time)."""
NACK_REASON_ATTRIBUTE = "_lexigram_nack_reason"
"""Set on a message the worker gives to Dramatiq's nack (its ``.XQ``): the reason."""


class ShutdownTimeout(Interrupt):
    """Raised in a worker thread whose job outlived ``worker.shutdown_timeout``."""


class WorkerRuntime:
    """What the actors of one app share inside a ``dramatiq`` worker process."""

    def __init__(self, engine: DramatiqEngine, app: TasksApp) -> None:
        self.engine = engine
        self.app = app
        self._context: ExecutionContext | None = None
        self._executing: set[int] = set()
        """Worker threads running an ``async def`` job (interruptible at shutdown)."""
        self._running_sync = 0
        self._lock = threading.Lock()
        self._scheduler: concurrent.futures.Future[None] | None = None
        self._stop_scheduler: asyncio.Event | None = None

    @property
    def broker(self) -> Broker:
        return self.engine.native

    @property
    def dead_letters(self) -> DeadLetterWriter:
        return self.engine.dead_letter_writer

    # -- lifecycle (called by the middleware) ------------------------------------------
    def boot(self) -> None:
        """Start the app on the worker's event loop (DI, named queues, hooks)."""
        loop_thread = get_event_loop_thread()
        if loop_thread is None:
            raise RuntimeError("the AsyncIO middleware is missing from the broker")
        loop_thread.run_coroutine(self.app.start())
        self._context = self.app.execution_context()
        config = self.app.config.scheduler
        if config.enabled and self.app.registry.schedules():
            self._scheduler = asyncio.run_coroutine_threadsafe(self._run_scheduler(), loop_thread.loop)

    async def _run_scheduler(self) -> None:
        """Fire ``@scheduled`` jobs from this worker (one job per fire time, however
        many workers do: the state store's guard, or on RabbitMQ without one, a
        lock only one scheduler holds)."""
        stop = self._stop_scheduler = asyncio.Event()
        if not await self.engine.may_schedule():
            log.info("another scheduler holds this app's schedules: this worker takes over if it stops")
            while not await self.engine.may_schedule():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), SCHEDULER_LOCK_RETRY)
                if stop.is_set():
                    return
            log.info("this worker took over firing this app's schedules")
        await self.app.make_scheduler().run(stop)

    def shutdown(self) -> None:
        loop_thread = get_event_loop_thread()
        if self._scheduler is not None and loop_thread is not None:
            stop = self._stop_scheduler
            if stop is not None:
                loop_thread.loop.call_soon_threadsafe(stop.set)
            with contextlib.suppress(Exception):
                self._scheduler.result(timeout=5)
        if loop_thread is not None and self.app.is_started:
            try:
                loop_thread.run_coroutine(self.app.close())
            except Exception:
                log.exception("closing the app in the worker failed")

    def interrupt_running(self) -> None:
        """Give back the jobs still running (``worker.shutdown_timeout`` passed)."""
        from dramatiq.threading import raise_thread_exception

        with self._lock:
            running = list(self._executing)
            sync = self._running_sync
        if sync:
            log.warning(
                "%d sync job(s) outlived worker.shutdown_timeout: a thread cannot be interrupted, so "
                "they run on (not given back, never run twice at once); one still running when the "
                "worker's stop timeout ends is redelivered, as after a crash",
                sync,
            )
        for ident in running:
            log.warning("a job outlived worker.shutdown_timeout: giving it back to its queue")
            raise_thread_exception(ident, ShutdownTimeout)  # type: ignore[no-untyped-call]

    # -- one delivery ------------------------------------------------------------------
    def run_current(self) -> None:
        message = CurrentMessage.get_current_message()
        if message is None:
            raise RuntimeError("a lexigram actor ran outside a Dramatiq worker (no current message)")
        try:
            self._deliver(message)
        except Exception:
            # Not the job failing (execute() turns that into an outcome): the state
            # store or the broker did before the job ran (recording an attempt that
            # ran never raises). Without Dramatiq's Retries an exception here would
            # ack the message and lose the job, so it goes back instead.
            log.exception(
                "job %s: the worker could not record this delivery; it is delivered again in %ss",
                message.message_id,
                REDELIVERY_DELAY_MS / 1000,
            )
            self._redeliver(message)

    def _redeliver(self, message: Any) -> None:
        meta = message.options.get("lexigram") or {}
        attempts = meta.get("attempts", 0) if isinstance(meta, dict) else 0
        try:
            self.broker.enqueue(retry_message(message, attempts, None), delay=REDELIVERY_DELAY_MS)
        except Exception:
            log.exception("job %s: could not put it back either: dead-lettering it", message.message_id)
            _fail(message, "the worker could neither record nor put back this delivery")

    def _deliver(self, message: Message[Any]) -> None:
        task = self.app.registry.get(message.actor_name)
        default_max = task.policy(self.app.default_policy).max_attempts if task else 1
        try:
            envelope = envelope_of(message, default_max_attempts=default_max)
        except EnvelopeError as exc:
            self.dead_letters.write(message, undecodable(str(exc)).failure, 1)
            return
        state = self.engine.sync_state
        if state is not None:
            verdict = state.run(state.keys.start(envelope))
            if not verdict.run:
                log.info("job %s is %s: not run again", envelope.job_id, verdict.status.value)
                return
            attempt = verdict.attempt
        else:
            attempt = envelope.attempts + 1
        current = replace(envelope, attempts=attempt)
        self.app.events.started(current)
        try:
            outcome = self._execute(current, interruptible=task is None or task.is_async)
        except ShutdownTimeout:
            self._give_back(message, envelope)
            return
        self._translate(message, current, outcome)

    def _execute(
        self, envelope: JobEnvelope, *, interruptible: bool
    ) -> Completed | RetryLater | DeadLettered:
        """Run ``execute``. Only an ``async def`` job is interruptible: interrupting
        a sync one would cancel the coroutine waiting for its thread while the
        thread runs on, and giving the job back would run it twice at once."""
        loop_thread = get_event_loop_thread()
        if loop_thread is None or self._context is None:
            raise RuntimeError("the worker did not boot the app (is LexigramMiddleware on the broker?)")
        ident = threading.get_ident()
        with self._lock:
            if interruptible:
                self._executing.add(ident)
            else:
                self._running_sync += 1
        try:
            return loop_thread.run_coroutine(execute(self._context, envelope))
        finally:
            with self._lock:
                if interruptible:
                    self._executing.discard(ident)
                else:
                    self._running_sync -= 1

    def _give_back(self, message: Message[Any], envelope: JobEnvelope) -> None:
        """Put the job back on its queue, this attempt not counted (shutdown)."""
        state = self.engine.sync_state
        if state is not None:
            state.run(state.keys.release(envelope.job_id))
        self.broker.enqueue(retry_message(message, envelope.attempts, None))

    def _translate(
        self, message: Message[Any], envelope: JobEnvelope, outcome: Completed | RetryLater | DeadLettered
    ) -> None:
        """Record an attempt that ran. Each step is retried on its own (a step that
        did its work is never done twice) and never raises: the job is not run
        again because its outcome could not be written."""
        state = self.engine.sync_state
        job_id = envelope.job_id
        if isinstance(outcome, Completed):
            if self.engine.completes_on_ack:
                # Recorded by the ack, in the same Redis call (one round trip less).
                setattr(message, COMPLETED_ATTRIBUTE, (outcome.result,))
            elif state is not None:
                self._record(
                    job_id,
                    "record its success",
                    lambda: state.run(state.keys.complete(job_id, outcome.result)),
                )
            self.app.events.succeeded(envelope, outcome.duration)
        elif isinstance(outcome, RetryLater):
            summary = outcome.failure.summary()
            # The state first: the next delivery may start before enqueue returns.
            if state is not None:
                self._record(
                    job_id,
                    "record its retry",
                    lambda: state.run(state.keys.retry(job_id, outcome.run_at, summary)),
                )
            again = retry_message(message, envelope.attempts, outcome.run_at)
            delay = delay_ms(replace(envelope, run_at=outcome.run_at))
            if not self._record(job_id, "enqueue its retry", lambda: self.broker.enqueue(again, delay=delay)):
                _fail(message, f"its retry could not be enqueued after: {summary}")
            self.app.events.retried(envelope, outcome.delay, summary)
        else:
            summary = outcome.failure.summary()
            failure = outcome.failure
            written = self._record(
                job_id, "dead-letter it", lambda: self.dead_letters.write(message, failure, envelope.attempts)
            )
            if not written:
                _fail(message, summary)  # Dramatiq's own nack into .XQ
            if state is not None:
                self._record(
                    job_id, "record its failure", lambda: state.run(state.keys.fail(job_id, summary))
                )
            self.app.events.dead_lettered(envelope, summary)

    def _record(self, job_id: str, what: str, step: Callable[[], object]) -> bool:
        """Run one recording step, retried with backoff; False once every try failed."""
        pause = RECORD_BACKOFF
        for tries in range(1, RECORD_TRIES + 1):
            try:
                step()
                return True
            except Exception:
                if tries == RECORD_TRIES:
                    log.exception(
                        "job %s ran, but the worker could not %s (%d tries); it is not run again",
                        job_id,
                        what,
                        tries,
                    )
                    return False
                log.warning("job %s: could not %s; trying again in %gs", job_id, what, pause, exc_info=True)
                time.sleep(pause)
                pause *= 2
        return False


def _fail(message: Any, reason: str) -> None:
    """Hand the message to Dramatiq's nack (its ``.XQ``): kept, not lost, not run."""
    setattr(message, NACK_REASON_ATTRIBUTE, reason)
    message.fail()


def declare_actors(runtime: WorkerRuntime, broker: Broker, queues: dict[str, str]) -> None:
    """Declare one actor per task name in ``queues`` (task name → physical queue)."""
    for name, queue in queues.items():
        if name in broker.actors:
            continue

        def body(*args: Any, **kwargs: Any) -> None:
            runtime.run_current()

        body.__name__ = body.__qualname__ = name.replace(".", "_")
        dramatiq.Actor(body, broker=broker, actor_name=name, queue_name=queue, priority=0, options={})
