"""Fixtures of the Redis ledger tests: a client of the shared Redis and a key prefix
of the test's own, whose keys are deleted afterwards."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio

from tests.services import Service


@pytest.fixture
async def client(redis_service: Service) -> AsyncIterator[redis.asyncio.Redis]:
    connection = redis.asyncio.Redis.from_url(redis_service.url)
    try:
        yield connection
    finally:
        await connection.aclose()


@pytest.fixture
async def prefix(client: redis.asyncio.Redis) -> AsyncIterator[str]:
    chosen = f"test-ledger-{uuid.uuid4().hex[:12]}:"
    yield chosen
    keys = [key async for key in client.scan_iter(match=f"{chosen}*")]
    if keys:
        await client.delete(*keys)
