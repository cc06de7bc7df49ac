"""An enqueue on a Redis broker whose reply is lost after the job was written is
``EnqueueOutcomeUnknownError`` with the job's id, never ``BrokerUnavailableError``
(issue 14: the chaos run's "Err although written" on dramatiq-redis and celery-redis);
enqueueing it again with that id finds the job and writes nothing twice. A connection
that cannot be opened is still ``BrokerUnavailableError`` (nothing was sent). On
RabbitMQ, whose job records are in Redis and written before the publish, a record
whose reply was lost is undone: the ``Err`` leaves no record waiting forever (the
chaos run's orphan ``pending`` records on dramatiq-rabbitmq and celery-rabbitmq).

Real parts: the shared Redis, reached through a TCP relay of this test that passes
every byte on, except that it drops the connection instead of relaying the reply of
the ledger's ``create`` call (the job record and its message were written).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import redis.asyncio

from lexigram_compat import (
    BrokerUnavailableError,
    EnqueueOutcomeUnknownError,
    TaskRegistry,
    TasksApp,
    task,
)
from tests.ports import free_port
from tests.services import Service

registry = TaskRegistry()


@task(name="outcome.add", registry=registry)
async def add(a: int, b: int) -> int:
    return a + b


class ReplyDroppingRelay:
    """Relays a Redis connection byte for byte; after a request carrying the ledger's
    ``create`` command that the server ran, closes the client's side instead of
    relaying the reply."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = free_port()
        self.dropped = 0
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> ReplyDroppingRelay:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, client_in: asyncio.StreamReader, client_out: asyncio.StreamWriter) -> None:
        server_in, server_out = await asyncio.open_connection(*self.target)
        try:
            while data := await client_in.read(65536):
                server_out.write(data)
                await server_out.drain()
                reply = await server_in.read(65536)
                # The script call of the ledger's create, which ran (a NOSCRIPT reply is "-")
                if b"EVALSHA" in data.upper() and b"\r\ncreate\r\n" in data and not reply.startswith(b"-"):
                    self.dropped += 1
                    return  # the server ran it; the client never hears back
                client_out.write(reply)
                await client_out.drain()
        finally:
            for writer in (client_out, server_out):
                writer.close()
                with contextlib.suppress(Exception):
                    await writer.wait_closed()


def section(engine: str, url: str, prefix: str, amqp_url: str | None = None) -> dict[str, Any]:
    backend = {"type": "redis", "redis_url": url, "queue_name": f"{prefix}q"}
    if amqp_url is not None:
        backend = {"type": "amqp", "amqp_url": amqp_url, "state_url": url, "queue_name": f"{prefix}q"}
    extra: dict[str, Any] = (
        {"dramatiq": {"namespace": prefix}}
        if engine == "dramatiq"
        else {"celery": {"key_prefix": prefix, "transport_options": {"global_keyprefix": prefix}}}
    )
    return {"engine": engine, "backend": backend, "extra": extra}


@pytest.fixture
async def prefix(redis_service: Service) -> AsyncIterator[str]:
    chosen = f"lxout-{uuid.uuid4().hex[:10]}:"
    yield chosen
    client = redis.asyncio.Redis.from_url(redis_service.url)
    try:
        keys = [key async for key in client.scan_iter(match=f"*{chosen}*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


@pytest.mark.parametrize("engine", ["dramatiq", "celery"])
async def test_a_lost_reply_is_outcome_unknown_and_the_retry_finds_the_job(
    engine: str, redis_service: Service, prefix: str
) -> None:
    parts = urlsplit(redis_service.url)
    direct_url = f"redis://{parts.hostname}:{parts.port}/0"
    async with ReplyDroppingRelay(parts.hostname or "127.0.0.1", parts.port or 6379) as relay:
        relayed = TasksApp.from_dict(
            {"tasks": section(engine, f"redis://127.0.0.1:{relay.port}/0", prefix)},
            environ={},
            registry=registry,
        )
        async with relayed:
            result = await relayed.queue.enqueue(add(1, 2))
        assert relay.dropped == 1
    assert result.is_err(), result
    error = result.unwrap_err()
    assert isinstance(error, EnqueueOutcomeUnknownError), repr(error)
    assert not isinstance(error, BrokerUnavailableError)
    assert error.job_id is not None

    direct = TasksApp.from_dict({"tasks": section(engine, direct_url, prefix)}, environ={}, registry=registry)
    async with direct:
        info = await direct.queue.get_job(error.job_id)
        assert info is not None, "the job was written although its reply was lost"
        again = await direct.queue.enqueue(add(1, 2), job_id=error.job_id)
        assert again.unwrap() == error.job_id
        assert await direct.queue.count() == 1, "enqueued again with its id: still one job"


@pytest.mark.parametrize("engine", ["dramatiq", "celery"])
async def test_a_connection_that_cannot_open_is_broker_unavailable(engine: str, prefix: str) -> None:
    closed = f"redis://127.0.0.1:{free_port()}/0"
    app = TasksApp.from_dict({"tasks": section(engine, closed, prefix)}, environ={}, registry=registry)
    async with app:
        result = await app.queue.enqueue(add(1, 2))
    assert isinstance(result.unwrap_err(), BrokerUnavailableError), result


@pytest.mark.parametrize("engine", ["dramatiq", "celery"])
async def test_on_rabbitmq_a_record_whose_reply_was_lost_is_undone(
    engine: str, redis_service: Service, rabbitmq_service: Service, prefix: str
) -> None:
    parts = urlsplit(redis_service.url)
    direct_url = f"redis://{parts.hostname}:{parts.port}/0"
    amqp = urlsplit(rabbitmq_service.url)._replace(path="/%2F").geturl()  # the default vhost
    async with ReplyDroppingRelay(parts.hostname or "127.0.0.1", parts.port or 6379) as relay:
        relayed_section = section(engine, f"redis://127.0.0.1:{relay.port}/0", prefix, amqp)
        relayed = TasksApp.from_dict({"tasks": relayed_section}, environ={}, registry=registry)
        async with relayed:
            result = await relayed.queue.enqueue(add(1, 2), job_id=f"{prefix}job")
        assert relay.dropped == 1
    assert isinstance(result.unwrap_err(), BrokerUnavailableError), result

    direct_section = section(engine, direct_url, prefix, amqp)
    direct = TasksApp.from_dict({"tasks": direct_section}, environ={}, registry=registry)
    async with direct:
        assert await direct.queue.get_job(f"{prefix}job") is None, "no record left waiting for a message"
        assert await direct.queue.count() == 0
        # The same id enqueued again is a new job, published this time.
        assert (await direct.queue.enqueue(add(1, 2), job_id=f"{prefix}job")).unwrap() == f"{prefix}job"
        info = await direct.queue.get_job(f"{prefix}job")
        assert info is not None
        await direct.queue.clear()
