"""The Dramatiq engine through the facade, beside raw Dramatiq, on Redis and RabbitMQ.

Every drain and latency phase runs the real ``dramatiq`` CLI (``-p 1 -t 8``, or
the subject's shape) in
a subprocess on this module; the environment variable :data:`MODE_ENV` tells
the imported module what to build there (the facade's app, or plain actors on
a plain broker). Raw rows: ``actor.send()`` and a plain ``@dramatiq.actor``.

Servers: ``LEXIGRAM_BENCH_REDIS_URL`` (default ``redis://127.0.0.1:6379/4``,
db 4 is kept for these benchmarks) and ``LEXIGRAM_BENCH_AMQP_URL`` (default the
``/`` vhost on 127.0.0.1). Each subject instance uses its own key namespace and
queue name, deleted in ``close``. The latency probe's start time travels back
through a Redis list (the same for every row).

On RabbitMQ the facade publishes with confirms (a publish is ``Ok`` only once
RabbitMQ has it): ``dramatiq-rabbitmq-raw`` does too, the like-for-like
baseline; ``dramatiq-rabbitmq-raw-noconfirm`` is Dramatiq's default. The
``-raw-async`` rows run an ``async def`` actor on Dramatiq's ``AsyncIO`` middleware.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import time
import uuid
from typing import Any, ClassVar

from benchmarks.harness import Subject, Unsupported
from benchmarks.worker_subject import ANCHOR, Shape, WorkerSubject

__all__ = ["SUBJECTS"]

MODE_ENV = "LEXIGRAM_BENCH_DRAMATIQ"
REDIS_URL = os.environ.get("LEXIGRAM_BENCH_REDIS_URL", "redis://127.0.0.1:6379/4")
AMQP_URL = os.environ.get("LEXIGRAM_BENCH_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2f")
THREADS = 8


def _section(mode: dict[str, Any]) -> dict[str, Any]:
    backend: dict[str, Any] = {"type": mode["broker"], "queue_name": mode["queue"]}
    if mode["broker"] == "redis":
        backend["redis_url"] = REDIS_URL
    else:
        backend["amqp_url"] = AMQP_URL
        backend["state_url"] = REDIS_URL
    return {
        "engine": "dramatiq",
        "backend": backend,
        "scheduler": {"enabled": False},
        "worker": {"max_concurrent_tasks": mode.get("threads", THREADS)},
        "extra": {"dramatiq": {"namespace": mode["namespace"]}},
    }


def _probe_key(mode: dict[str, Any]) -> str:
    return f"{mode['namespace']}:bench-probe"


def build(mode: dict[str, Any]) -> tuple[Any, Any, Any]:
    """``(broker, noop, probe)``: the facade's app and tasks, or a plain broker and actors."""
    import redis

    probes = redis.Redis.from_url(REDIS_URL)
    key = _probe_key(mode)
    if mode["kind"] == "facade":
        from lexigram_compat import TaskConfig, TaskRegistry, TasksApp, task

        registry = TaskRegistry()

        @task(registry=registry, name="bench.noop")
        async def noop() -> None:
            """Does nothing: what is measured is the queue's cost."""

        @task(registry=registry, name="bench.probe")
        async def probe(token: int) -> None:
            probes.rpush(key, f"{token}:{time.time()!r}")

        app = TasksApp(TaskConfig.from_dict({"tasks": _section(mode)}, environ={}), registry=registry)
        return app, noop, probe

    import dramatiq

    broker: Any
    if mode["broker"] == "redis":
        from dramatiq.brokers.redis import RedisBroker

        broker = RedisBroker(url=REDIS_URL, namespace=mode["namespace"])  # type: ignore[no-untyped-call]
    else:
        from dramatiq.brokers.rabbitmq import RabbitmqBroker

        broker = RabbitmqBroker(url=AMQP_URL, confirm_delivery=mode["confirm"])
    if mode.get("async"):  # async def actors, run on the AsyncIO middleware's loop as the facade's are
        from dramatiq.middleware import AsyncIO

        broker.add_middleware(AsyncIO())
    dramatiq.set_broker(broker)
    raw_noop: Any
    raw_probe: Any
    if mode.get("async"):

        async def raw_noop() -> None:
            """Does nothing."""

        async def raw_probe(token: int) -> None:
            probes.rpush(key, f"{token}:{time.time()!r}")

    else:

        def raw_noop() -> None:
            """Does nothing."""

        def raw_probe(token: int) -> None:
            probes.rpush(key, f"{token}:{time.time()!r}")

    queue = mode["queue"]
    declared = (
        dramatiq.Actor(
            raw_noop, broker=broker, actor_name="bench_noop", queue_name=queue, priority=0, options={}
        ),
        dramatiq.Actor(
            raw_probe, broker=broker, actor_name="bench_probe", queue_name=queue, priority=0, options={}
        ),
    )
    return broker, *declared


if MODE_ENV in os.environ:  # imported by the dramatiq CLI in a worker subprocess
    # One INFO line per finished job would measure the log pipe, not the queue
    # (the in-process subjects quieten the same logger).
    logging.getLogger("lexigram_compat").setLevel(logging.WARNING)
    WORKER_APP = build(json.loads(os.environ[MODE_ENV]))


