"""The Dramatiq engine: the producer and inspection side, on Redis or RabbitMQ.

Jobs are Dramatiq messages (message id = job id) run by the native
``dramatiq`` worker. Job records (``get_job``, cancel, idempotency keys, the
schedule fire-time guard) live in the Redis job ledger
(:mod:`lexigram_compat.adapters.redis_ledger`): on the Redis broker, the
broker's own Redis, and a new job's record and its message are written in one
atomic step; on RabbitMQ, the ledger at ``backend.state_url`` when configured
(else those features are refused, and the capability table says so), and a
message is reported ``Ok`` only once RabbitMQ confirmed it.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

import dramatiq

from lexigram_compat.adapters.publishing import (
    ONE_LANE,
    PIPELINED_RUN,
    PUBLISH_THREADS,
    GroupPublisher,
    publish_runs,
    withdraw,
)
from lexigram_compat.adapters.redis_ledger import (
    RedisAck,
    RedisLedger,
    RedisLedgerCalls,
    RedisPush,
    SyncRedisLedger,
)
from lexigram_compat.config_loading import redact_text, redact_url
from lexigram_compat.engine_contract import Capabilities, DeadLetterStore, Engine, EngineContext
from lexigram_compat.envelope import JobEnvelope
from lexigram_compat.errors import (
    BrokerUnavailableError,
    ConfigurationError,
    EnqueueOutcomeUnknownError,
    TaskQueueError,
)
from lexigram_compat.queue import JobInfo, JobStatus

from .actors import DramatiqWorker, declare_actors
from .broker import LexigramRedisBroker, build_broker, rabbitmq_priority
from .dead_letters import DeadLetterWriter, RabbitmqXQDeadLetters, RedisXQDeadLetters, XQDeadLetters
from .messages import delay_until, dq_name, message_of
from .middleware import STOP_MARGIN_MS, LexigramMiddleware
from .operator_hooks import OperatorMiddleware
from .settings import DramatiqSettings

if TYPE_CHECKING:
    import redis
    import redis.asyncio
    from dramatiq import Broker, Message

    from lexigram_compat.config import BackendConfig, TaskConfig

    from .rabbitmq_confirms import DramatiqPipelinedPublisher

__all__ = ["DramatiqEngine"]

log = logging.getLogger("lexigram_compat.dramatiq")

WORKER_COMMAND = "dramatiq <module>"


def _broker_error(operation: str, exc: BaseException) -> TaskQueueError:
    return BrokerUnavailableError(
        f"{operation} failed: the broker is unreachable ({type(exc).__name__}: {redact_text(str(exc))})",
        hint="check that the broker (and the job-ledger Redis) is running and the URL is right",
        cause=exc,
    )


def _publish_error(exc: BaseException) -> TaskQueueError:
    """A failed RabbitMQ publish: a queue whose arguments differ from the config's
    (RabbitMQ's 406 PRECONDITION_FAILED on the declare) is a configuration error,
    not an unreachable broker."""
    text = redact_text(str(exc))
    if "PRECONDITION_FAILED" not in text:
        return _broker_error("enqueue", exc)
    if "x-message-ttl" in text:
        setting = "retention.dead_letter_seconds (the .XQ queue's x-message-ttl)"
    elif "x-max-priority" in text:
        setting = "the queue's x-max-priority (it was created without priorities)"
    else:
        setting = "the queue's arguments"
    return ConfigurationError(
        f"enqueue failed: RabbitMQ refused to declare a queue again with other arguments than it "
        f"was created with: {setting} changed ({text})",
        hint="RabbitMQ cannot change an existing queue's arguments: delete the queue named in the "
        "message (it is recreated with the new value) or go back to the earlier value",
        cause=exc,
    )


class DramatiqEngine(Engine):
    """Jobs as Dramatiq messages on Redis or RabbitMQ, run by ``dramatiq <module>``."""

    name: ClassVar[str] = "dramatiq"
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
        worker=WORKER_COMMAND,
    )

    def __new__(cls, config: TaskConfig, backend: BackendConfig) -> DramatiqEngine:
        # RabbitMQ without a ledger keeps no job records: a class whose
        # capability table says so, so those calls are refused up front.
        from .rabbitmq import DramatiqRabbitmqEngine, StatelessRabbitmqEngine

        chosen = cls
        if cls in (DramatiqEngine, DramatiqRabbitmqEngine) and backend.type == "amqp":
            chosen = DramatiqRabbitmqEngine if backend.state_url is not None else StatelessRabbitmqEngine
        return super().__new__(chosen)

    def __init__(self, config: TaskConfig, backend: BackendConfig) -> None:
        super().__init__(config, backend)
        self.settings = DramatiqSettings.from_config(config, backend)
        self.native: Broker = build_broker(self.settings, [LexigramMiddleware(self)])
        self.worker: DramatiqWorker | None = None
        self.calls = RedisLedgerCalls(self.settings.state_prefix, ttl=self.settings.completed_ttl)
        self._ledger: RedisLedger | None = None
        self._client: redis.asyncio.Redis | None = None
        self._publisher: ThreadPoolExecutor | None = None
        self._pipelined: DramatiqPipelinedPublisher | None = None
        self._group: GroupPublisher | None = None
        self._dead: XQDeadLetters | None = None
        self._context: EngineContext | None = None
        # On Redis with the ledger in the broker's Redis, a success is recorded by the ack.
        self.completes_on_ack = False
        if isinstance(self.native, LexigramRedisBroker) and backend.state_url is None:
            self.native.complete_and_ack = self._complete_and_ack
            self.completes_on_ack = True

    def _complete_and_ack(self, job_id: str, result: Any, ack: RedisAck) -> None:
        ledger = self.sync_ledger
        assert ledger is not None
        ledger.run(self.calls.complete(job_id, result, ack=ack))

    # -- binding -------------------------------------------------------------------------
    def attach(self, context: EngineContext) -> None:
        """Declare one actor per task routed to this backend, on this engine's broker,
        and make that broker the global one, so ``dramatiq <module>`` finds them."""
        self._context = context
        self.worker = DramatiqWorker(self, context)
        self.native.add_middleware(OperatorMiddleware(context.operations))  # presence, /metrics, JSON logs
        for queue in sorted(context.queues()):
            self.native.declare_queue(queue)
        declare_actors(self.worker, self.native, context.routes())
        if context.primary:
            dramatiq.set_broker(self.native)

    def queues(self) -> list[str]:
        """This engine's physical queues (as the app routes its tasks now)."""
        if self._context is None:
            return [self.backend.queue_name, *(self.config.worker.queues or ())]
        return list(self._context.queues())

    def native_worker_argv(
        self,
        module: str,
        *,
        queues: Sequence[str] | None,
        processes: int | None,
        concurrency: int | None,
        log_level: str | None = None,
    ) -> list[str] | None:
        worker = self.config.worker
        argv = [
            sys.executable,
            "-m",
            "dramatiq",
            module.partition(":")[0],
            "--processes",
            str(processes or worker.worker_count),
            "--threads",
            str(concurrency or worker.max_concurrent_tasks),
            "--worker-shutdown-timeout",
            str(int(worker.shutdown_timeout * 1000) + STOP_MARGIN_MS),
        ]
        if log_level == "debug":
            argv.append("--verbose")  # dramatiq logs INFO and above unless verbose
        chosen = list(queues or worker.queues or ())
        if chosen:
            argv += ["--queues", *chosen]
        return argv

    def describe(self) -> str:
        where = redact_url(self.settings.url)
        return f"dramatiq engine on {self.backend.type} {where} (namespace {self.settings.namespace!r})"

    # -- lifecycle -----------------------------------------------------------------------
    @property
    def ledger(self) -> RedisLedger | None:
        """The job ledger, on the loop the app started on (None on RabbitMQ without
        ``backend.state_url``, or before the app started)."""
        return self._ledger

    @cached_property
    def sync_ledger(self) -> SyncRedisLedger | None:
        """The job ledger for Dramatiq's own threads (its acks and nacks)."""
        if self.settings.state_url is None:
            return None
        import redis

        client: redis.Redis = redis.Redis.from_url(self.settings.state_url)
        return SyncRedisLedger(client, self.calls)

    @cached_property
    def dead_letter_writer(self) -> DeadLetterWriter:
        return DeadLetterWriter(self.native, self.settings.broker)

    async def connect(self) -> None:
        import redis.asyncio

        if self.settings.state_url is not None:
            self._client = redis.asyncio.Redis.from_url(self.settings.state_url)
            self._ledger = RedisLedger(self._client, self.calls)
        # On RabbitMQ each publishing thread has a connection of its own (.rabbitmq_confirms),
        # and runs of jobs are published on several at once.
        threads = PUBLISH_THREADS if self.settings.broker != "redis" else 1
        self._publisher = ThreadPoolExecutor(threads, thread_name_prefix="lexigram-dramatiq-publish")
        if self.settings.broker != "redis":
            from .rabbitmq_confirms import DramatiqPipelinedPublisher

            broker: Any = self.native  # the RabbitMQ broker (build_broker)
            self._pipelined = DramatiqPipelinedPublisher(broker, self.settings.url, self._message)
            self._group = GroupPublisher(
                self._publisher, self._sync_ledger, self._pipelined.publish_run, lanes=ONE_LANE
            )
        keep = self.config.retention.dead_letter_seconds
        if self.settings.broker == "redis":
            assert self._client is not None
            broker_client = (
                self._client
                if self.backend.state_url is None
                else redis.asyncio.Redis.from_url(self.settings.url)
            )
            self._dead = RedisXQDeadLetters(broker_client, self.settings.namespace, sorted(self.queues()))
        else:
            self._dead = RabbitmqXQDeadLetters(self.settings.url, sorted(self.queues()))
        log.info(
            "%s: dead letters kept %s (retention.dead_letter_seconds)",
            self.describe(),
            "until purged" if keep is None else f"{keep:g}s",
        )

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
            self._ledger = None
        if self._publisher is not None:
            publisher, self._publisher = self._publisher, None
            await asyncio.get_running_loop().run_in_executor(publisher, self._close_broker)
            publisher.shutdown(wait=False)

    def _close_broker(self) -> None:
        pipelined, self._pipelined, self._group = self._pipelined, None, None
        if pipelined is not None:
            pipelined.close()
        try:
            self.native.close()
        except Exception:
            log.debug("closing the Dramatiq broker failed", exc_info=True)

    @property
    def dead_letter_store(self) -> DeadLetterStore:
        if self._dead is None:
            raise TaskQueueError(
                "the Dramatiq engine is not connected", hint="start the app first ('async with app:')"
            )
        return self._dead

    # -- producing -----------------------------------------------------------------------
    async def enqueue(self, envelopes: Sequence[JobEnvelope], *, connection: Any = None) -> list[str]:
        if self.settings.broker != "redis":
            return await self._enqueue_rabbitmq_many(envelopes)
        ledger = self._require_ledger()
        try:
            return await ledger.create_published(envelopes, [self._message_push(e) for e in envelopes])
        except TaskQueueError:
            raise
        except Exception as exc:
            raise _broker_error("enqueue", exc) from exc

    async def _enqueue_rabbitmq_many(self, envelopes: Sequence[JobEnvelope]) -> list[str]:
        """The records of all jobs in one Redis round trip, then their messages
        published at once on :data:`PUBLISH_THREADS` channels, each ``Ok`` only once
        RabbitMQ confirmed it (a confirm waits a round trip: one at a time, a
        producer would wait for each). RabbitMQ has no batch transaction with
        confirms: when any publish fails, the jobs this call published are cancelled
        (with a ledger) and the failed ones' records undone, so an ``Err`` means none
        of them runs."""
        ledger = self._ledger
        if ledger is not None and len(envelopes) == 1:
            return [await self._enqueue_rabbitmq_one(ledger, envelopes[0])]
        if ledger is None:
            created = [(e.job_id, True) for e in envelopes]
        else:
            try:
                created = await ledger.create_unpublished(envelopes)
            except TaskQueueError:
                raise
            except Exception as exc:
                raise _broker_error("enqueue", exc) from exc
        fresh = [e for e, (_, new) in zip(envelopes, created, strict=True) if new]
        if self._publisher is None or self._pipelined is None:
            raise TaskQueueError("the Dramatiq engine is not connected", hint="start the app first")
        runs = min(PUBLISH_THREADS, -(-len(fresh) // PIPELINED_RUN))
        outcomes = await publish_runs(self._publisher, self._pipelined.publish_run, fresh, runs)
        failed = [(e, error) for e, error in zip(fresh, outcomes, strict=True) if error is not None]
        if failed:
            published = [e.job_id for e, error in zip(fresh, outcomes, strict=True) if error is None]
            await self._withdraw(published)
            await self._undo_failed(failed)
        return [job_id for job_id, _ in created]

    async def _enqueue_rabbitmq_one(self, ledger: RedisLedger, envelope: JobEnvelope) -> str:
        """One job, recorded and published with the single enqueues made at the same
        time (:class:`~lexigram_compat.adapters.publishing.GroupPublisher`); the same
        outcomes as for many."""
        if self._group is None:
            raise TaskQueueError("the Dramatiq engine is not connected", hint="start the app first")
        try:
            done = await self._group.enqueue(ledger, envelope)
        except TaskQueueError:
            raise
        except Exception as exc:  # the record's write failed: nothing was published
            raise _broker_error("enqueue", exc) from exc
        if done.publish_error is not None:
            await self._undo_failed([(envelope, done.publish_error)])
        return done.job_id

    def _message(self, envelope: JobEnvelope) -> tuple[Message[Any], int | None]:
        """The job's Dramatiq message for RabbitMQ, and its delay (ms, None when due)."""
        # RabbitMQ orders a queue by priority (higher first), in the levels of rabbitmq_priority.
        message = message_of(envelope, options={"broker_priority": rabbitmq_priority(envelope.priority)})
        return message, delay_until(envelope.run_at)

    def _sync_ledger(self) -> SyncRedisLedger:
        sync = self.sync_ledger
        if sync is None:
            raise TaskQueueError("the Dramatiq engine has no job ledger", hint="set backend.state_url")
        return sync

    async def _undo_failed(self, failed: Sequence[tuple[JobEnvelope, BaseException]]) -> None:
        """Undo the records of jobs whose publish failed, then raise the first failure."""
        error = failed[0][1]
        if not isinstance(error, Exception):  # cancelled, interrupted: as it came
            raise error
        ledger = self._ledger
        kept = [e.job_id for e, _ in failed if ledger is not None and not await ledger.undo_create(e.job_id)]
        if kept:
            log.error("jobs %s: their records could not be undone after a failed publish", ", ".join(kept))
            raise EnqueueOutcomeUnknownError(
                f"enqueue failed: {_publish_error(error)}; the records of {len(kept)} job(s) could not "
                f"be undone: they may or may not exist",
                cause=error,
            ) from error
        raise _publish_error(error) from error

    async def _withdraw(self, job_ids: Sequence[str]) -> None:
        if not job_ids:
            return
        ledger = self._ledger
        if ledger is None:
            log.warning(
                "enqueue_many failed after %d of its jobs were published; without a job ledger "
                "they cannot be withdrawn and will run: %s",
                len(job_ids),
                ", ".join(job_ids),
            )
            return
        await withdraw(ledger, job_ids)

    def _message_push(self, envelope: JobEnvelope) -> RedisPush:
        """The job's Dramatiq message as the Redis broker writes one (``HSET
        <ns>:<queue>.msgs <rid> <json>``, ``RPUSH <ns>:<queue> <rid>``), for the
        ledger to push in the step that creates the job's record."""
        rid = str(uuid.uuid4())
        delay = delay_until(envelope.run_at)
        queue = envelope.queue if delay is None else dq_name(envelope.queue)
        options: dict[str, Any] = {"redis_message_id": rid}
        if delay is not None and envelope.run_at is not None:
            options["eta"] = int(envelope.run_at.timestamp() * 1000)
        payload = message_of(envelope, queue=queue, options=options).encode()
        ns = self.settings.namespace
        return RedisPush(
            list_key=f"{ns}:{queue}",
            list_value=rid,
            hash_key=f"{ns}:{queue}.msgs",
            hash_field=rid,
            payload=payload,
        )

    async def send(self, message: Message[Any], delay: int | None) -> None:
        """Enqueue ``message`` on the broker."""
        await self.blocking(lambda: self.native.enqueue(message, delay=delay))

    async def blocking(self, call: Callable[[], object]) -> None:
        """Run a blocking broker call on this engine's publishing thread (never on the loop)."""
        if self._publisher is None:
            raise TaskQueueError("the Dramatiq engine is not connected", hint="start the app first")
        await asyncio.get_running_loop().run_in_executor(self._publisher, call)

    async def may_schedule(self) -> bool:
        """Whether a scheduler of this app may fire here (always, with a ledger: its
        fire-time guard makes each fire time one job however many schedulers run)."""
        return True

    def _require_ledger(self) -> RedisLedger:
        if self._ledger is None:
            raise TaskQueueError(
                "the Dramatiq engine is not connected", hint="start the app first ('async with app:')"
            )
        return self._ledger

    # -- inspection ----------------------------------------------------------------------
    async def get_job(self, job_id: str) -> JobInfo | None:
        return await self._require_ledger().get_job(job_id)

    async def cancel(self, job_id: str) -> bool:
        return await self._require_ledger().cancel(job_id)

    async def count(self, queue: str, status: JobStatus | None) -> int:
        return await self._require_ledger().count(queue, status)

    async def clear(self, queue: str) -> int:
        removed = 0
        if self._ledger is not None:
            removed = await self._ledger.clear(queue)
        await self._purge_broker(queue)
        return removed

    async def _purge_broker(self, queue: str) -> None:
        if self.settings.broker == "redis":
            assert self._client is not None
            ns = self.settings.namespace
            names = [f"{ns}:{queue}", f"{ns}:{queue}.msgs", f"{ns}:{queue}.DQ", f"{ns}:{queue}.DQ.msgs"]
            await self._client.delete(*names)
            return
        if self._publisher is None:
            return
        await asyncio.get_running_loop().run_in_executor(self._publisher, self._purge_rabbitmq, queue)

    def _purge_rabbitmq(self, queue: str) -> None:
        import pika  # type: ignore[import-untyped]

        broker: Any = self.native
        for name in (queue, dq_name(queue)):
            try:
                broker.channel.queue_purge(name)
            except pika.exceptions.ChannelClosedByBroker:
                del broker.channel  # the queue does not exist: nothing to purge
