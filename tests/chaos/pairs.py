"""The engine x broker pairs of the fault-injection suite, each on private servers.

A :class:`Pair` says which private servers it needs (the first is "the broker"),
the ``tasks:`` section of an app on them, the engine's native worker command
(as ``tests/conformance/engines/*.py`` start it), the log line it prints once it
consumes, and the bad input written straight onto its queue structure.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pika  # type: ignore[import-untyped]
import redis

from lexigram_compat import TasksApp
from lexigram_compat.adapters.celery import CeleryEngine
from lexigram_compat.adapters.postgres import PostgresEngine, apply_migrations
from lexigram_compat.adapters.postgres.sql import DEFAULT_SCHEMA

from .servers import PrivatePostgres, PrivateRabbit, PrivateRedis, Server

__all__ = ["PAIRS", "BadInput", "Pair", "Servers"]

T = TypeVar("T")

WORKER_APP = "tests.chaos.worker_app"
CONCURRENCY = 4
BASE_SECTION: Mapping[str, Any] = {
    "scheduler": {"enabled": False},
    "retry": {
        "max_attempts": 10,
        "base_delay": 0.2,
        "backoff_factor": 2.0,
        "max_delay": 1.0,
        "jitter": False,
    },
    "worker": {
        "max_concurrent_tasks": CONCURRENCY,
        "poll_interval": 0.05,
        "shutdown_timeout": 10.0,
        "default_timeout": 60.0,
    },
}
LEASED = {"worker": {"lease_seconds": 2.0, "heartbeat_interval": 0.4}}
"""A short lease, so a SIGKILLed worker's job comes back within seconds."""
CELERY_VISIBILITY = 4.0
JUNK = b"\x00\xff\xfe chaos junk {"
WRONG_SHAPE = json.dumps({"hello": "chaos", "args": [1]}).encode()


@dataclass
class Servers:
    """The started private servers of one pair, by kind."""

    redis: PrivateRedis | None = None
    rabbit: PrivateRabbit | None = None
    postgres: PrivatePostgres | None = None

    def all(self) -> list[Server]:
        return [s for s in (self.postgres, self.rabbit, self.redis) if s is not None]


@dataclass(frozen=True)
class BadInput:
    label: str
    send: Callable[[TasksApp, Servers], Awaitable[None]]


@dataclass(frozen=True)
class Pair:
    key: str
    kinds: tuple[str, ...]
    """Private servers it needs (``postgres``, ``rabbit``, ``redis``), the broker first."""
    section: Callable[[Servers, str], dict[str, Any]]
    ready: str
    """A regular expression the worker's log matches once it consumes."""
    bad_inputs: tuple[BadInput, ...] = ()
    worker_env: Mapping[str, str] = field(default_factory=dict)

    def worker_argv(self, app: TasksApp) -> list[str]:
        queues = sorted({q for backend in app.backend_set for q in backend.queues()})
        if self.key == "postgres":
            return [
                sys.executable,
                "-m",
                "lexigram_compat.cli",
                "--log-level",
                "info",
                "worker",
                f"{WORKER_APP}:app",
            ]
        if self.key.startswith("dramatiq"):
            argv = app.queue.backend.engine.native_worker_argv(
                f"{WORKER_APP}:app", queues=None, processes=1, concurrency=None
            )
            assert argv is not None
            return argv
        return [
            sys.executable, "-m", "celery", "-A", f"{WORKER_APP}:celery_app", "worker",
            "-P", "threads", "-c", str(CONCURRENCY), "-Q", ",".join(queues),
            "-n", f"chaos-{uuid.uuid4().hex[:8]}@%h", "-l", "info",
            "--without-gossip", "--without-mingle", "--without-heartbeat",
        ]  # fmt: skip

    async def prepare(self, servers: Servers) -> None:
        """Anything the servers need before an app can use them (the PostgreSQL schema)."""
        if servers.postgres is not None:
            await apply_migrations(servers.postgres.url, DEFAULT_SCHEMA)


