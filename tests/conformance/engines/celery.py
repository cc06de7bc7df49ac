"""The Celery engine on Redis and RabbitMQ: the real ``celery worker`` runs the jobs.

Isolation: every test gets its own key prefix (job state, dead letters and, on
Redis, kombu's ``global_keyprefix`` for the broker's lists) in Redis db
:data:`REDIS_DB`; on RabbitMQ each test process gets its own vhost (created with
``rabbitmqctl``, deleted at exit) and each test its own default queue, with the
fixed named queue purged at the start of each test.
"""

from __future__ import annotations

import asyncio
import atexit
import functools
import os
import subprocess
import time
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import redis

from lexigram_compat.adapters.celery import CeleryEngine
from lexigram_compat.envelope import JobEnvelope
from lexigram_compat.queue import JobStatus

from ..harness import EngineSpec, deep_merge
from ..subprocess_harness import SubprocessHarness, python_module_argv

__all__ = ["SPECS", "CeleryHarness"]

REDIS_DB = 8
"""Redis db of the Celery engine's tests (dbs 8-15 are the Celery engine's)."""
VISIBILITY_TIMEOUT = 4.0
"""Short, so a message of a SIGKILLed worker comes back within the crash test."""


def _redis_url(base: str, db: int = REDIS_DB) -> str:
    parts = urlsplit(base)
    return urlunsplit((parts.scheme, parts.netloc, f"/{db}", "", ""))


@functools.cache
def _session_vhost() -> str:
    """A RabbitMQ vhost for this test process, deleted when it exits."""
    name = f"lexigram-celery-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}-{uuid.uuid4().hex[:8]}"
    subprocess.run(["rabbitmqctl", "-q", "add_vhost", name], check=True, capture_output=True, timeout=60)
    subprocess.run(
        ["rabbitmqctl", "-q", "set_permissions", "-p", name, "guest", ".*", ".*", ".*"],
        check=True,
        capture_output=True,
        timeout=60,
    )
    atexit.register(
        subprocess.run, ["rabbitmqctl", "-q", "delete_vhost", name], capture_output=True, timeout=60
    )
    return name


