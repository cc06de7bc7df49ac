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
import re
import subprocess
import time
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import redis

from lexigram_compat.adapters.celery import CeleryEngine
from lexigram_compat.envelope import JobEnvelope

from ..harness import EngineHarness, EngineSpec, deep_merge
from ..subprocess_harness import SubprocessHarness, python_module_argv

__all__ = ["SPECS", "CeleryHarness"]

SNAPSHOT = """
local prefix, now, active, known = ARGV[1], tonumber(ARGV[2]), 0, 0
for i = 3, #ARGV do
    local index = prefix .. "idx:" .. ARGV[i] .. ":"
    for _, status in ipairs({"pending", "running", "retrying"}) do
        active = active + redis.call("zcard", index .. status)
    end
    for _, id in ipairs(redis.call("zrange", index .. "scheduled", 0, -1)) do
        if tonumber(redis.call("hget", prefix .. "job:" .. id, "run_at") or "0") > now then
            known = known + 1
        else
            active = active + 1
        end
    end
    known = known + redis.call("zcard", index .. "cancelled")
end
return {active, known}
"""
"""One atomic read of the Redis job ledger's indexes (``redis_ledger.lua``'s key
layout): read status by status, a job moving running -> retrying -> running
between two reads was seen in none of them (the flake of finding 15)."""

REDIS_DB = 8
"""Redis db of the Celery engine's tests (dbs 8-15 are the Celery engine's)."""
VISIBILITY_TIMEOUT = 4.0
"""Short, so a message of a SIGKILLed worker comes back within the crash test."""
CONSUMING = re.compile(r"\S+@\S+ ready\.|Task \S+\[\S+\] received")
"""Celery's log line once it consumes, or of a task it took (see ``wait_ready``)."""
UNACKED_MUTEX_EXPIRE = 2
"""Seconds kombu's Redis restore lock is held at most (default 300)."""


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
                # kombu's restore lock outlives a worker SIGKILLed while holding it
                # (the crash tests kill workers every second or so): by default
                # no worker restores anything for 5 minutes after that.
                "unacked_mutex_expire": UNACKED_MUTEX_EXPIRE,
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
        """Until Celery says ready, or has taken a task: on RabbitMQ a waiting message
        is delivered, and run, while the consumer starts (py-amqp dispatches it during
        ``basic_consume``), before the "ready" line; a job that kills its worker can
        end the process before that line is printed."""

        async def consuming() -> bool:
            if CONSUMING.search(self.log_text()):
                return True
            process = self._process
            if process is not None and process.returncode is not None:
                raise AssertionError(
                    f"the worker exited with code {process.returncode} before it consumed; "
                    f"its log:\n{self.log_tail()}"
                )
            return False

        await EngineHarness.wait_until(self, consuming, "the worker consumes", self.ready_timeout)

    async def idle(self) -> bool:
        """No job waiting, running or retrying in the store, and no message on the
        broker beyond those of jobs delayed into the future or cancelled (a raw
        message has no job record until a worker reads it).

        The records are read in one atomic :data:`SNAPSHOT`, before and after the broker."""
        active, known = await self._record_snapshot()
        if active:
            return False
        if await asyncio.to_thread(self._broker_messages) > known:
            return False
        return await self._record_snapshot() == (0, known)

    async def _record_snapshot(self) -> tuple[int, int]:
        """(jobs pending/running/retrying or scheduled and due, jobs scheduled ahead
        or cancelled), read atomically from the job ledger's indexes."""
        ledger = self._engine.ledger
        reply = await ledger.client.eval(
            SNAPSHOT, 0, ledger.calls.prefix, repr(time.time()), *self.app.queue.backend.queues()
        )
        return int(reply[0]), int(reply[1])

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
