"""The Celery engine: facade jobs as Celery protocol-v2 messages, run by ``celery worker``.

Producer side: each envelope becomes exactly the message ``app.send_task``
builds (task name header, the job id as task id, ``[args, kwargs, embed]`` in
JSON, ``eta`` for delays), so an unmodified Celery worker runs it, and a job
record in Redis (:mod:`.state`) answers ``get_job``/``count``/``cancel`` and
guards job ids, idempotency keys and schedule fire times with SET-NX
semantics. Worker side: see :mod:`.tasks` and :mod:`.runtime`.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from celery import Celery
from kombu import Exchange, Queue
from redis.asyncio import Redis

from lexigram_compat.adapters.base import Capabilities, Engine
from lexigram_compat.adapters.celery.app_builder import broker_url, build_celery_app
from lexigram_compat.adapters.celery.dead_letters import RedisDeadLetters, letter_to_json
from lexigram_compat.adapters.celery.redis_wire import RedisWire
from lexigram_compat.adapters.celery.runtime import WorkerRuntime
from lexigram_compat.adapters.celery.settings import CelerySettings
from lexigram_compat.adapters.celery.state import JobStateStore
from lexigram_compat.adapters.celery.tasks import register_tasks
from lexigram_compat.config import redact_text, redact_url
from lexigram_compat.envelope import JobEnvelope
from lexigram_compat.errors import BrokerUnavailableError, ConfigurationError
from lexigram_compat.queue import DeadLetter, JobInfo, JobStatus

if TYPE_CHECKING:
    from lexigram_compat.app import TasksApp
    from lexigram_compat.config import BackendConfig, TaskConfig

__all__ = ["CeleryEngine"]

log = logging.getLogger("lexigram_compat.celery")

DEAD_LETTER_SUFFIX = ".dead"
"""RabbitMQ: dead letters are also published to ``<queue>.dead`` through the ``lexigram.dlx`` exchange."""
DLX = "lexigram.dlx"


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
        self._app: TasksApp | None = None
        self._runtime: WorkerRuntime | None = None
        self._redis: Redis | None = None
        self._state: JobStateStore | None = None
        self._dead: RedisDeadLetters | None = None
        self._wire: RedisWire | None = None
        if backend.type == "redis" and backend.state_url is None:
            # Job records and messages on one Redis: one round trip records and publishes.
            prefix = str(self.settings.transport_options.get("global_keyprefix", ""))
            self._wire = RedisWire(self.native, prefix)

    # -- wiring --------------------------------------------------------------------
    def attach(self, app: TasksApp) -> None:
        self._app = app
        self._runtime = WorkerRuntime(app, self)
        self.native.lexigram_runtime = self._runtime
        self._register()
        from lexigram_compat.adapters.celery.beat import install_beat
        from lexigram_compat.worker_hooks_celery import install_celery_hooks

        install_beat(self.native, app, self._runtime)
        install_celery_hooks(self.native, app, next(b for b in app.backend_set if b.engine is self))

    def _register(self) -> None:
        if self._app is None or self._runtime is None:
            return
        backend_set = self._app.backend_set

        def queue_of(name: str | None) -> str:
            for backend in backend_set:
                if backend.engine is self:
                    return backend_set.route(name, backend)[1]
            return name or self.default_queue

        register_tasks(
            self.native, self._app.registry, self._runtime, queue_of, self.config.worker.default_timeout
        )

    @property
    def state(self) -> JobStateStore:
        if self._state is None:
            raise BrokerUnavailableError(
                "the celery engine is not connected", hint="start the app first (async with app: ...)"
            )
        return self._state

    @property
    def dead_letter_store(self) -> RedisDeadLetters:
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
            prefix = self.settings.key_prefix
            self._state = JobStateStore(
                self._redis,
                prefix,
                self.config.retention.completed_seconds,
                redelivery_seconds=self.settings.visibility_timeout,
            )
            self._dead = RedisDeadLetters(
                self._redis,
                prefix,
                self.config.retention,
                on_purge_all=self._purge_dead_queues if self.backend.type == "amqp" else None,
            )

    def forget_connections(self) -> None:
        """Drop (without closing) the Redis client this process inherited over a fork;
        :meth:`connect` makes a new one. The parent still uses the sockets."""
        if self._redis is not None:
            _INHERITED.append(self._redis)  # never garbage-collected (and closed) here
        self._redis = self._state = self._dead = None

    async def close(self) -> None:
        redis, self._redis = self._redis, None
        if redis is not None:
            await redis.aclose()
        # Not self.native.pool.force_close_all(): kombu's connection pools are
        # global per broker URL, so closing one would break every other app on it.

    def native_worker_argv(
        self, module: str, *, queues: Sequence[str] | None, processes: int | None, concurrency: int | None
    ) -> list[str] | None:
        if self._app is None:
            raise ConfigurationError("the celery engine is not attached to an app")
        chosen = list(queues) if queues else self._own_queues()
        pool = self.settings.pool
        if pool == "prefork":
            count = processes or self.config.worker.worker_count
        else:
            count = concurrency or self.config.worker.max_concurrent_tasks
        attribute = self._celery_attribute(module)
        return [
            sys.executable, "-m", "celery", "-A", attribute, "worker",
            "-P", pool, "-c", str(count), "-Q", ",".join(chosen),
            "--without-gossip", "--without-mingle", "--without-heartbeat",
        ]  # fmt: skip

    def _celery_attribute(self, module: str) -> str:
        """``module:name`` of the attribute holding ``app.native`` in the app's module."""
        module_name = module.partition(":")[0]
        loaded = importlib.import_module(module_name)
        for name, value in vars(loaded).items():
            if value is self.native:
                return f"{module_name}:{name}"
        raise ConfigurationError(
            f"module {module_name!r} has no attribute holding the Celery app (app.native) "
            "that `celery worker` needs",
            hint=f"add `celery_app = app.native` to {module_name} (next to the TasksApp)",
        )

    def _own_queues(self) -> list[str]:
        assert self._app is not None
        for backend in self._app.backend_set:
            if backend.engine is self:
                return backend.queues()
        return [self.default_queue]

    # -- producing -----------------------------------------------------------------
    async def enqueue(self, envelopes: Sequence[JobEnvelope], *, connection: Any = None) -> list[str]:
        wire = self._wire
        messages = [(wire.list_key(e.queue), wire.envelope(e)) for e in envelopes] if wire else None
        try:
            created = await self.state.create(envelopes, messages)
        except OSError as exc:
            raise _unavailable("the job-state store (Redis)", exc) from None
        except Exception as exc:
            if type(exc).__module__.startswith("redis"):
                raise _unavailable("the job-state store (Redis)", exc) from None
            raise
        ids: list[str] = []
        for envelope, (fresh, job_id) in zip(envelopes, created, strict=True):
            if fresh and wire is None:
                try:
                    # Off the caller's loop: a blocking AMQP publish (a broker in a
                    # memory or disk alarm holds publishes) must not freeze it.
                    await asyncio.to_thread(self.publish_message, envelope)
                except Exception as exc:
                    await self.state.forget(envelope)
                    raise _unavailable("the broker", exc) from None
            ids.append(job_id)
        return ids

    def publish_message(self, envelope: JobEnvelope) -> None:
        """Publish the Celery message of ``envelope`` (what ``send_task`` sends; no job record)."""
        self.native.send_task(
            envelope.task_name,
            args=envelope.args,
            kwargs=envelope.kwargs,
            task_id=envelope.job_id,
            queue=envelope.queue,
            eta=envelope.run_at,
            retry=True,
            retry_policy={"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5},
            timeout=PUBLISH_TIMEOUT,
            confirm_timeout=PUBLISH_TIMEOUT,
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
                letter_to_json(letter),
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
        queues = self._own_queues() if self._app is not None else [self.default_queue]
        for queue in queues:
            self._purge(queue + DEAD_LETTER_SUFFIX)

    # -- inspecting ------------------------------------------------------------------
    async def get_job(self, job_id: str) -> JobInfo | None:
        return await self.state.get(job_id)

    async def cancel(self, job_id: str) -> bool:
        return await self.state.cancel(job_id)

    async def count(self, queue: str, status: JobStatus | None) -> int:
        return await self.state.count(queue, status)

    async def clear(self, queue: str) -> int:
        cleared = await self.state.clear(queue)
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


PUBLISH_TIMEOUT = 10.0
"""Seconds an AMQP publish may wait for the broker's confirm before it fails (Err)."""

_INHERITED: list[Redis] = []
"""Redis clients inherited from a parent process: kept, never used or closed."""


def _unavailable(what: str, exc: Exception) -> BrokerUnavailableError:
    return BrokerUnavailableError(
        f"enqueue failed: {what} is unreachable ({type(exc).__name__}: {redact_text(str(exc))})",
        hint="check that the server is running and the URL in tasks.backend is right",
        cause=exc,
    )
