"""One real Dramatiq actor per task, and what its body does with each delivery.

The body runs in a Dramatiq worker thread and hands the delivered message
(``CurrentMessage``) to the ``AsyncIO`` middleware's event loop as one
coroutine: decode it, ``start`` it in the job ledger, apply the verdict
(:meth:`~lexigram_compat.worker.settle.Settler.begin`: a finished or cancelled
job is not run, an attempt whose worker died is settled by the poison-pill
rule), run it and settle its outcome (:meth:`~lexigram_compat.worker.settle.Settler.run`).
The policy is all in the core; :class:`DramatiqSettlement` only translates:

- success → the ledger records the result (on Redis with the ledger in the
  broker's Redis, in the ack itself); Dramatiq acks.
- retry → the ledger records it, then the same message (same id, attempts
  counted) is enqueued again with the policy's delay, and the delivery is
  acked (what Dramatiq's ``Retries`` does, with the facade's delays).
- dead letter → the ledger records it, then the message, with its failure, is
  written to Dramatiq's ``.XQ`` queue, and the delivery is acked.
- an outcome that could not be recorded at all → Dramatiq's nack (its ``.XQ``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
from collections.abc import Coroutine, Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar

import dramatiq
from dramatiq.asyncio import EventLoopThread, get_event_loop_thread
from dramatiq.middleware import CurrentMessage, Interrupt

from lexigram_compat.connection_errors import is_unavailable
from lexigram_compat.envelope import EnvelopeError, JobEnvelope
from lexigram_compat.ledger import Delivery, StartVerdict
from lexigram_compat.letters import UNDECODABLE_TASK
from lexigram_compat.outcomes import DeadLettered, FailureInfo, RetryLater, failure_of, undecodable
from lexigram_compat.queue import JobStatus
from lexigram_compat.worker.settle import Settlement

from .broker import COMPLETED_ATTRIBUTE, NACK_FAILURE_ATTRIBUTE, REQUEUE_ATTRIBUTE
from .dead_letters import DeadLetterWriter
from .messages import META_OPTION, delay_until, envelope_of, q_name, retry_message

if TYPE_CHECKING:
    from dramatiq import Broker, Message

    from lexigram_compat.adapters.redis_ledger import RedisLedger
    from lexigram_compat.engine_contract import EngineContext
    from lexigram_compat.queue import DeadLetter
    from lexigram_compat.worker.settle import Settler

    from .engine import DramatiqEngine

__all__ = ["DramatiqSettlement", "DramatiqWorker", "declare_actors"]

log = logging.getLogger("lexigram_compat.dramatiq")

T = TypeVar("T")

REDELIVERY_DELAY_MS = 1000
"""How long a delivery the worker could not start waits before it comes again."""
SCHEDULER_LOCK_RETRY = 5.0
"""Seconds between a worker's tries to take the schedules over from another (RabbitMQ
without a ledger: one scheduler at a time)."""
NACK_REASON_ATTRIBUTE = "_lexigram_nack_reason"
"""Set on a message the worker gives to Dramatiq's nack (its ``.XQ``): the reason."""


