"""The Celery engine through the facade, beside raw Celery, on Redis and RabbitMQ.

Every drain and latency phase runs the real ``celery worker -P threads -c 8``
in a subprocess on this module; :data:`MODE_ENV` tells the imported module what
to build there (the facade's app, or a plain Celery app with plain tasks). Raw
rows: ``task.delay()`` and a plain ``@app.task`` with Celery's default settings
(early acks, prefetch 4, no result backend).

Servers: ``LEXIGRAM_BENCH_REDIS_URL`` (default ``redis://127.0.0.1:6379/10``;
db 10 is kept for these benchmarks) and ``LEXIGRAM_BENCH_AMQP_URL`` (default the
``/`` vhost on 127.0.0.1). Each subject uses its own key prefix and queue,
deleted in ``close``. The latency probe's start time travels back through a
Redis list (the same for every row).

On RabbitMQ the facade publishes with confirms (a publish is ``Ok`` only once
RabbitMQ has it) and acknowledges after the run (``acks_late``):
``celery-rabbitmq-raw-confirm`` does both, the like-for-like baseline, as does
``celery-redis-raw-acks-late`` on Redis; ``celery-rabbitmq-raw`` and
``celery-redis-raw`` are Celery's defaults (early acks).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sys
import time
import uuid
from typing import Any, ClassVar

from benchmarks.harness import Unsupported
from benchmarks.worker_subject import ANCHOR, Shape, WorkerSubject

__all__ = ["SUBJECTS"]

MODE_ENV = "LEXIGRAM_BENCH_CELERY"
REDIS_URL = os.environ.get("LEXIGRAM_BENCH_REDIS_URL", "redis://127.0.0.1:6379/10")
AMQP_URL = os.environ.get("LEXIGRAM_BENCH_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")
THREADS = 8


def _transport(mode: dict[str, Any]) -> dict[str, Any]:
    if mode["broker"] == "redis":
        return {"global_keyprefix": mode["prefix"]}
    return {"confirm_publish": True} if mode["confirm"] else {}


def _probe_key(mode: dict[str, Any]) -> str:
    return f"{mode['prefix']}bench-probe"


def build(mode: dict[str, Any]) -> tuple[Any, Any, Any, Any]:
    """``(celery app, noop, probe, facade app or None)`` for ``mode``."""
    import redis

    probes = redis.Redis.from_url(REDIS_URL)
    key = _probe_key(mode)
    broker_url = REDIS_URL if mode["broker"] == "redis" else AMQP_URL
    if mode["kind"] == "facade":
        from lexigram_compat import TaskConfig, TaskRegistry, TasksApp, task

        registry = TaskRegistry()

        @task(registry=registry, name="bench.noop")
        async def noop() -> None:
            """Does nothing: what is measured is the queue's cost."""

        @task(registry=registry, name="bench.probe")
        async def probe(token: int) -> None:
            probes.rpush(key, f"{token}:{time.time()!r}")

        backend: dict[str, Any] = {
            "type": mode["broker"],
            "queue_name": mode["queue"],
            "redis_url": REDIS_URL,
        }
        if mode["broker"] == "amqp":
            backend["amqp_url"] = AMQP_URL
        section = {
            "engine": "celery",
            "backend": backend,
            "scheduler": {"enabled": False},
            "worker": {"max_concurrent_tasks": mode.get("concurrency", THREADS)},
            "extra": {
                "celery": {
                    "key_prefix": mode["prefix"],
                    "transport_options": _transport(mode),
                    "pool": mode.get("pool", "threads"),
                }
            },
        }
        app = TasksApp(TaskConfig.from_dict({"tasks": section}, environ={}), registry=registry)
        return app.native, noop, probe, app

    from celery import Celery

    plain = Celery("bench-raw", broker=broker_url, set_as_current=False)
    plain.conf.update(
        task_default_queue=mode["queue"],
        broker_transport_options=_transport(mode),
        worker_hijack_root_logger=False,
        worker_enable_remote_control=False,
    )
    if mode.get("acks_late"):  # the facade's delivery guarantee, on Celery's own settings
        plain.conf.update(task_acks_late=True, task_reject_on_worker_lost=True)

    @plain.task(name="bench.noop", shared=False)  # type: ignore[untyped-decorator]
    def raw_noop() -> None:
        """Does nothing."""

    @plain.task(name="bench.probe", shared=False)  # type: ignore[untyped-decorator]
    def raw_probe(token: int) -> None:
        probes.rpush(key, f"{token}:{time.time()!r}")

    return plain, raw_noop, raw_probe, None


if MODE_ENV in os.environ:  # imported by `celery worker` in a worker subprocess
    logging.getLogger("lexigram_compat").setLevel(logging.WARNING)
    WORKER_APP = build(json.loads(os.environ[MODE_ENV]))[0]


