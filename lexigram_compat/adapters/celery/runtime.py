"""Running facade jobs inside ``celery worker``: one event loop per worker process.

The first job (or bad message) a worker process sees starts the app (through
its :class:`~lexigram_compat.engine_contract.WorkerHost`) on a
:class:`~lexigram_compat.portal.LoopThread`; every attempt then runs on that
one loop, so async clients created by tasks stay bound to one loop for the life
of the process. Pool threads (``-P threads``) block on their job's future;
prefork children each get their own loop (the worker notices the fork by its pid).

An attempt is the ledger's ``start``, then the core's settle step
(:class:`~lexigram_compat.worker.settle.Settler`: run, record, retry delay,
dead letter, the poison-pill rule for a job found still running, job events and
their log lines); :class:`CelerySettlement` only says how this engine records
an outcome and hands a retry back to Celery. On a Redis broker holding the
ledger, a worker whose pool acks on the thread that ran the job (``threads``,
``solo``) records a success with the message's ack, in one Redis call
(:mod:`.acking`), and starts an attempt with the record of its delivery
(:mod:`.prestart`); a ``prefork`` child does both itself.

Shutdown: a warm shutdown (SIGTERM) lets running jobs finish for
``worker.shutdown_timeout`` seconds; then the worker puts the jobs still
running back to pending (their attempt not counted) and asks Celery for a cold
shutdown, which returns their unacknowledged messages to the broker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import threading
from concurrent.futures import Future
from datetime import datetime
from typing import TYPE_CHECKING, Any

from celery import signals
from celery.worker import state as worker_state

from lexigram_compat.adapters.celery import acking, prestart
from lexigram_compat.adapters.celery.first_start import FirstAnswer, FirstStart
from lexigram_compat.adapters.celery.guarded_redis import QoS as LedgerAckingQoS
from lexigram_compat.adapters.celery.redis_wire import request_eta, request_expires_at, request_headers
from lexigram_compat.adapters.celery.settlement import CelerySettlement
from lexigram_compat.adapters.celery.tasks import FacadeTask
from lexigram_compat.adapters.redis_ledger import StateCall
from lexigram_compat.envelope import JobEnvelope
from lexigram_compat.errors import TaskNotFoundError
from lexigram_compat.ledger import Delivery
from lexigram_compat.letters import UNDECODABLE_TASK
from lexigram_compat.outcomes import DeadLettered, failure_of, undecodable
from lexigram_compat.portal import LoopThread, call_in_loop
from lexigram_compat.tracing import trace_of

if TYPE_CHECKING:
    from collections.abc import Callable

    from lexigram_compat.adapters.celery.engine import CeleryEngine
    from lexigram_compat.adapters.celery.reconciler import MessageReconciler
    from lexigram_compat.adapters.redis_effects import RedisAck, RedisReserve
    from lexigram_compat.engine_contract import EngineContext
    from lexigram_compat.ledger import StartVerdict
    from lexigram_compat.worker.settle import Settler

__all__ = ["CelerySettlement", "CeleryWorker", "shutting_down", "warm_up"]

log = logging.getLogger("lexigram_compat.celery")

RELEASE_TIMEOUT = 5.0
"""Seconds a shutting-down worker spends returning its running jobs to pending."""

_WORKERS: set[CeleryWorker] = set()
"""Workers that started their app in some process (checked against the pid)."""


def shutting_down(how: str) -> None:
    """Celery's ``worker_shutting_down`` signal, for every worker of this process."""
    for worker in list(_WORKERS):
        worker.on_shutdown(how)


def warm_up(consumer: Any) -> None:
    """Celery's ``worker_ready``: start the app now rather than on the first job."""
    for worker in list(_WORKERS):
        worker.consumer = consumer
        worker.note_acks(consumer)
        worker.tick_event_loop()
        worker.start_reconciler()
        if _is_prefork(consumer):
            continue  # jobs run in the children; each starts the app in its own process
        try:
            worker._ensure()
        except Exception:
            log.exception("could not start the tasks app in this worker; retrying at the first job")


def _is_prefork(consumer: Any) -> bool:
    pool = getattr(consumer, "pool", None)
    return pool is not None and "prefork" in type(pool).__module__