class DramatiqWorker:
    """What the actors of one app share inside a ``dramatiq`` worker process."""

    def __init__(self, engine: DramatiqEngine, context: EngineContext) -> None:
        self.engine = engine
        self.context = context
        self._settler: Settler | None = None
        self._running: dict[asyncio.Task[Any], DramatiqSettlement] = {}
        """Deliveries whose job runs now (read and written on the event loop only)."""
        self._scheduler: concurrent.futures.Future[None] | None = None
        self._stop_scheduler: asyncio.Event | None = None

    @cached_property
    def writer(self) -> DeadLetterWriter:
        return DeadLetterWriter(self.engine.native, self.engine.settings.broker)

    # -- lifecycle (called by the middleware) ------------------------------------------
    def boot(self) -> None:
        """Start the app on the worker's event loop (DI, named queues, hooks)."""
        loop_thread = _loop_thread()
        host = self.context.host
        loop_thread.run_coroutine(host.start())
        self._settler = host.settler()
        loop_thread.run_coroutine(host.worker_started())
        if self.context.config.scheduler.enabled and self.context.registry.schedules():
            self._scheduler = asyncio.run_coroutine_threadsafe(self._run_scheduler(), loop_thread.loop)

    async def _run_scheduler(self) -> None:
        """Fire ``@scheduled`` jobs from this worker (one job per fire time, however
        many workers do: the ledger's guard, or on RabbitMQ without one, a lock
        only one scheduler holds)."""
        stop = self._stop_scheduler = asyncio.Event()
        if not await self.engine.may_schedule():
            log.info("another scheduler holds this app's schedules: this worker takes over if it stops")
            while not await self.engine.may_schedule():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), SCHEDULER_LOCK_RETRY)
                if stop.is_set():
                    return
            log.info("this worker took over firing this app's schedules")
        await self.context.host.run_scheduler(stop)

    def shutdown(self) -> None:
        loop_thread = get_event_loop_thread()
        if self._scheduler is not None and loop_thread is not None:
            stop = self._stop_scheduler
            if stop is not None:
                loop_thread.loop.call_soon_threadsafe(stop.set)
            with contextlib.suppress(Exception):
                self._scheduler.result(timeout=5)
        if loop_thread is not None and self.context.host.is_started:
            try:
                loop_thread.run_coroutine(self.context.host.worker_stopped())
                loop_thread.run_coroutine(self.context.host.close())
            except Exception:
                log.exception("closing the app in the worker failed")

    def interrupt_running(self) -> None:
        """Give back the jobs still running (``worker.shutdown_timeout`` passed)."""
        loop_thread = get_event_loop_thread()
        if loop_thread is not None:
            loop_thread.loop.call_soon_threadsafe(self._interrupt)

    def _interrupt(self) -> None:
        # On the loop, so a delivery cannot start recording its outcome between the
        # check and the cancel: only a job still running is given back. A sync job
        # is not: its thread cannot be stopped, and given back it would run twice.
        running = [(task, target) for task, target in self._running.items() if not target.settling]
        sync = sum(1 for _, target in running if not target.interruptible)
        if sync:
            log.warning(
                "%d sync job(s) outlived worker.shutdown_timeout: a thread cannot be interrupted, so "
                "they run on (not given back, never run twice at once); one still running when the "
                "worker's stop timeout ends is redelivered, as after a crash",
                sync,
            )
        for task, target in running:
            if target.interruptible:
                log.warning("job %s outlived worker.shutdown_timeout: giving it back to its queue",
                            target.delivery.job_id)  # fmt: skip
                task.cancel()

    # -- one delivery ------------------------------------------------------------------
    def run_current(self) -> None:
        message = CurrentMessage.get_current_message()
        if message is None:
            raise RuntimeError("a lexigram actor ran outside a Dramatiq worker (no current message)")
        try:
            run_on_loop(_loop_thread(), self._deliver(message))
        except Exception as exc:
            if self.engine.settings.broker == "redis" and is_unavailable(exc):
                # The job ledger (this Redis) stayed unreachable through the start's
                # retries: the delivery goes back to its queue once Redis answers
                # (Dramatiq retries the ack until then). Never a dead letter: the job
                # did nothing wrong, and the same Redis could not keep one anyway.
                log.warning("job %s: the job ledger is unreachable; the delivery goes back to its "
                            "queue when Redis answers again", message.message_id)  # fmt: skip
                setattr(message, REQUEUE_ATTRIBUTE, True)
                return
            # Not the job failing (the settle step records that): the ledger or the
            # broker did before the job ran. Without Dramatiq's Retries an exception
            # here would ack the message and lose the job, so it goes back instead.
            log.exception(
                "job %s: the worker could not record this delivery; it is delivered again in %ss",
                message.message_id,
                REDELIVERY_DELAY_MS / 1000,
            )
            self._redeliver(message, exc)

    def _redeliver(self, message: Message[Any], error: BaseException) -> None:
        meta = message.options.get("lexigram") or {}
        attempts = meta.get("attempts", 0) if isinstance(meta, dict) else 0
        try:
            self.engine.native.enqueue(retry_message(message, attempts, None), delay=REDELIVERY_DELAY_MS)
        except Exception:
            log.exception("job %s: could not put it back either: dead-lettering it", message.message_id)
            _fail(message, "the worker could neither record nor put back this delivery", error)

    async def _deliver(self, message: Message[Any]) -> None:
        """Start, run and settle one delivery (on the event loop)."""
        settler = self._settler
        if settler is None:
            raise RuntimeError("the worker did not boot the app (is LexigramMiddleware on the broker?)")
        task = self.context.registry.get(message.actor_name)
        try:
            envelope = envelope_of(message, default_max_attempts=default_max_attempts(message, settler))
        except EnvelopeError as exc:
            stub = JobEnvelope(message.message_id, UNDECODABLE_TASK, q_name(message.queue_name), attempts=1)
            target = DramatiqSettlement(self, message, None, 1)
            await settler.settle(stub, undecodable(str(exc)), target, raw=bytes(message.encode()))
            return
        ledger = self.engine.ledger
        if ledger is None:  # RabbitMQ without a ledger: the message counts the attempts
            verdict = StartVerdict(True, envelope.attempts + 1, JobStatus.RUNNING)
        else:
            verdict = await settler.start(ledger, Delivery(envelope.job_id), envelope)
        target = DramatiqSettlement(self, message, ledger, verdict.attempt)
        current = await settler.begin(envelope, verdict, target)
        if current is None:
            return
        target.interruptible = task is None or task.is_async
        me = asyncio.current_task()
        assert me is not None
        self._running[me] = target
        try:
            await settler.run(current, target)
        except asyncio.CancelledError:
            if target.settling:
                raise
            me.uncancel()  # shutdown ran out of time: the attempt does not count
            if ledger is not None:
                await ledger.release(target.delivery)
            await self.engine.send(retry_message(message, envelope.attempts, None), None)
        except Exception as exc:
            # A failure outside the task body (e.g. a retry time past the largest
            # datetime): the job ran, so it is dead-lettered, not run again.
            log.exception("job %s could not be handled; dead-lettering it", envelope.job_id)
            try:
                await settler.settle(current, DeadLettered(failure_of(exc), exc), target)
            except Exception:
                target.unsettled("dead-letter it", exc)
        finally:
            self._running.pop(me, None)