class _CelerySubject(WorkerSubject):
    kind: ClassVar[str]
    broker: ClassVar[str]
    confirm: ClassVar[bool] = True
    acks_late: ClassVar[bool] = False
    ready_marker = b" ready."

    def __init__(self, shape: Shape = ANCHOR) -> None:
        tag = f"lxbench-{uuid.uuid4().hex[:10]}"
        self.mode: dict[str, Any] = {
            "kind": self.kind,
            "broker": self.broker,
            "prefix": f"{tag}:",
            "queue": f"q-{tag}",
            "confirm": self.confirm,
            "acks_late": self.acks_late,
            "pool": shape.pool,
            "concurrency": shape.concurrency,
        }
        super().__init__(tag, REDIS_URL, _probe_key(self.mode), shape)
        self.celery, self.noop, self.probe_task, self.app = build(self.mode)

    async def open(self) -> None:
        await super().open()
        if self.app is not None:
            await self.app.start()

    async def close(self) -> None:
        await self.stop_worker()
        if self.app is not None:
            await self.app.close()
        keys = [k async for k in self.redis.scan_iter(match=f"{self.mode['prefix']}*", count=1000)]
        if keys:
            await self.redis.delete(*keys)
        await super().close()
        if self.broker == "amqp":
            await asyncio.to_thread(self._delete_queue)

    def _delete_queue(self) -> None:
        with self.celery.connection_for_write() as conn, contextlib.suppress(Exception):
            conn.default_channel.queue_delete(self.mode["queue"])

    def worker_argv(self) -> list[str]:
        return [
            sys.executable, "-m", "celery", "-A", f"{__name__}:WORKER_APP", "worker",
            "-P", self.shape.pool, "-c", str(self._pool_size()), "-Q", self.mode["queue"], "-l", "info",
            "-n", f"{self.mode['queue']}@%h", "--without-gossip", "--without-mingle", "--without-heartbeat",
        ]  # fmt: skip

    def _pool_size(self) -> int:
        """Celery's ``-c``: threads of the one process, or prefork child processes."""
        if self.shape.pool == "prefork":
            return self.shape.processes
        if self.shape.processes != 1:
            raise ValueError(f"celery -P {self.shape.pool} runs one process, not {self.shape.processes}")
        return self.shape.concurrency

    def worker_env(self) -> dict[str, str]:
        return {MODE_ENV: json.dumps(self.mode)}

    async def left(self) -> int:
        """Messages not yet done: on Redis those queued or unacked; on RabbitMQ the ready ones."""
        if self.broker == "redis":
            prefix, queue = self.mode["prefix"], self.mode["queue"]
            queued = await self.redis.llen(f"{prefix}{queue}")
            unacked = await self.redis.hlen(f"{prefix}unacked")
            return int(queued) + int(unacked)
        return await asyncio.to_thread(self._ready)

    def _ready(self) -> int:
        with self.celery.connection_for_read() as conn:
            _, count, _ = conn.default_channel.queue_declare(self.mode["queue"], passive=True)
            return int(count)


class _Facade(_CelerySubject):
    kind = "facade"

    async def enqueue_one(self) -> None:
        (await self.app.queue.enqueue(self.noop())).unwrap()

    async def enqueue_many(self, count: int) -> None:
        (await self.app.queue.enqueue_many([self.noop() for _ in range(count)])).unwrap()

    async def send_probe(self, token: int) -> None:
        (await self.app.queue.enqueue(self.probe_task(token))).unwrap()


class _Raw(_CelerySubject):
    kind = "raw"

    async def enqueue_one(self) -> None:
        self.noop.delay()

    async def enqueue_many(self, count: int) -> None:
        raise Unsupported("Celery has no batch publish")

    async def send_probe(self, token: int) -> None:
        self.probe_task.delay(token)


class CeleryRedisFacade(_Facade):
    title = "celery-redis (facade)"
    broker = "redis"


class CeleryRedisRaw(_Raw):
    title = "celery-redis (raw task.delay)"
    broker = "redis"


class CeleryRedisRawAcksLate(_Raw):
    title = "celery-redis (raw task.delay, acks_late)"
    broker = "redis"
    acks_late = True


class CeleryRabbitmqFacade(_Facade):
    title = "celery-rabbitmq (facade, confirms)"
    broker = "amqp"


class CeleryRabbitmqRaw(_Raw):
    title = "celery-rabbitmq (raw task.delay)"
    broker = "amqp"
    confirm = False


class CeleryRabbitmqRawConfirm(_Raw):
    title = "celery-rabbitmq (raw task.delay, confirms, acks_late)"
    broker = "amqp"
    acks_late = True


SUBJECTS = {
    "celery-redis": CeleryRedisFacade,
    "celery-redis-raw": CeleryRedisRaw,
    "celery-redis-raw-acks-late": CeleryRedisRawAcksLate,
    "celery-rabbitmq": CeleryRabbitmqFacade,
    "celery-rabbitmq-raw": CeleryRabbitmqRaw,
    "celery-rabbitmq-raw-confirm": CeleryRabbitmqRawConfirm,
}
"""Found by ``benchmarks.harness.all_subjects``."""