class _DramatiqSubject(WorkerSubject):
    kind: ClassVar[str]
    broker: ClassVar[str]
    confirm: ClassVar[bool] = True
    asynchronous: ClassVar[bool] = False
    ready_marker = b"Worker process is ready for action"

    def __init__(self, shape: Shape = ANCHOR) -> None:
        ns = f"lxbench-{uuid.uuid4().hex[:10]}"
        self.mode: dict[str, Any] = {
            "kind": self.kind,
            "broker": self.broker,
            "namespace": ns,
            "queue": f"q-{ns}",
            "confirm": self.confirm,
            "async": self.asynchronous,
            "threads": shape.concurrency,
        }
        super().__init__(ns, REDIS_URL, _probe_key(self.mode), shape)
        self.target, self.noop, self.probe_task = build(self.mode)

    def ready_lines(self) -> int:
        return self.shape.processes  # each worker process says it is ready

    def stop_after_drain(self) -> bool:
        return self.broker == "amqp"  # RabbitMQ does not count unacked messages: the stop waits for them

    async def close(self) -> None:
        await self.stop_worker()
        keys = [k async for k in self.redis.scan_iter(match=f"{self.mode['namespace']}:*", count=1000)]
        if keys:
            await self.redis.delete(*keys)
        await super().close()
        if self.broker == "amqp":
            await asyncio.to_thread(self._delete_queues)

    def _delete_queues(self) -> None:
        import pika  # type: ignore[import-untyped]

        connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
        channel = connection.channel()
        for suffix in ("", ".DQ", ".XQ"):
            channel.queue_delete(queue=self.mode["queue"] + suffix)
        connection.close()

    def worker_argv(self) -> list[str]:
        processes, threads = str(self.shape.processes), str(self.shape.concurrency)
        return [sys.executable, "-m", "dramatiq", __name__, "-p", processes, "-t", threads]

    def worker_env(self) -> dict[str, str]:
        return {MODE_ENV: json.dumps(self.mode)}

    async def left(self) -> int:
        """Jobs not yet done: on Redis every message until acked; on RabbitMQ the ready ones."""
        if self.broker == "redis":
            return int(await self.redis.hlen(f"{self.mode['namespace']}:{self.mode['queue']}.msgs"))
        return await asyncio.to_thread(self._ready)

    def _ready(self) -> int:
        import pika

        connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
        try:
            ready = (
                connection.channel()
                .queue_declare(queue=self.mode["queue"], passive=True)
                .method.message_count
            )
        finally:
            connection.close()
        return int(ready)


class _Facade(_DramatiqSubject):
    kind = "facade"

    async def open(self) -> None:
        await super().open()
        await self.target.start()

    async def close(self) -> None:
        await self.target.close()
        await super().close()

    async def enqueue_one(self) -> None:
        (await self.target.queue.enqueue(self.noop())).unwrap()

    async def enqueue_many(self, count: int) -> None:
        (await self.target.queue.enqueue_many([self.noop() for _ in range(count)])).unwrap()

    async def send_probe(self, token: int) -> None:
        (await self.target.queue.enqueue(self.probe_task(token))).unwrap()


class _Raw(_DramatiqSubject):
    kind = "raw"

    async def close(self) -> None:
        self.target.close()
        await super().close()

    async def enqueue_one(self) -> None:
        self.noop.send()

    async def enqueue_many(self, count: int) -> None:
        raise Unsupported("Dramatiq has no batch enqueue")

    async def send_probe(self, token: int) -> None:
        self.probe_task.send(token)


class RedisFacade(_Facade):
    """``TasksApp`` on the Dramatiq engine, Redis broker."""

    title = "dramatiq-redis (facade)"
    broker = "redis"


class RedisRaw(_Raw):
    """Plain Dramatiq on Redis: ``actor.send()``, a plain actor."""

    title = "dramatiq-redis (raw)"
    broker = "redis"


class RedisRawAsync(_Raw):
    """Plain Dramatiq on Redis with an ``async def`` actor (the ``AsyncIO`` middleware)."""

    title = "dramatiq-redis (raw, async def)"
    broker = "redis"
    asynchronous = True


class RabbitmqRawAsync(_Raw):
    """Plain Dramatiq on RabbitMQ with confirms and an ``async def`` actor."""

    title = "dramatiq-rabbitmq (raw, confirms, async def)"
    broker = "amqp"
    asynchronous = True


class RabbitmqFacade(_Facade):
    """``TasksApp`` on the Dramatiq engine, RabbitMQ broker with publisher confirms."""

    title = "dramatiq-rabbitmq (facade)"
    broker = "amqp"


class RabbitmqRaw(_Raw):
    """Plain Dramatiq on RabbitMQ with ``confirm_delivery=True`` (like the facade)."""

    title = "dramatiq-rabbitmq (raw, confirms)"
    broker = "amqp"


class RabbitmqRawNoConfirm(_Raw):
    """Plain Dramatiq on RabbitMQ, its default ``confirm_delivery=False``."""

    title = "dramatiq-rabbitmq (raw, no confirms)"
    broker = "amqp"
    confirm = False


SUBJECTS: dict[str, type[Subject]] = {
    "dramatiq-redis": RedisFacade,
    "dramatiq-redis-raw": RedisRaw,
    "dramatiq-redis-raw-async": RedisRawAsync,
    "dramatiq-rabbitmq-raw-async": RabbitmqRawAsync,
    "dramatiq-rabbitmq": RabbitmqFacade,
    "dramatiq-rabbitmq-raw": RabbitmqRaw,
    "dramatiq-rabbitmq-raw-noconfirm": RabbitmqRawNoConfirm,
}
"""Found by ``benchmarks.harness.all_subjects``."""
