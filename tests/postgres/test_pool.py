"""The engine's connection pool: at most ``size`` connections, a taker waits for one
given back, a connection left broken or inside a transaction is not reused, and a
driver failure comes out typed."""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg
import pytest

from lexigram_compat.adapters.postgres.connections import ConnectionPool
from lexigram_compat.errors import BrokerUnavailableError

from .databases import ScratchDatabase


async def _backend_pid(conn: psycopg.AsyncConnection[Any]) -> int:
    row = await (await conn.execute("SELECT pg_backend_pid()")).fetchone()
    assert row is not None
    return int(row[0])


async def test_takers_beyond_the_size_wait_for_a_connection_given_back(database: ScratchDatabase) -> None:
    pool = ConnectionPool(database.dsn, 1)
    order: list[str] = []
    first_in = asyncio.Event()

    async def hold(name: str, release: asyncio.Event | None) -> int:
        async with pool.connection(name) as conn:
            order.append(f"{name} in")
            first_in.set()
            if release is not None:
                await release.wait()
            order.append(f"{name} out")
            return await _backend_pid(conn)

    release = asyncio.Event()
    first = asyncio.create_task(hold("first", release))
    await first_in.wait()
    second = asyncio.create_task(hold("second", None))
    await asyncio.sleep(0.1)
    assert order == ["first in"]  # the only connection is held
    release.set()

    pids = await asyncio.gather(first, second)

    assert order == ["first in", "first out", "second in", "second out"]
    assert pids[0] == pids[1]  # the same connection, given back and taken again
    await pool.close()


async def test_a_connection_left_in_a_transaction_is_closed_not_reused(database: ScratchDatabase) -> None:
    pool = ConnectionPool(database.dsn, 1)
    async with pool.connection("begin") as conn:
        before = await _backend_pid(conn)
        await conn.execute("BEGIN")
    async with pool.connection("after") as conn:
        assert await _backend_pid(conn) != before
    await pool.close()


async def test_a_driver_failure_is_typed_and_its_connection_dropped(database: ScratchDatabase) -> None:
    pool = ConnectionPool(database.dsn, 1)
    async with pool.connection("victim") as conn:
        victim = await _backend_pid(conn)
    async with await psycopg.AsyncConnection.connect(database.dsn, autocommit=True) as admin:
        await admin.execute("SELECT pg_terminate_backend(%s)", [victim])
    await asyncio.sleep(0.1)

    async with pool.connection("fresh") as conn:  # the hung-up idle one is not handed out
        assert await _backend_pid(conn) != victim
        fresh = await _backend_pid(conn)
    with pytest.raises(BrokerUnavailableError, match="op: PostgreSQL is unreachable"):
        async with pool.connection("op") as conn:
            await conn.execute("SELECT pg_terminate_backend(pg_backend_pid())")
    async with pool.connection("after") as conn:
        assert await _backend_pid(conn) != fresh
    await pool.close()