class CeleryHarness(SubprocessHarness):
    """``celery worker -P threads`` on the test's app, one per drain()/start_worker()."""

    graceful_exit_codes = frozenset({0})

    async def start(self) -> None:
        tag = uuid.uuid4().hex[:12]
        prefix = f"lxc-{tag}:"
        redis_url = _redis_url(self.services["redis_service"].url)
        transport: dict[str, Any] = {}
        backend: dict[str, Any] = {"redis_url": redis_url}
        if self.section["backend"]["type"] == "redis":
            transport = {
                "global_keyprefix": prefix,
                "unacked_restore_interval": 1,
                "unacked_restore_throttle": 1,
            }
        else:
            amqp = urlsplit(self.services["rabbitmq_service"].url)
            vhost = await asyncio.to_thread(_session_vhost)
            backend["amqp_url"] = urlunsplit((amqp.scheme, amqp.netloc, f"/{vhost}", "", ""))
            backend["queue_name"] = f"tasks-{tag}"
        self._prefix = prefix
        self._redis_url = redis_url
        extra = {
            "celery": {
                "key_prefix": prefix,
                "visibility_timeout": VISIBILITY_TIMEOUT,
                "transport_options": transport,
            }
        }
        self.section = deep_merge(self.section, {"backend": backend, "extra": extra})
        await super().start()
        for queue in self.app.queue.backend.queues()[1:]:
            await asyncio.to_thread(self._engine._purge, queue)

    async def close(self) -> None:
        try:
            await super().close()
        finally:
            await asyncio.to_thread(self._delete_keys)

    def _delete_keys(self) -> None:
        client = redis.Redis.from_url(self._redis_url)
        try:
            keys = list(client.scan_iter(match=f"{self._prefix}*", count=1000))
            for start in range(0, len(keys), 500):
                client.delete(*keys[start : start + 500])
        finally:
            client.close()

    @property
    def _engine(self) -> CeleryEngine:
        engine = self.app.queue.backend.engine
        assert isinstance(engine, CeleryEngine)
        return engine

    def worker_argv(self) -> list[str]:
        concurrency = self.app.config.worker.max_concurrent_tasks
        return python_module_argv(
            "celery", "-A", "tests.conformance.worker_app:celery_app", "worker",
            "-P", "threads", "-c", str(concurrency), "-Q", ",".join(self.app.queue.backend.queues()),
            "-n", f"conformance-{uuid.uuid4().hex[:8]}@%h", "-l", "info",
            "--without-gossip", "--without-mingle", "--without-heartbeat",
        )  # fmt: skip

    async def wait_ready(self) -> None:
        await self.wait_for_log(r"celery@\S+ ready|\S+@\S+ ready")

    async def idle(self) -> bool:
        """No job waiting, running or retrying in the store, and no message on the
        broker beyond those of jobs delayed into the future or cancelled (a raw
        message has no job record until a worker reads it).

        The records are read in one MULTI snapshot, before and after the broker:
        read status by status, a job moving running -> retrying -> running between
        two reads was seen in none of them (the flake of finding 15)."""
        active, known = await self._record_snapshot()
        if active:
            return False
        if await asyncio.to_thread(self._broker_messages) > known:
            return False
        return await self._record_snapshot() == (0, known)

    async def _record_snapshot(self) -> tuple[int, int]:
        """(jobs pending/running/retrying, jobs scheduled ahead or cancelled), atomically."""
        state = self._engine.state
        now = time.time()
        pipe = state.redis.pipeline(transaction=True)
        for queue in self.app.queue.backend.queues():
            for status in (JobStatus.PENDING, JobStatus.RUNNING, JobStatus.RETRYING):
                pipe.zcard(state.index_key(queue, status.value))
            pipe.zcount(state.index_key(queue, JobStatus.SCHEDULED.value), "-inf", now)
            pipe.zcount(state.index_key(queue, JobStatus.SCHEDULED.value), f"({now}", "+inf")
            pipe.zcard(state.index_key(queue, JobStatus.CANCELLED.value))
        counts = [int(c) for c in await pipe.execute()]
        active = sum(sum(counts[i : i + 4]) for i in range(0, len(counts), 6))
        known = sum(sum(counts[i + 4 : i + 6]) for i in range(0, len(counts), 6))
        return active, known

    def _broker_messages(self) -> int:
        """Messages ready in the queues, plus (on Redis) those delivered and not acked."""
        engine = self._engine
        total = sum(engine.queue_depth(queue) for queue in self.app.queue.backend.queues())
        if self.section["backend"]["type"] == "redis":
            with engine.native.connection_for_read() as conn:
                channel = conn.default_channel
                total += int(channel.client.hlen(channel.unacked_key))
        return total

    async def push_raw(self, queue: str, payload: bytes) -> None:
        await asyncio.to_thread(self._engine.publish_raw, queue, payload)

    async def push_on_wire(self, queue: str, payload: bytes) -> None:
        if self.section["backend"]["type"] != "redis":
            await self.push_raw(queue, payload)
            return
        # The item itself, as kombu's Redis transport reads it (LPUSH, BRPOP): no envelope.
        client = redis.Redis.from_url(self._redis_url)
        try:
            await asyncio.to_thread(client.lpush, f"{self._prefix}{queue}", payload)
        finally:
            client.close()

    async def push_envelope(self, envelope: JobEnvelope) -> None:
        # As a plain Celery producer would send it: a message, no job record.
        await asyncio.to_thread(self._engine.publish_message, envelope)


BASE: Mapping[str, Any] = {"engine": "celery"}
SPECS = [
    EngineSpec(
        "celery-redis",
        deep_merge(BASE, {"backend": {"type": "redis"}}),
        CeleryHarness,
        fixtures=("redis_service",),
    ),
    EngineSpec(
        "celery-rabbitmq",
        deep_merge(BASE, {"backend": {"type": "amqp"}}),
        CeleryHarness,
        fixtures=("redis_service", "rabbitmq_service"),
    ),
]