def _merge(*parts: Mapping[str, Any]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for part in parts:
        for key, value in part.items():
            if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
                merged[key] = _merge(merged[key], value)
            else:
                merged[key] = value
    return merged


def _need(server: T | None) -> T:
    if server is None:
        raise RuntimeError("the pair's private server is not started")
    return server


def _db(url: str, db: int) -> str:
    return f"{url}/{db}"


# -- sections ----------------------------------------------------------------------------
def _postgres(servers: Servers, tag: str) -> dict[str, Any]:
    backend = {"type": "postgres", "postgres_dsn": _need(servers.postgres).url}
    return _merge(BASE_SECTION, LEASED, {"engine": "native", "backend": backend})


def _dramatiq_redis(servers: Servers, tag: str) -> dict[str, Any]:
    backend = {"type": "redis", "redis_url": _db(_need(servers.redis).url, 1)}
    extra = {"dramatiq": {"namespace": f"chaos-{tag}", "maintenance_chance": 1}}
    return _merge(BASE_SECTION, LEASED, {"engine": "dramatiq", "backend": backend, "extra": extra})


def _dramatiq_rabbit(servers: Servers, tag: str) -> dict[str, Any]:
    backend = {
        "type": "amqp",
        "amqp_url": _need(servers.rabbit).url,
        "state_url": _db(_need(servers.redis).url, 2),
        "queue_name": f"tasks-{tag}",
    }
    extra = {"dramatiq": {"namespace": f"chaos-{tag}"}}
    return _merge(BASE_SECTION, LEASED, {"engine": "dramatiq", "backend": backend, "extra": extra})


def _celery(servers: Servers, tag: str, broker: str) -> dict[str, Any]:
    redis_url = _db(_need(servers.redis).url, 8)
    backend: dict[str, Any] = {"type": broker, "redis_url": redis_url}
    transport: dict[str, Any] = {}
    if broker == "redis":
        transport = {
            "global_keyprefix": f"chaos-{tag}:",
            "unacked_restore_interval": 1,
            "unacked_restore_throttle": 1,
            "unacked_mutex_expire": 2,
        }
    else:
        backend |= {"amqp_url": _need(servers.rabbit).url, "queue_name": f"tasks-{tag}"}
    extra = {
        "celery": {
            "key_prefix": f"chaos-{tag}:",
            "visibility_timeout": CELERY_VISIBILITY,
            "transport_options": transport,
        }
    }
    return _merge(BASE_SECTION, {"engine": "celery", "backend": backend, "extra": extra})


# -- bad input, straight onto each broker's queue structure -----------------------------
def _queue(app: TasksApp) -> str:
    return app.queue.backend.queue_name


async def _pg_row(app: TasksApp, payload: bytes) -> None:
    engine = app.queue.backend.engine
    assert isinstance(engine, PostgresEngine)
    await engine.push_raw(_queue(app), payload, f"chaos-raw-{uuid.uuid4()}")


def _namespace(app: TasksApp) -> str:
    return str(app.config.extra["dramatiq"]["namespace"])


def _redis_client(app: TasksApp, servers: Servers, db: int) -> redis.Redis:
    return redis.Redis.from_url(_db(_need(servers.redis).url, db))


def _dramatiq_list_item(app: TasksApp, servers: Servers, payload: bytes) -> None:
    """An item on the queue's list is a message id: raw bytes with no message behind them."""
    with _redis_client(app, servers, 1) as client:
        client.rpush(f"{_namespace(app)}:{_queue(app)}", payload)


def _dramatiq_message(app: TasksApp, servers: Servers, payload: bytes) -> None:
    """A message id on the list whose stored message is ``payload``."""
    rid = str(uuid.uuid4())
    with _redis_client(app, servers, 1) as client:
        client.hset(f"{_namespace(app)}:{_queue(app)}.msgs", rid, payload)
        client.rpush(f"{_namespace(app)}:{_queue(app)}", rid)


def _kombu_list_item(app: TasksApp, servers: Servers, payload: bytes) -> None:
    """An item on kombu's Redis list, as its transport reads it (LPUSH, BRPOP): no envelope."""
    prefix = app.config.extra["celery"]["transport_options"]["global_keyprefix"]
    with _redis_client(app, servers, 8) as client:
        client.lpush(f"{prefix}{_queue(app)}", payload)


def _celery_publish(app: TasksApp, payload: bytes) -> None:
    engine = app.queue.backend.engine
    assert isinstance(engine, CeleryEngine)
    engine.publish_raw(_queue(app), payload)


def _amqp_publish(app: TasksApp, servers: Servers, payload: bytes, headers: dict[str, Any] | None) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(_need(servers.rabbit).url))
    try:
        properties = pika.BasicProperties(delivery_mode=2, headers=headers, content_type="application/x-junk")
        connection.channel().basic_publish(
            exchange="", routing_key=_queue(app), body=payload, properties=properties
        )
    finally:
        connection.close()


