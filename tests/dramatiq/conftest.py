"""Fixtures of the Dramatiq engine's own tests: real Redis and RabbitMQ, isolated.

Redis: db 3 with a key namespace per test (deleted afterwards). RabbitMQ: the
test process's own vhost (shared with the conformance harness, deleted at
exit) and a queue name per test.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import urlsplit

import pytest
import redis.asyncio

from lexigram_compat import TaskRegistry, TasksApp
from tests.conformance.engines.dramatiq import _Vhost
from tests.services import Service

REDIS_DB = 3

AppFactory = Callable[..., TasksApp]


@pytest.fixture
def namespace() -> str:
    return f"lxd-{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def redis_url(redis_service: Service, namespace: str) -> AsyncIterator[str]:
    url = f"{redis_service.url.rstrip('/')}/{REDIS_DB}"
    yield url
    client = redis.asyncio.Redis.from_url(url)
    keys = [key async for key in client.scan_iter(match=f"{namespace}:*", count=1000)]
    if keys:
        await client.delete(*keys)
    await client.aclose()


@pytest.fixture
def amqp_url(rabbitmq_service: Service) -> str:
    parts = urlsplit(rabbitmq_service.url)
    return f"{parts.scheme}://{parts.netloc}/{_Vhost.get()}"


@pytest.fixture
def redis_app(redis_url: str, namespace: str) -> AppFactory:
    """``redis_app(registry, **section)``: a Dramatiq-on-Redis app in this test's namespace."""

    def make(registry: TaskRegistry | None = None, **section: Any) -> TasksApp:
        tasks = {
            "engine": "dramatiq",
            "backend": {"type": "redis", "redis_url": redis_url},
            "extra": {"dramatiq": {"namespace": namespace}},
            **section,
        }
        return TasksApp.from_dict({"tasks": tasks}, environ={}, registry=registry or TaskRegistry())

    return make


@pytest.fixture
def rabbitmq_app(amqp_url: str, redis_url: str, namespace: str) -> AppFactory:
    """``rabbitmq_app(registry, state=True, **section)``: a Dramatiq-on-RabbitMQ app on
    its own queue, with the job state in Redis (or none with ``state=False``)."""

    def make(registry: TaskRegistry | None = None, *, state: bool = True, **section: Any) -> TasksApp:
        backend: dict[str, Any] = {"type": "amqp", "amqp_url": amqp_url, "queue_name": f"q-{namespace}"}
        if state:
            backend["state_url"] = redis_url
        tasks = {
            "engine": "dramatiq",
            "backend": backend,
            "extra": {"dramatiq": {"namespace": namespace}},
            **section,
        }
        return TasksApp.from_dict({"tasks": tasks}, environ={}, registry=registry or TaskRegistry())

    return make