class DramatiqSettlement(Settlement):
    """How one Dramatiq delivery's outcome is recorded (see the module docstring)."""

    def __init__(
        self, worker: DramatiqWorker, message: Message[Any], ledger: RedisLedger | None, attempt: int
    ) -> None:
        self.worker = worker
        self.message = message
        self.ledger = ledger
        self.delivery = Delivery(message.message_id)
        self.attempt = attempt
        self.interruptible = False
        """An ``async def`` job: cancelled and given back when the shutdown timeout passes."""
        self.settling = False
        """Its outcome is being recorded: past the point where it could be given back."""
        self._done: set[str] = set()

    async def complete(self, result: Any) -> bool:
        self.settling = True
        if self.worker.engine.completes_on_ack:
            # Recorded by the ack, in the same Redis call (one round trip less).
            setattr(self.message, COMPLETED_ATTRIBUTE, (result,))
            return True
        return self.ledger is None or await self.ledger.complete(self.delivery, result)

    async def retry(self, outcome: RetryLater) -> bool:
        self.settling = True
        # The record first: the next delivery may start before the enqueue returns.
        if "recorded" not in self._done:
            if self.ledger is not None and not await self.ledger.retry(
                self.delivery, outcome.run_at, outcome.failure
            ):
                return False
            self._done.add("recorded")
        again = retry_message(self.message, self.attempt, outcome.run_at)
        await self.worker.engine.send(again, delay_until(outcome.run_at))
        return True

    async def dead_letter(self, letter: DeadLetter, failure: FailureInfo) -> bool:
        self.settling = True
        # The record first, as for a retry: of two deliveries of one job (a
        # redelivered message and its retry), only the one the ledger accepts
        # keeps a letter.
        if "recorded" not in self._done:
            if self.ledger is not None and not await self.ledger.dead_letter(self.delivery, failure):
                return False
            self._done.add("recorded")
        writer = self.worker.writer
        await self.worker.engine.blocking(lambda: writer.write(self.message, letter, failure))
        return True

    def unsettled(self, step: str, error: BaseException) -> None:
        _fail(self.message, f"the worker could not {step}: {type(error).__name__}: {error}", error)