def _threaded(fn: Callable[..., None], *args: Any) -> Callable[[TasksApp, Servers], Awaitable[None]]:
    async def send(app: TasksApp, servers: Servers) -> None:
        await asyncio.to_thread(fn, app, servers, *args)

    return send


def _celery_raw(payload: bytes) -> Callable[[TasksApp, Servers], Awaitable[None]]:
    async def send(app: TasksApp, servers: Servers) -> None:
        await asyncio.to_thread(_celery_publish, app, payload)

    return send


def _pg(payload: bytes) -> Callable[[TasksApp, Servers], Awaitable[None]]:
    async def send(app: TasksApp, servers: Servers) -> None:
        await _pg_row(app, payload)

    return send


AMQP_BAD = (
    BadInput("amqp junk body", _threaded(_amqp_publish, JUNK, None)),
    BadInput(
        "amqp wrong-shape body, junk headers", _threaded(_amqp_publish, WRONG_SHAPE, {"x-junk": "\x00?"})
    ),
)

PAIRS: dict[str, Pair] = {
    "postgres": Pair(
        "postgres",
        ("postgres",),
        _postgres,
        r"worker started",
        (
            BadInput("row with junk payload", _pg(JUNK)),
            BadInput("row with wrong-shape payload", _pg(WRONG_SHAPE)),
        ),
    ),
    "dramatiq-redis": Pair(
        "dramatiq-redis",
        ("redis",),
        _dramatiq_redis,
        r"lexigram worker ready",
        (
            BadInput("raw bytes as a list item", _threaded(_dramatiq_list_item, JUNK)),
            BadInput("message of junk bytes", _threaded(_dramatiq_message, JUNK)),
            BadInput("message of wrong-shape JSON", _threaded(_dramatiq_message, WRONG_SHAPE)),
        ),
        {"dramatiq_restart_delay": "200"},
    ),
    "dramatiq-rabbitmq": Pair(
        "dramatiq-rabbitmq",
        ("rabbit", "redis"),
        _dramatiq_rabbit,
        r"lexigram worker ready",
        AMQP_BAD,
        {"dramatiq_restart_delay": "200"},
    ),
    "celery-redis": Pair(
        "celery-redis",
        ("redis",),
        lambda servers, tag: _celery(servers, tag, "redis"),
        r"\S+@\S+ ready\.|Task \S+\[\S+\] received",
        (
            BadInput("raw bytes as a list item", _threaded(_kombu_list_item, JUNK)),
            BadInput("wrong-shape JSON as a list item", _threaded(_kombu_list_item, WRONG_SHAPE)),
            BadInput("junk body in a kombu envelope", _celery_raw(JUNK)),
        ),
    ),
    "celery-rabbitmq": Pair(
        "celery-rabbitmq",
        ("rabbit", "redis"),
        lambda servers, tag: _celery(servers, tag, "amqp"),
        r"\S+@\S+ ready\.|Task \S+\[\S+\] received",
        AMQP_BAD,
    ),
}

READY = {key: re.compile(pair.ready) for key, pair in PAIRS.items()}
