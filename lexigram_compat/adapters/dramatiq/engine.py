"""The Dramatiq engine: the producer and inspection side, on Redis or RabbitMQ.

Jobs are Dramatiq messages (message id = job id) run by the native
``dramatiq`` worker. Job records (``get_job``, cancel, idempotency keys, the
schedule guard) live in the Redis job-state store: on the Redis broker, the
broker's own Redis, and a new job's record and its message are written in one
atomic step; on RabbitMQ, the store at ``backend.state_url`` when configured
(else those features are refused, and the capability table says so), and a
message is reported ``Ok`` only once RabbitMQ confirmed it.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

import dramatiq

from lexigram_compat.adapters.base import Capabilities, DeadLetterStore, Engine
from lexigram_compat.adapters.redis_state import (
    WAITING_STATUSES,
    JobStateKeys,
    RedisAck,
    RedisJobState,
    RedisPush,
    StateCall,
    SyncRedisJobState,
)
from lexigram_compat.config_loading import redact_text, redact_url
from lexigram_compat.envelope import JobEnvelope
from lexigram_compat.errors import BrokerUnavailableError, ConfigurationError, TaskQueueError
from lexigram_compat.queue import JobInfo, JobStatus
from lexigram_compat.worker_hooks_dramatiq import DramatiqHooks

from .actors import WorkerRuntime, declare_actors
from .broker import LexigramRedisBroker, build_broker
from .dead_letters import DeadLetterWriter, RabbitmqDeadLetters, RedisDeadLetters, XQDeadLetters
from .messages import delay_ms, dq_name, message_of
from .middleware import STOP_MARGIN_MS, LexigramMiddleware
from .settings import DramatiqSettings

if TYPE_CHECKING:
    import redis
    import redis.asyncio
    from dramatiq import Broker

    from lexigram_compat.app import TasksApp
    from lexigram_compat.config import BackendConfig, TaskConfig

__all__ = ["DramatiqEngine"]

log = logging.getLogger("lexigram_compat.dramatiq")

WORKER_COMMAND = "dramatiq <module>"
FIRE_PREFIX = "schedule:"
"""The unique keys of schedule fire times (``TasksApp.enqueue_fire_time``)."""


def _broker_error(operation: str, exc: BaseException) -> TaskQueueError:
    return BrokerUnavailableError(
        f"{operation} failed: the broker is unreachable ({type(exc).__name__}: {redact_text(str(exc))})",
        hint="check that the broker (and the job-state Redis) is running and the URL is right",
        cause=exc,
    )


def _fire_key(envelope: JobEnvelope) -> str | None:
    key = envelope.unique_key
    return key if key is not None and key.startswith(FIRE_PREFIX) else None


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
        # RabbitMQ without a state store keeps no job records: a class whose
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
        self.runtime: WorkerRuntime | None = None
        self.keys = JobStateKeys(self.settings.state_prefix, ttl=self.settings.completed_ttl)
        self._state: RedisJobState | None = None
        self._client: redis.asyncio.Redis | None = None
        self._publisher: ThreadPoolExecutor | None = None
        self._dead: XQDeadLetters | None = None
        self._queues: set[str] = {backend.queue_name, *(config.worker.queues or ())}
        # On Redis with the state in the broker's Redis, a success is recorded by the ack.
        self.completes_on_ack = False
        if isinstance(self.native, LexigramRedisBroker) and backend.state_url is None:
            self.native.complete_and_ack = self._complete_and_ack
            self.completes_on_ack = True

    def _complete_and_ack(self, job_id: str, result: Any, ack: RedisAck) -> None:
        state = self.sync_state
        assert state is not None
        state.run(self.keys.complete(job_id, result, ack=ack))

    # -- binding -------------------------------------------------------------------------
    def attach(self, app: TasksApp) -> None:
        """Declare one actor per task routed to this backend, on this engine's broker,
        and make that broker the global one, so ``dramatiq <module>`` finds them."""
        self.runtime = WorkerRuntime(self, app)
        mine = next((b for b in app.backend_set if b.engine is self), None)
        if mine is None:
            return
        self.native.add_middleware(DramatiqHooks(app, mine))  # presence, /metrics, JSON logs (operators)
        routes: dict[str, str] = {}
        for task in app.registry:
            target, physical = app.backend_set.route(task.queue, app.backend_set.primary)
            if target is mine:
                routes[task.name] = physical
                self._queues.add(physical)
        for queue in sorted(self._queues):
            self.native.declare_queue(queue)
        declare_actors(self.runtime, self.native, routes)
        if mine is app.backend_set.primary:
            dramatiq.set_broker(self.native)

    def native_worker_argv(
        self, module: str, *, queues: Sequence[str] | None, processes: int | None, concurrency: int | None
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
        chosen = list(queues or worker.queues or ())
        if chosen:
            argv += ["--queues", *chosen]
        return argv

    def describe(self) -> str:
        where = redact_url(self.settings.url)
        return f"dramatiq engine on {self.backend.type} {where} (namespace {self.settings.namespace!r})"

    # -- lifecycle -----------------------------------------------------------------------
    @property
    def state(self) -> RedisJobState | None:
        """The async job-state store (None on RabbitMQ without ``backend.state_url``)."""
        return self._state

    @cached_property
    def sync_state(self) -> SyncRedisJobState | None:
        """The job-state store for worker threads."""
        if self.settings.state_url is None:
            return None
        import redis

        client: redis.Redis = redis.Redis.from_url(self.settings.state_url)
        return SyncRedisJobState(client, self.keys)

    @cached_property
    def dead_letter_writer(self) -> DeadLetterWriter:
        return DeadLetterWriter(self.native, self.settings.broker)

    async def connect(self) -> None:
        import redis.asyncio

        if self.settings.state_url is not None:
            self._client = redis.asyncio.Redis.from_url(self.settings.state_url)
            self._state = RedisJobState(self._client, self.keys)
        self._publisher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lexigram-dramatiq-publish")
        retention = self.config.retention
        keep = retention.dead_letter_seconds
        if self.settings.broker == "redis":
            assert self._client is not None
            broker_client = (
                self._client
                if self.backend.state_url is None
                else redis.asyncio.Redis.from_url(self.settings.url)
            )
            self._dead = RedisDeadLetters(
                broker_client, self.settings.namespace, keep, retention.dead_letter_max, sorted(self._queues)
            )
        else:
            self._dead = RabbitmqDeadLetters(
                self.settings.url, sorted(self._queues), keep, retention.dead_letter_max
            )
        log.info(
            "%s: dead letters kept %s (retention.dead_letter_seconds)",
            self.describe(),
            "until purged" if keep is None else f"{keep:g}s",
        )

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
            self._state = None
        if self._publisher is not None:
            publisher, self._publisher = self._publisher, None
            await asyncio.get_running_loop().run_in_executor(publisher, self._close_broker)
            publisher.shutdown(wait=False)

    def _close_broker(self) -> None:
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
        if self._state is not None and any(_fire_key(e) for e in envelopes):
            return [await self._enqueue_fire_time(e) for e in envelopes]
        return await self._enqueue_plain(envelopes)

    async def _enqueue_plain(self, envelopes: Sequence[JobEnvelope]) -> list[str]:
        if self.settings.broker == "redis":
            if len(envelopes) == 1:
                return [await self._enqueue_redis(envelopes[0])]
            state = self._require_state()
            try:
                created = await state.run_many([self._create_with_message(e) for e in envelopes])
            except Exception as exc:
                raise _broker_error("enqueue", exc) from exc
            return [job_id for job_id, _ in created]
        return await self._enqueue_rabbitmq_many(envelopes)

    async def _enqueue_rabbitmq_many(self, envelopes: Sequence[JobEnvelope]) -> list[str]:
        """One confirmed publish per job. RabbitMQ has no batch transaction with
        confirms: when a later job fails, the jobs this call already published are
        cancelled (with a state store), so that an ``Err`` means none of them runs."""
        ids: list[str] = []
        published: list[str] = []
        for envelope in envelopes:
            try:
                job_id, created = await self._enqueue_rabbitmq_one(envelope)
            except TaskQueueError:
                await self._withdraw(published)
                raise
            ids.append(job_id)
            if created:
                published.append(job_id)
        return ids

    async def _withdraw(self, job_ids: Sequence[str]) -> None:
        if not job_ids:
            return
        state = self._state
        if state is None:
            log.warning(
                "enqueue_many failed after %d of its jobs were published; without a job-state store "
                "they cannot be withdrawn and will run: %s",
                len(job_ids),
                ", ".join(job_ids),
            )
            return
        for job_id in job_ids:
            try:
                withdrawn = await state.run(self.keys.cancel(job_id))
            except Exception:
                withdrawn = False
            if not withdrawn:
                log.warning("job %s, published by a failed enqueue_many, could not be withdrawn", job_id)

    async def _enqueue_fire_time(self, envelope: JobEnvelope) -> str:
        """A schedule fire time is claimed apart from its job record, for a week:
        once its job finished and its record expired (``completed_seconds``, maybe
        0), another scheduler ticking the same fire time must not enqueue it again."""
        key = _fire_key(envelope)
        if key is None:
            [job_id] = await self._enqueue_plain([envelope])
            return job_id
        state = self._require_state()
        try:
            holder, claimed = await state.run(self.keys.fire(key, envelope.job_id))
        except Exception as exc:
            raise _broker_error("enqueue", exc) from exc
        if not claimed:
            return holder
        try:
            [job_id] = await self._enqueue_plain([envelope])
        except BaseException:
            try:
                await state.run(self.keys.unfire(key, envelope.job_id))
            except Exception:
                log.exception("job %s: giving back its fire time failed", envelope.job_id)
            raise
        return job_id

    async def _enqueue_redis(self, envelope: JobEnvelope) -> str:
        state = self._require_state()
        try:
            job_id, _ = await state.run(self._create_with_message(envelope))
        except Exception as exc:
            raise _broker_error("enqueue", exc) from exc
        return job_id

    def _create_with_message(self, envelope: JobEnvelope) -> StateCall[tuple[str, bool]]:
        """The job's record and its Dramatiq message (as the Redis broker writes one:
        ``HSET <ns>:<queue>.msgs <rid> <json>``, ``RPUSH <ns>:<queue> <rid>``), in one call."""
        rid = str(uuid.uuid4())
        delay = delay_ms(envelope)
        queue = envelope.queue if delay is None else dq_name(envelope.queue)
        options: dict[str, Any] = {"redis_message_id": rid}
        if delay is not None and envelope.run_at is not None:
            options["eta"] = int(envelope.run_at.timestamp() * 1000)
        payload = message_of(envelope, queue=queue, options=options).encode()
        ns = self.settings.namespace
        push = RedisPush(
            list_key=f"{ns}:{queue}",
            list_value=rid,
            hash_key=f"{ns}:{queue}.msgs",
            hash_field=rid,
            payload=payload,
        )
        return self.keys.create(envelope, scheduled=delay is not None, publish=push)

    async def _enqueue_rabbitmq_one(self, envelope: JobEnvelope) -> tuple[str, bool]:
        state = self._state
        delay = delay_ms(envelope)
        if state is not None:
            try:
                job_id, created = await state.run(self.keys.create(envelope, scheduled=delay is not None))
            except Exception as exc:
                raise _broker_error("enqueue", exc) from exc
            if not created:
                return job_id, False
        try:
            await self._publish(envelope, delay)
        except Exception as exc:
            if state is not None:
                try:
                    await state.run(self.keys.forget(envelope.job_id))
                except Exception:
                    log.exception("job %s: undoing its record after a failed publish failed", envelope.job_id)
            raise _publish_error(exc) from exc
        return envelope.job_id, True

    async def _publish(self, envelope: JobEnvelope, delay: int | None) -> None:
        if self._publisher is None:
            raise TaskQueueError("the Dramatiq engine is not connected", hint="start the app first")
        # RabbitMQ orders a queue by priority (higher first): x-max-priority is 255.
        message = message_of(envelope, options={"broker_priority": envelope.priority})
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._publisher, lambda: self.native.enqueue(message, delay=delay))

    async def may_schedule(self) -> bool:
        """Whether a scheduler of this app may fire here (always, with a state store:
        its guard makes each fire time one job however many schedulers run)."""
        return True

    def _require_state(self) -> RedisJobState:
        if self._state is None:
            raise TaskQueueError(
                "the Dramatiq engine is not connected", hint="start the app first ('async with app:')"
            )
        return self._state

    # -- inspection ----------------------------------------------------------------------
    async def get_job(self, job_id: str) -> JobInfo | None:
        state = self._require_state()
        return await state.run(self.keys.get(job_id))

    async def cancel(self, job_id: str) -> bool:
        state = self._require_state()
        return await state.run(self.keys.cancel(job_id))

    async def count(self, queue: str, status: JobStatus | None) -> int:
        state = self._require_state()
        return await state.run(self.keys.count(queue, WAITING_STATUSES if status is None else (status,)))

    async def clear(self, queue: str) -> int:
        removed = 0
        if self._state is not None:
            removed = await self._state.run(self.keys.clear(queue))
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