def run_on_loop(loop_thread: EventLoopThread, coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` on the ``AsyncIO`` middleware's loop from this worker thread and
    wait for it: what ``EventLoopThread.run_coroutine`` does, with one task and one
    lock, released by the task itself as it ends, instead of a ``threading.Event``, a
    chained ``concurrent.futures.Future`` (two condition variables) and a done
    callback per job: the hop from Dramatiq's thread to the loop and back is paid by
    every job.

    An ``Interrupt`` Dramatiq raises into this thread (its ``TimeLimit`` or shutdown
    notifications, when an app adds them) cancels the task and waits up to a second
    for it to end, as Dramatiq's own does."""
    loop = loop_thread.loop
    if not loop.is_running():
        raise RuntimeError("Event loop is not running.")
    done = threading.Lock()
    done.acquire()
    ended: list[Any] = []  # [result] or [None, error]
    started: list[asyncio.Task[None]] = []

    async def hop() -> None:
        try:
            ended.append(await coro)
        except BaseException as exc:  # handed to the waiting thread, raised there
            ended.extend((None, exc))
        finally:
            done.release()

    def cancel() -> None:  # on the loop, after the task's creation if it was scheduled
        if started:
            started[0].cancel()
        else:  # the interrupt came before the task was scheduled: it never runs
            coro.close()
            done.release()

    try:
        # Inside the try: an interrupt can arrive between any two bytecodes, even
        # right after the task was scheduled (and has started on the loop).
        loop.call_soon_threadsafe(lambda: started.append(loop.create_task(hop())))
        while not done.acquire(timeout=loop_thread.interrupt_check_ival):
            pass
    except Interrupt:
        loop.call_soon_threadsafe(cancel)
        if not done.acquire(timeout=1.0):
            raise RuntimeError("Timed out while waiting for coroutine.") from None
        raise
    if len(ended) == 2:
        error: BaseException = ended[1]
        ended.clear()  # no cycle through the traceback's frames
        raise error
    result: T = ended[0]
    return result


def default_max_attempts(message: Message[Any], settler: Settler) -> int:
    """The attempt budget of a message that carries none (sent by plain Dramatiq code):
    its task's. Looked up only for such a message (most carry theirs)."""
    meta = message.options.get(META_OPTION)
    if isinstance(meta, dict) and "max_attempts" in meta:
        return 1  # unused: the message's own budget wins
    return settler.max_attempts_of(message.actor_name)


def _loop_thread() -> EventLoopThread:
    loop_thread = get_event_loop_thread()
    if loop_thread is None:
        raise RuntimeError("the AsyncIO middleware is missing from the broker")
    return loop_thread


def _fail(message: Any, reason: str, error: BaseException) -> None:
    """Hand the message to Dramatiq's nack (its ``.XQ``): kept, not lost, not run. On
    Redis the nack stores the failure with it, so its dead letter says this reason."""
    setattr(message, NACK_REASON_ATTRIBUTE, reason)
    error_type = failure_of(error, with_traceback=False).error_type
    setattr(message, NACK_FAILURE_ATTRIBUTE, FailureInfo(error_type, reason))
    message.fail()


def declare_actors(worker: DramatiqWorker, broker: Broker, queues: Mapping[str, str]) -> None:
    """Declare one actor per task name in ``queues`` (task name → physical queue)."""
    for name, queue in queues.items():
        if name in broker.actors:
            continue

        def body(*args: Any, **kwargs: Any) -> None:
            worker.run_current()

        body.__name__ = body.__qualname__ = name.replace(".", "_")
        dramatiq.Actor(body, broker=broker, actor_name=name, queue_name=queue, priority=0, options={})
