"""The Dramatiq engine on Redis and RabbitMQ, run by the real ``dramatiq`` CLI.

Isolation: on Redis, every test has its own key namespace (broker queues, dead
letters and job state) in db 1; on RabbitMQ, every test process has its own
vhost (created with ``rabbitmqctl``, deleted at exit), every test its own
default queue, and the suite's fixed named queue is deleted before each test;
the job state is in Redis db 2 under the test's own namespace.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import subprocess
import sys
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

import pika  # type: ignore[import-untyped]
import redis.asyncio

from lexigram_compat.adapters.dramatiq import DramatiqEngine
from lexigram_compat.adapters.dramatiq.messages import message_of
from lexigram_compat.envelope import JobEnvelope
from lexigram_compat.queue import JobStatus

from .. import jobs
from ..harness import EngineSpec, deep_merge
from ..subprocess_harness import SubprocessHarness

__all__ = ["SPECS", "DramatiqHarness"]

REDIS_DB = 1
"""The Redis db of the dramatiq-redis tests (1-7 are reserved for Dramatiq tests)."""
STATE_DB = 2
"""The Redis db of the job state of the dramatiq-rabbitmq tests."""
SUITE_EXTRA: Mapping[str, Any] = {
    "worker": {"lease_seconds": 2.0},  # a SIGKILLed worker's job comes back after 2 s
}
WORKER_ENV = {
    "dramatiq_restart_delay": "200",  # a consumer that lost its connection retries soon
}


def _with_db(url: str, db: int) -> str:
    return f"{url.rstrip('/')}/{db}"


class _Vhost:
    """One RabbitMQ vhost per test process, deleted when the process exits."""

    name: str | None = None

    @classmethod
    def get(cls) -> str:
        if cls.name is None:
            name = f"lexigram-dq-{uuid.uuid4().hex[:12]}"
            for argv in (
                ["rabbitmqctl", "-q", "add_vhost", name],
                ["rabbitmqctl", "-q", "set_permissions", "-p", name, "guest", ".*", ".*", ".*"],
            ):
                subprocess.run(argv, check=True, capture_output=True, timeout=60)
            cls.name = name
            atexit.register(cls.delete)
        return cls.name

    @classmethod
    def delete(cls) -> None:
        if cls.name is not None:
            with contextlib.suppress(Exception):
                argv = ["rabbitmqctl", "-q", "delete_vhost", cls.name]
                subprocess.run(argv, check=False, capture_output=True, timeout=60)
            cls.name = None


class DramatiqHarness(SubprocessHarness):
    """Runs ``dramatiq tests.conformance.worker_app`` with the test's app."""

    broker: ClassVar[str]

    def __init__(
        self,
        key: str,
        section: Mapping[str, Any],
        recorder_path: Path,
        services: Mapping[str, Any] | None = None,
    ) -> None:
        self.namespace = f"lxt-{uuid.uuid4().hex[:12]}"
        services = services or {}
        super().__init__(key, deep_merge(section, self.own_section(services)), recorder_path, services)

    def own_section(self, services: Mapping[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    @property
    def engine_object(self) -> DramatiqEngine:
        engine = self.app.queue.backend.engine
        assert isinstance(engine, DramatiqEngine)
        return engine

    def worker_argv(self) -> list[str]:
        argv = self.engine_object.native_worker_argv(
            "tests.conformance.worker_app:app", queues=None, processes=1, concurrency=None
        )
        assert argv is not None
        return argv

    def worker_env(self) -> dict[str, str]:
        return {**super().worker_env(), **WORKER_ENV}

    async def wait_ready(self) -> None:
        await self.wait_for_log(r"lexigram worker ready")

    async def start_worker(self) -> None:
        try:
            await super().start_worker()
        except AssertionError:
            if self.log_text().strip().count("\n") > 0:
                raise  # it printed something: a real start-up failure
            # A job that SIGKILLs its worker (the poison-pill test) can run and kill
            # the worker process after its consumers started and before it reported
            # online to the `dramatiq` main process, which then prints nothing while it
            # waits (--worker-fork-timeout, 30 s). The job ran, as it should; the
            # harness starts the worker once more; a second silent start fails.
            print("dramatiq worker printed nothing in 30 s; starting it again", file=sys.stderr)
            await super().start_worker()

    async def idle(self) -> bool:
        # One atomic count per queue: counting status by status could miss a job
        # moving from retrying to running between two counts.
        ledger = self.engine_object.ledger
        assert ledger is not None
        busy = (JobStatus.PENDING, JobStatus.RUNNING, JobStatus.RETRYING)
        for queue in self.queues():
            if await ledger.run(ledger.calls.count(queue, busy)):
                return False
        return await self.broker_empty()

    async def broker_empty(self) -> bool:
        raise NotImplementedError

    def queues(self) -> list[str]:
        return sorted({q for backend in self.app.backend_set for q in backend.queues()})


class RedisHarness(DramatiqHarness):
    broker = "redis"

    def own_section(self, services: Mapping[str, Any]) -> dict[str, Any]:
        self.redis_url = _with_db(services["redis_service"].url, REDIS_DB)
        # maintenance_chance 1 (per million calls): Dramatiq's own chance-based
        # maintenance practically never runs, so the crash test shows that the
        # worker's forced pass every heartbeat brings a dead worker's job back.
        return deep_merge(
            SUITE_EXTRA,
            {
                "backend": {"redis_url": self.redis_url},
                "extra": {"dramatiq": {"namespace": self.namespace, "maintenance_chance": 1}},
            },
        )

    async def start(self) -> None:
        self.client = redis.asyncio.Redis.from_url(self.redis_url)
        await super().start()

    async def close(self) -> None:
        try:
            await super().close()
        finally:
            keys = [key async for key in self.client.scan_iter(match=f"{self.namespace}:*", count=1000)]
            if keys:
                await self.client.delete(*keys)
            await self.client.aclose()

    async def push_raw(self, queue: str, payload: bytes) -> None:
        rid = str(uuid.uuid4())
        await self.client.hset(f"{self.namespace}:{queue}.msgs", rid, payload)
        await self.client.rpush(f"{self.namespace}:{queue}", rid)

    async def push_on_wire(self, queue: str, payload: bytes) -> None:
        # An item on the list is a message id: these bytes are one with no message.
        await self.client.rpush(f"{self.namespace}:{queue}", payload)

    async def push_envelope(self, envelope: JobEnvelope) -> None:
        rid = str(uuid.uuid4())
        message = message_of(envelope)
        payload = message.copy(options={"redis_message_id": rid}).encode()
        await self.client.hset(f"{self.namespace}:{envelope.queue}.msgs", rid, payload)
        await self.client.rpush(f"{self.namespace}:{envelope.queue}", rid)

    async def broker_empty(self) -> bool:
        for queue in self.queues():
            if await self.client.hlen(f"{self.namespace}:{queue}.msgs"):
                return False
        return True


class RabbitmqHarness(DramatiqHarness):
    broker = "amqp"

    def own_section(self, services: Mapping[str, Any]) -> dict[str, Any]:
        base = services["rabbitmq_service"].url
        parts = urlsplit(base)
        self.amqp_url = f"{parts.scheme}://{parts.netloc}/{_Vhost.get()}"
        self.state_url = _with_db(services["redis_service"].url, STATE_DB)
        return deep_merge(
            SUITE_EXTRA,
            {
                "backend": {
                    "amqp_url": self.amqp_url,
                    "state_url": self.state_url,
                    "queue_name": f"tasks-{self.namespace}",
                },
                "extra": {"dramatiq": {"namespace": self.namespace}},
            },
        )

    def _blocking(self) -> pika.BlockingConnection:
        return pika.BlockingConnection(pika.URLParameters(self.amqp_url))

    def _delete_queues(self, names: list[str]) -> None:
        connection = self._blocking()
        try:
            channel = connection.channel()
            for name in names:
                for suffix in ("", ".DQ", ".XQ"):
                    channel.queue_delete(queue=name + suffix)
        finally:
            connection.close()

    async def start(self) -> None:
        await asyncio.to_thread(self._delete_queues, [jobs.NAMED_QUEUE])
        self.client = redis.asyncio.Redis.from_url(self.state_url)
        await super().start()

    async def close(self) -> None:
        try:
            await super().close()
        finally:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self._delete_queues, self.queues_known())
            keys = [key async for key in self.client.scan_iter(match=f"{self.namespace}:*", count=1000)]
            if keys:
                await self.client.delete(*keys)
            await self.client.aclose()

    def queues_known(self) -> list[str]:
        return [self.section["backend"]["queue_name"], jobs.NAMED_QUEUE]

    def _publish(self, queue: str, payload: bytes) -> None:
        broker: Any = self.engine_object.native
        broker.declare_queue(queue, ensure=True)
        broker.channel.basic_publish(
            exchange="", routing_key=queue, body=payload, properties=pika.BasicProperties(delivery_mode=2)
        )

    async def push_raw(self, queue: str, payload: bytes) -> None:
        await asyncio.to_thread(self._publish, queue, payload)

    async def push_envelope(self, envelope: JobEnvelope) -> None:
        await asyncio.to_thread(self._publish, envelope.queue, message_of(envelope).encode())

    def _ready(self) -> int:
        broker: Any = self.engine_object.native
        total = 0
        for queue in self.queues():
            ready, _, _ = broker.get_queue_message_counts(queue)
            total += int(ready)
        return total

    async def broker_empty(self) -> bool:
        return await asyncio.to_thread(self._ready) == 0


SPECS = [
    EngineSpec(
        "dramatiq-redis",
        {"engine": "dramatiq", "backend": {"type": "redis"}},
        RedisHarness,
        fixtures=("redis_service",),
    ),
    EngineSpec(
        "dramatiq-rabbitmq",
        {"engine": "dramatiq", "backend": {"type": "amqp", "state_url": "redis://127.0.0.1:6379/2"}},
        RabbitmqHarness,
        fixtures=("rabbitmq_service", "redis_service"),
    ),
]