def _acks_through_ledger(consumer: Any) -> bool:
    """Celery acks ``consumer``'s task messages through :class:`~.guarded_redis.QoS`
    (kombu's Redis ack emulation, on the engine's guarded Redis transport)."""
    channel = getattr(getattr(consumer, "task_consumer", None), "channel", None)
    return isinstance(getattr(channel, "qos", None), LedgerAckingQoS)


def _after_fork_in_child() -> None:
    for worker in list(_WORKERS):
        worker.after_fork()


STOP_HOOKS_TIMEOUT = 10.0
"""Seconds a stopping Celery worker process waits for its ``worker_stopped`` hooks."""


class CeleryWorker:
    """The per-process state of a Celery worker running this app's jobs."""

    def __init__(self, context: EngineContext, engine: CeleryEngine) -> None:
        self.context = context
        self.host = context.host
        self.engine = engine
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._thread: LoopThread | None = None
        self._settler: Settler | None = None
        self._running: dict[str, Future[Any]] = {}
        self._stopping = False
        self._said_stopped = False
        self._released = threading.Event()
        """Set before running jobs are returned to pending: no attempt acks after it."""
        self.consumer: Any = None
        """Celery's consumer in this worker process (set when the worker is ready)."""
        self._ack_pid: int | None = None
        """The process whose pool threads record a success with its ack (:mod:`.acking`)."""
        self._blocking = engine.blocking_ledger
        self._start_here = engine.backend.type == "redis"
        """Starts made on the pool thread (first_start.py): on RabbitMQ a thread pool's
        jobs arrive together and their starts share round trips on the loop instead."""
        self._reconciler: MessageReconciler | None = None
        _WORKERS.add(self)

    # -- process start -------------------------------------------------------------
    def after_fork(self) -> None:
        """In a forked child (a prefork pool's process, also one replacing another):
        forget the parent's loop thread, started app and Redis connections, so the
        child starts its own at its first job instead of using the parent's (bound to
        a loop that does not run here, or to threads that do not exist here)."""
        self._lock = threading.Lock()
        self._pid = None
        self._thread = None
        self._settler = None
        self._running = {}
        self._stopping = False
        self._released = threading.Event()
        self._ack_pid = None
        acking.forget_all()
        prestart.forget_all()
        self._start_here = True  # a prefork child: one job at a time, nothing to share
        self.engine.forget_connections()
        if self.host.is_started:
            self.host.reset_after_fork()  # not close(): it would run on the parent's loop

    def _ensure(self) -> tuple[LoopThread, Settler]:
        with self._lock:
            if self._pid != os.getpid() or self._thread is None or self._settler is None:
                thread = LoopThread(name="lexigram-celery-loop")
                thread.run(self.host.start())
                self._thread, self._pid = thread, os.getpid()
                self._settler = self.host.settler()
                self._running = {}
                self._said_stopped = False
                thread.run(self.host.worker_started())
            return self._thread, self._settler

    def stopped(self) -> None:
        """This process stops (Celery's ``worker_process_shutdown`` in a pool child,
        ``worker_shutdown`` in the main process): the ``worker_stopped`` hooks, when
        the app ran jobs here."""
        thread = self._thread
        if thread is None or self._pid != os.getpid() or not self.host.is_started or self._said_stopped:
            return
        self._said_stopped = True
        try:
            _submit(thread, self.host.worker_stopped()).result(timeout=STOP_HOOKS_TIMEOUT)
        except Exception:
            log.exception("the worker_stopped hooks did not finish")

    def note_acks(self, consumer: Any) -> None:
        """Celery's consumer is ready in this process: when its pool acks a message on
        the thread that ran it (not ``prefork``) through the ledger-aware Redis QoS, and
        the ledger is in the broker's Redis, successes are recorded with their acks."""
        if self.engine.ledger_in_broker and not _is_prefork(consumer) and _acks_through_ledger(consumer):
            self._ack_pid = os.getpid()
            if self.engine.native.conf.worker_prefetch_multiplier == 1:
                prestart.enable(self._delivery_start)  # no started message waits for a thread

    def _delivery_start(self, message: Any) -> tuple[str, Callable[[RedisReserve], StartVerdict]] | None:
        """The start of ``message``'s attempt with its delivery's record (:mod:`.prestart`),
        for a message Celery hands to a pool thread at once; None for any other."""
        headers = getattr(message, "headers", None)
        if not isinstance(headers, dict) or headers.get("eta") is not None:
            return None  # not a task message of protocol 2, or held by Celery until its eta
        job_id, name = headers.get("id"), headers.get("task")
        settler = self._settler
        if not isinstance(job_id, str) or not isinstance(name, str) or settler is None or self._stopping:
            return None
        task = self.engine.native.tasks.get(name)
        if not isinstance(task, FacadeTask) or job_id in worker_state.revoked:
            return None
        if task.rate_limit and not self.engine.native.conf.worker_disable_rate_limits:
            return None  # held in Celery's token bucket
        queue = (getattr(message, "delivery_info", None) or {}).get(
            "routing_key"
        ) or self.engine.default_queue
        retries = headers.get("retries")
        envelope = JobEnvelope(
            job_id, name, queue, attempts=int(retries or 0), max_attempts=settler.max_attempts_of(name)
        )
        ledger, calls = self._blocking(), self.engine.calls
        return job_id, lambda reserve: ledger.run(calls.start(envelope, reserve=reserve))

    def _recorder(self, call: StateCall[bool]) -> Callable[[RedisAck], bool]:
        """Runs ``call`` (a ledger ``complete``) with a message's ack, on a blocking client."""
        ledger = self._blocking()
        return lambda ack: ledger.run(StateCall((*call.args, *ack.args()), call.decode))

    def start_reconciler(self) -> None:
        """Start the lost-message passes in this (main) worker process, where the
        engine keeps message copies (:mod:`~lexigram_compat.adapters.celery.reconciler`)."""
        if self._reconciler is None:
            self._reconciler = self.engine.message_reconciler()
        if self._reconciler is not None:
            self._reconciler.start()

    def tick_event_loop(self) -> None:
        """Wake Celery's event loop every ``worker.poll_interval`` seconds, so a stop
        asked by a signal is noticed then (an idle AMQP consumer can otherwise sleep
        in its poll for many seconds before it sees the signal's flag)."""
        hub = getattr(self.consumer, "hub", None)
        if hub is not None:
            hub.call_repeatedly(self.context.config.worker.poll_interval, _noop)

    # -- one attempt ----------------------------------------------------------------
    def run_attempt(
        self, task_name: str, request: Any, args: list[Any], kwargs: dict[str, Any]
    ) -> CelerySettlement:
        """Run and settle one attempt of the job ``request`` describes (or settle a
        delivery that must not run). Blocks the calling pool thread until it ends;
        returns what was recorded (a retry the task body must hand to Celery, a
        result, a dead letter, or nothing: the job was not run).

        Raises:
            Exception: The attempt could not be started or its outcome recorded
                (the message must go back to the broker).
        """
        thread, settler = self._ensure()
        job_id = str(request.id)
        queue = (getattr(request, "delivery_info", None) or {}).get(
            "routing_key"
        ) or self.engine.default_queue
        # What the message says; the ledger's record (when there is one) has the last word.
        envelope = JobEnvelope(
            job_id, task_name, queue, args, kwargs,
            attempts=int(request.retries or 0), max_attempts=settler.max_attempts_of(task_name),
            run_at=request_eta(request), trace=trace_of(request), headers=request_headers(request),
            expires_at=request_expires_at(request),
        )  # fmt: skip
        target = CelerySettlement(self.engine, Delivery(job_id), at_ack=self._ack_pid == os.getpid())
        first: FirstAnswer | None = prestart.take(job_id)
        if first is None and self._start_here:
            try:  # the start on this thread (first_start.py): no asyncio round trip for it
                first = self._blocking().run(self.engine.calls.start(envelope))
            except Exception as exc:
                first = exc  # the settle step tries again on the loop (or gives the delivery back)
        future = _submit(thread, self._attempt(settler, envelope, target, first))
        self._running[job_id] = future
        try:
            future.result()
        finally:
            self._running.pop(job_id, None)
        if self._released.is_set():
            # Its record may have been put back to pending by release_running (its
            # outcome then refused by the ledger): acking now would lose the job. The
            # process exits in a moment and the message goes back to the broker.
            threading.Event().wait()
        if target.deferred is not None:
            acking.defer(job_id, self._recorder(target.deferred))
        return target

    async def _attempt(
        self, settler: Settler, envelope: JobEnvelope, target: CelerySettlement, first: FirstAnswer | None
    ) -> None:
        ledger = self.engine.ledger if first is None else FirstStart(self.engine.ledger, first)
        verdict = await settler.start(ledger, target.delivery, envelope)
        counted = await settler.begin(envelope, verdict, target)
        if counted is not None:
            outcome = await settler.run(counted, target)
            if isinstance(outcome, DeadLettered):
                target.error = outcome.error

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
        """Dead-letter a message the consumer could not run: undecodable bytes or a
        malformed Celery message (``task_name`` None, ``raw`` kept), or an unknown task."""
        thread, settler = self._ensure()
        if task_name is None:
            outcome = undecodable(problem)
            envelope = JobEnvelope(job_id, UNDECODABLE_TASK, queue, attempts=1)
        else:
            error = TaskNotFoundError(f"no task named {task_name!r} is registered in this worker")
            outcome = DeadLettered(failure_of(error, with_traceback=False), error)
            envelope = JobEnvelope(job_id, task_name, queue, args, kwargs, attempts=1)
            raw = None
        prestart.drop(job_id)  # started with its delivery: recorded as failed from running
        target = CelerySettlement(self.engine, Delivery(job_id), guarded=False)
        _submit(thread, settler.settle(envelope, outcome, target, raw=raw)).result()

    def revoked(self, job_id: str) -> None:
        """Celery revoked the job's message before it ran (``celery control revoke``,
        ``AsyncResult.revoke()`` from old code): cancel its record, which would
        otherwise wait for ever (a job already started stays as it is)."""
        try:
            thread, _ = self._ensure()
            started = prestart.drop(job_id)
            if started is not None and started.run:  # started with its delivery: not run after all
                _submit(thread, self.engine.ledger.release(Delivery(job_id))).result(timeout=RELEASE_TIMEOUT)
            _submit(thread, self.engine.ledger.cancel(job_id)).result(timeout=RELEASE_TIMEOUT)
        except Exception:
            log.exception("job %s: revoked by Celery, but its record could not be cancelled", job_id)

    # -- beat ----------------------------------------------------------------------------
    def fire(self, schedule_name: str, now: datetime) -> str:
        """Enqueue the fire time of ``schedule_name`` due at ``now``; return its job id."""
        from lexigram_compat.adapters.celery.beat import fire_time

        schedule = next((s for s in self.context.registry.schedules() if s.name == schedule_name), None)
        if schedule is None:
            raise TaskNotFoundError(f"no schedule named {schedule_name!r} in this app")
        fire = fire_time(schedule, now, self.context.config.scheduler.timezone)
        host = self.host
        if host.is_started and self._pid != os.getpid():
            result = call_in_loop(host.loop, lambda: host.enqueue_fire_time(schedule, fire))
        else:
            thread, _ = self._ensure()
            result = thread.run(host.enqueue_fire_time(schedule, fire))
        job_id: str = result.unwrap()
        return job_id

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
                timer = threading.Timer(self.context.config.worker.shutdown_timeout, _cold_shutdown)
                timer.daemon = True
                timer.start()
            return
        if how == "Cold":
            self.release_running()
            return
        self._stopping = True
        timer = threading.Timer(self.context.config.worker.shutdown_timeout, self._past_deadline)
        timer.daemon = True
        timer.start()

    def _past_deadline(self) -> None:
        if not self._running:
            return
        log.warning(
            "%d job(s) still running after worker.shutdown_timeout=%ss: returning them to the queue",
            len(self._running),
            self.context.config.worker.shutdown_timeout,
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
        for job_id in [*self._running, *prestart.held()]:  # held: started with their delivery
            with contextlib.suppress(Exception):
                _submit(thread, self.engine.ledger.release(Delivery(job_id))).result(timeout=RELEASE_TIMEOUT)


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


def _on_revoked(sender: Any = None, request: Any = None, terminated: bool = False, **_: Any) -> None:
    worker = getattr(getattr(sender, "app", None), "lexigram_worker", None)
    if isinstance(worker, CeleryWorker) and request is not None and not terminated:
        worker.revoked(str(request.id))


def _on_stopped(**_: Any) -> None:
    for worker in list(_WORKERS):
        worker.stopped()


signals.worker_shutting_down.connect(_on_shutting_down, weak=False)
signals.worker_ready.connect(_on_ready, weak=False)
signals.worker_process_shutdown.connect(_on_stopped, weak=False)
signals.worker_shutdown.connect(_on_stopped, weak=False)
signals.task_revoked.connect(_on_revoked, weak=False)
os.register_at_fork(after_in_child=_after_fork_in_child)
