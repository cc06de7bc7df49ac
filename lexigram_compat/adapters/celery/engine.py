"""The Celery engine: facade jobs as Celery protocol-v2 messages, run by ``celery worker``.

Producer side: each envelope becomes exactly the message ``app.send_task``
builds (task name header, the job id as task id, ``[args, kwargs, embed]`` in
JSON, ``eta`` for delays), so an unmodified Celery worker runs it, and a job
record in the shared Redis job ledger (:mod:`lexigram_compat.adapters.redis_ledger`)
answers ``get_job``/``count``/``cancel`` and guards job ids, idempotency keys
and schedule fire times. On a Redis broker (with the ledger in the broker's
Redis) the ledger's ``create`` pushes the message in the same atomic step;
elsewhere the message is published once the record exists, and the record is
forgotten when that publish fails. Worker side: see :mod:`.tasks` and :mod:`.runtime`.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property, partial
from typing import TYPE_CHECKING, Any, ClassVar

from celery import Celery
from kombu import Exchange, Producer, Queue
from redis.asyncio import Redis
from redis.exceptions import RedisError

from lexigram_compat.adapters.celery.app_builder import broker_url, build_celery_app
from lexigram_compat.adapters.celery.beat import install_beat
from lexigram_compat.adapters.celery.confirms import PipelinedPublisher
from lexigram_compat.adapters.celery.dead_letters import CeleryDeadLetters, letter_bytes
from lexigram_compat.adapters.celery.first_start import BlockingLedger
from lexigram_compat.adapters.celery.foreign_results import ForeignResults
from lexigram_compat.adapters.celery.operator_hooks import install_operator_hooks
from lexigram_compat.adapters.celery.reconciler import MessageReconciler
from lexigram_compat.adapters.celery.redis_wire import RedisWire, message_headers
from lexigram_compat.adapters.celery.runtime import CeleryWorker
from lexigram_compat.adapters.celery.settings import CelerySettings
from lexigram_compat.adapters.celery.tasks import register_tasks
from lexigram_compat.adapters.publishing import (
    PIPELINED_RUN,
    PUBLISH_THREADS,
    GroupPublisher,
    publish_runs,
    withdraw,
)
from lexigram_compat.adapters.redis_ledger import (
    WAITING_STATUSES,
    RedisLedger,
    RedisLedgerCalls,
    RedisPush,
)
from lexigram_compat.config import redact_text, redact_url
from lexigram_compat.engine_contract import NATIVE_ENTRY, Capabilities, Engine, EngineContext
from lexigram_compat.envelope import JobEnvelope
from lexigram_compat.errors import BrokerUnavailableError, ConfigurationError, EnqueueOutcomeUnknownError
from lexigram_compat.queue import DeadLetter, JobInfo, JobStatus

if TYPE_CHECKING:
    from lexigram_compat.config import BackendConfig, TaskConfig

__all__ = ["CeleryEngine"]

log = logging.getLogger("lexigram_compat.celery")

DEAD_LETTER_SUFFIX = ".dead"
"""RabbitMQ: dead letters are also published to ``<queue>.dead`` through the ``lexigram.dlx`` exchange."""
DLX = "lexigram.dlx"
GONE_MARGIN = 600.0
"""Seconds beyond the broker's redelivery time a cancelled job's messages are refused."""


class CeleryEngine(Engine):
    """Celery on Redis or RabbitMQ (``engine: celery``)."""

    name: ClassVar[str] = "celery"
    capabilities: ClassVar[Capabilities] = Capabilities(
        delay=True,
        priority=False,
        idempotency_keys=True,
        cancel=True,
        job_status=True,
        results=True,
        dead_letters=True,
        transactional_enqueue=False,
        crash_safe=True,
        multi_process=True,
        worker="celery -A <module>:celery_app worker",
    )

    def __init__(self, config: TaskConfig, backend: BackendConfig) -> None:
        super().__init__(config, backend)
        self.settings = CelerySettings.from_extra(config.extra)
        self.native: Celery = build_celery_app(config, backend, self.settings)
        self.foreign = ForeignResults(self.native)
        """Outcomes of facade jobs other Celery workers ran (from the result backend)."""
        self._context: EngineContext | None = None
        self._worker: CeleryWorker | None = None
        self._redis: Redis | None = None
        self._ledger: RedisLedger | None = None
        self._dead: CeleryDeadLetters | None = None
        self._wire: RedisWire | None = None
        kept = config.retention.completed_seconds
        # A message of a cancelled job may come back until the broker's visibility
        # timeout (Redis) after its run-at time, whatever the record's retention.
        self.calls = RedisLedgerCalls(
            self.settings.key_prefix,
            ttl=kept,
            gone_hold=max(kept, self.settings.visibility_timeout) + GONE_MARGIN,
        )
        self.blocking_ledger = BlockingLedger(self)
        """The ledger for threads without a loop (publishing threads, pool threads)."""
        if backend.type == "redis" and backend.state_url is None:
            # Job records and messages on one Redis: one round trip records and publishes.
            prefix = str(self.settings.transport_options.get("global_keyprefix", ""))
            self._wire = RedisWire(self.native, prefix)

    # -- wiring --------------------------------------------------------------------
    def attach(self, context: EngineContext) -> None:
        self._context = context
        self._worker = CeleryWorker(context, self)
        self.native.lexigram_worker = self._worker
        self._register()
        install_beat(self.native, self._worker)
        install_operator_hooks(self.native, context.operations)

    def _register(self) -> None:
        context, worker = self._context, self._worker
        if context is None or worker is None:
            return
        register_tasks(
            self.native, context.registry, worker, context.routes(), self.config.worker.default_timeout
        )

    @property
    def ledger(self) -> RedisLedger:
        """The job ledger, in Redis (``backend.state_url``, else ``backend.redis_url``)."""
        if self._ledger is None:
            raise BrokerUnavailableError(
                "the celery engine is not connected", hint="start the app first (async with app: ...)"
            )
        return self._ledger

    @property
    def dead_letter_store(self) -> CeleryDeadLetters:
        if self._dead is None:
            raise BrokerUnavailableError(
                "the celery engine is not connected", hint="start the app first (async with app: ...)"
            )
        return self._dead

    def describe(self) -> str:
        return f"celery engine on {redact_url(broker_url(self.backend))}"

    async def connect(self) -> None:
        self._register()
        if self._redis is None:
            url = self.backend.state_url or self.backend.redis_url
            self._redis = Redis.from_url(
                url.get_secret_value(), socket_connect_timeout=4.0, socket_timeout=10.0
            )
            self._ledger = RedisLedger(self._redis, self.calls)
            self._dead = CeleryDeadLetters(
                self._redis,
                self.settings.key_prefix,
                on_purge_all=self._purge_dead_queues if self.backend.type == "amqp" else None,
            )

    async def check_access(self) -> None:
        # On RabbitMQ, job records and dead letters are in Redis, so `queues` and
        # `dlq list` never log in to the broker: log in here, once.
        if self.backend.type == "amqp":
            await asyncio.to_thread(self._log_in_to_broker)

    def _log_in_to_broker(self) -> None:
        with self.native.connection_for_read() as conn:
            conn.ensure_connection(max_retries=0, timeout=ACCESS_TIMEOUT)  # one try: a CLI check

    def forget_connections(self) -> None:
        """Drop (without closing) the Redis client this process inherited over a fork;
        :meth:`connect` makes a new one. The parent still uses the sockets."""
        if self._redis is not None:
            _INHERITED.append(self._redis)  # never garbage-collected (and closed) here
        self._redis = self._ledger = self._dead = None
        # Its threads did not come over the fork (it would count them idle and never run a publish).
        self.__dict__.pop("_publishers", None)
        self.__dict__.pop("_pipelined", None)  # its channels are on the parent's connections
        self.__dict__.pop("_group", None)  # its lanes ran on the parent's threads

    async def close(self) -> None:
        redis, self._redis = self._redis, None
        if redis is not None:
            await redis.aclose()
        self.__dict__.pop("_group", None)  # on the publishing threads, which go
        publishers = self.__dict__.pop("_publishers", None)
        if publishers is not None:
            publishers.shutdown(wait=False)
        self.blocking_ledger.close()
        # Not self.native.pool.force_close_all(): kombu's connection pools are
        # global per broker URL, so closing one would break every other app on it.

    def native_worker_argv(
        self,
        module: str,
        *,
        queues: Sequence[str] | None,
        processes: int | None,
        concurrency: int | None,
        log_level: str | None = None,
    ) -> list[str] | None:
        if self._context is None:
            raise ConfigurationError("the celery engine is not attached to an app")
        chosen = list(queues) if queues else self.own_queues()
        pool = self.settings.pool
        if pool == "prefork":
            count = processes or self.config.worker.worker_count
        else:
            count = concurrency or self.config.worker.max_concurrent_tasks
        attribute = self._celery_attribute(module)
        return [
            sys.executable, "-m", "celery", "-A", attribute, "worker",
            "-P", pool, "-c", str(count), "-Q", ",".join(chosen),
            # A node name of its own: remote control (celery inspect) tells workers
            # on one host apart by it (Celery's default is celery@<host> for all).
            "-n", f"lexigram-{os.getpid()}@%h",
            # Heartbeats stay on: Flower shows a worker online only while it hears them.
            "--without-gossip", "--without-mingle",
            # celery worker logs at WARNING unless told: the jobs' started/succeeded lines are INFO.
            *(["--loglevel", log_level.upper()] if log_level else []),
        ]  # fmt: skip

    def _celery_attribute(self, module: str) -> str:
        """``module:name`` of the attribute holding ``app.native`` in the app's module."""
        module_name = module.partition(":")[0]
        if module_name == NATIVE_ENTRY:
            return f"{NATIVE_ENTRY}:celery_app"  # builds the app from $LEXIGRAM_APP when imported
        loaded = importlib.import_module(module_name)
        for name, value in vars(loaded).items():
            if value is self.native:
                return f"{module_name}:{name}"
        raise ConfigurationError(
            f"module {module_name!r} has no attribute holding the Celery app (app.native) "
            "that `celery worker` needs",
            hint=f"add `celery_app = app.native` to {module_name} (next to the TasksApp)",
        )

    def own_queues(self) -> list[str]:
        """The physical queues of the app this engine serves."""
        return list(self._context.queues()) if self._context is not None else [self.default_queue]

    def broker_redis_url(self) -> str:
        """The Redis broker's URL (a secret: never log it unredacted)."""
        return broker_url(self.backend)

    @property
    def ledger_in_broker(self) -> bool:
        """The job ledger lives in the Redis broker's own Redis: a ledger call can
        push or acknowledge a message in the same atomic step."""
        return self._wire is not None

    def message_reconciler(self) -> MessageReconciler | None:
        """The lost-message passes of a worker (:mod:`.reconciler`), when this engine's
        producer pushes messages and keeps their copies in the broker's Redis."""
        return MessageReconciler(self) if self._wire is not None else None

    # -- producing -----------------------------------------------------------------
    async def enqueue(self, envelopes: Sequence[JobEnvelope], *, connection: Any = None) -> list[str]:
        wire = self._wire
        if wire is not None:  # records and messages in one Redis: one atomic step
            pushes = [
                RedisPush(wire.list_key(e.queue), wire.envelope(e), left=True, keep_copy=True)
                for e in envelopes
            ]
            try:
                return await self.ledger.create_published(envelopes, pushes)
            except (OSError, RedisError) as exc:
                raise _unavailable("the job ledger (Redis)", exc) from None
        if len(envelopes) == 1:
            return [await self._enqueue_one(envelopes[0])]
        try:
            created = await self.ledger.create_unpublished(envelopes)
        except (OSError, RedisError) as exc:
            raise _unavailable("the job ledger (Redis)", exc) from None
        fresh = [e for e, (_, new) in zip(envelopes, created, strict=True) if new]
        # Off the caller's loop (a broker in a memory or disk alarm holds publishes), in
        # runs on pooled connections, each run's confirms awaited at once (.confirms).
        runs = min(PUBLISH_THREADS, -(-len(fresh) // PIPELINED_RUN))
        publish_run = partial(self._pipelined.publish_run, self.publish_message)
        outcomes = await publish_runs(self._publishers, publish_run, fresh, runs)
        failed = [(e, error) for e, error in zip(fresh, outcomes, strict=True) if error is not None]
        if failed:
            await self._undo_publish(fresh, outcomes, failed)
        return [job_id for job_id, _ in created]

    async def _enqueue_one(self, envelope: JobEnvelope) -> str:
        """One job, recorded and published with the single enqueues made at the same
        time (:class:`~lexigram_compat.adapters.publishing.GroupPublisher`); the same
        outcomes as for many."""
        try:
            done = await self._group.enqueue(self.ledger, envelope)
        except (OSError, RedisError) as exc:  # the record's write failed: nothing was published
            raise _unavailable("the job ledger (Redis)", exc) from None
        if done.publish_error is not None:
            await self._undo_publish([envelope], [done.publish_error], [(envelope, done.publish_error)])
        return done.job_id

    async def _undo_publish(
        self,
        fresh: Sequence[JobEnvelope],
        outcomes: Sequence[BaseException | None],
        failed: Sequence[tuple[JobEnvelope, BaseException]],
    ) -> None:
        """After a failed publish: cancel the jobs this call published (their messages
        are refused by workers), undo the failed ones' records, raise the first failure."""
        error = failed[0][1]
        if not isinstance(error, Exception):  # cancelled, interrupted: as it came
            raise error
        await withdraw(
            self.ledger, [e.job_id for e, outcome in zip(fresh, outcomes, strict=True) if outcome is None]
        )
        for envelope, _ in failed:
            if not await self.ledger.undo_create(envelope.job_id):
                raise _record_left(envelope.job_id, error) from None
        raise _unavailable("the broker", error) from None

    @cached_property
    def _publishers(self) -> ThreadPoolExecutor:
        """Threads that publish to RabbitMQ, :data:`PUBLISH_THREADS` at once at most."""
        return ThreadPoolExecutor(PUBLISH_THREADS, thread_name_prefix="lexigram-celery-publish")

    @cached_property
    def _group(self) -> GroupPublisher:
        """Groups the single enqueues made at once: one record write and one pipelined run each."""
        return GroupPublisher(
            self._publishers, self.blocking_ledger, partial(self._pipelined.publish_run, self.publish_message)
        )

    @cached_property
    def _pipelined(self) -> PipelinedPublisher:
        """Publishes the runs of an ``enqueue_many``, one confirm wait per run."""
        return PipelinedPublisher(self.native, PUBLISH_TIMEOUT)

    def publish_message(self, envelope: JobEnvelope, producer: Producer | None = None) -> None:
        """Publish the Celery message of ``envelope`` (what ``send_task`` sends; no job record),
        with ``producer`` when given (a pipelined run's: not retried, its run fails instead)."""
        self.native.send_task(
            envelope.task_name,
            args=envelope.args,
            kwargs=envelope.kwargs,
            task_id=envelope.job_id,
            queue=envelope.queue,
            eta=envelope.run_at,
            producer=producer,
            retry=producer is None,
            declare=None if producer is None else [],  # a run declares its queues first
            retry_policy={"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5},
            timeout=PUBLISH_TIMEOUT,
            confirm_timeout=PUBLISH_TIMEOUT,
            # Message headers, where Celery's OpenTelemetry instrumentation reads them.
            headers=message_headers(envelope),
            compression=envelope.compression,  # kombu's own (a plain Celery worker reads it)
        )

    def publish_raw(self, queue: str, body: bytes, headers: dict[str, Any] | None = None) -> None:
        """Put bytes on a queue as JSON, as a broken producer would (tests, tooling)."""
        with self.native.connection_for_write() as conn:
            producer = conn.Producer()
            producer.publish(
                body,
                exchange=Exchange(queue),
                routing_key=queue,
                content_type="application/json",
                content_encoding="utf-8",
                headers=headers or {},
                declare=[Queue(queue, Exchange(queue), routing_key=queue)],
                delivery_mode=2,
            )

    async def publish_dead_letter(self, letter: DeadLetter) -> None:
        """RabbitMQ: also publish the dead letter to ``<queue>.dead`` via the library's DLX."""
        if self.backend.type != "amqp":
            return
        try:
            await asyncio.to_thread(self._publish_dead_letter, letter)
        except Exception as exc:  # the Redis store has it; the broker copy is for operators
            log.warning(
                "could not publish dead letter %s to %s: %s", letter.job_id, DLX, redact_text(str(exc))
            )

    def _publish_dead_letter(self, letter: DeadLetter) -> None:
        exchange = Exchange(DLX, type="direct", durable=True)
        dead = letter.queue + DEAD_LETTER_SUFFIX
        # A producer from the app's pool: no new AMQP connection per dead letter.
        with self.native.producer_or_acquire() as producer:
            producer.publish(
                letter_bytes(letter),
                exchange=exchange,
                routing_key=dead,
                content_type="application/json",
                content_encoding="utf-8",
                declare=[self._dead_queue(dead, exchange)],
                delivery_mode=2,
                timeout=PUBLISH_TIMEOUT,
                confirm_timeout=PUBLISH_TIMEOUT,
            )

    def _dead_queue(self, name: str, exchange: Exchange) -> Queue:
        """``<queue>.dead``: an operator-visible copy of the dead letters (Redis holds
        the ones of record), bounded by the dead-letter retention settings."""
        arguments: dict[str, Any] = {}
        retention = self.config.retention
        if retention.dead_letter_seconds is not None:
            arguments["x-message-ttl"] = max(1, round(retention.dead_letter_seconds * 1000))
        if retention.dead_letter_max is not None:
            arguments["x-max-length"] = retention.dead_letter_max
        return Queue(name, exchange, routing_key=name, durable=True, queue_arguments=arguments or None)

    async def _purge_dead_queues(self) -> None:
        await asyncio.to_thread(self._purge_dead_queues_sync)

    def _purge_dead_queues_sync(self) -> None:
        for queue in self.own_queues():
            self._purge(queue + DEAD_LETTER_SUFFIX)

    # -- inspecting ------------------------------------------------------------------
    async def get_job(self, job_id: str) -> JobInfo | None:
        info = await self.ledger.get_job(job_id)
        waiting = info is not None and info.status in WAITING_STATUSES
        # Run by another Celery worker? Its outcome is in the result backend.
        if waiting and await self.foreign.settle(self.ledger, [job_id]):
            info = await self.ledger.get_job(job_id)
        return info

    async def cancel(self, job_id: str) -> bool:
        return await self.ledger.cancel(job_id)

    async def count(self, queue: str, status: JobStatus | None) -> int:
        await self.foreign.settle_queue(self.ledger, queue)
        return await self.ledger.count(queue, status)

    async def clear(self, queue: str) -> int:
        cleared = await self.ledger.clear(queue)
        self._purge(queue)
        return cleared

    def queue_depth(self, queue: str) -> int:
        """Messages ready in ``queue`` on the broker (0 for a queue never declared)."""
        with self.native.connection_for_read() as conn:
            channel = conn.default_channel
            if self.backend.type == "redis":
                # kombu's virtual channel: LLEN over the queue's priority lists
                # (a passive declare fails for a list that was never bound here).
                return int(channel._size(queue))
            try:
                _, count, _ = channel.queue_declare(queue, passive=True)
            except Exception:
                return 0
            return int(count)

    def _purge(self, queue: str) -> None:
        with self.native.connection_for_write() as conn:
            channel = conn.default_channel
            try:
                channel.queue_purge(queue)
            except Exception as exc:  # a queue never declared has nothing to purge
                log.debug("purge of %s: %s", queue, redact_text(str(exc)))


ACCESS_TIMEOUT = 5.0
"""Seconds :meth:`CeleryEngine.check_access` may wait for RabbitMQ's login."""
PUBLISH_TIMEOUT = 10.0
"""Seconds an AMQP publish may wait for the broker's confirm before it fails (Err)."""

_INHERITED: list[Redis] = []
"""Redis clients inherited from a parent process: kept, never used or closed."""


def _record_left(job_id: str, exc: Exception) -> EnqueueOutcomeUnknownError:
    """A publish that failed, whose job record could not be undone either."""
    return EnqueueOutcomeUnknownError(
        f"enqueue failed: the broker is unreachable ({type(exc).__name__}: {redact_text(str(exc))}), "
        f"and the record of job {job_id} could not be undone: the job may or may not exist",
        cause=exc,
    )


def _unavailable(what: str, exc: Exception) -> BrokerUnavailableError:
    return BrokerUnavailableError(
        f"enqueue failed: {what} is unreachable ({type(exc).__name__}: {redact_text(str(exc))})",
        hint="check that the server is running and the URL in tasks.backend is right",
        cause=exc,
    )
