"""A small pool of psycopg ``AsyncConnection``s, and what a driver error means.

No third-party pool: a handful of autocommit connections, opened on demand,
dropped when broken (the next use opens a fresh one, so a restarted server is
picked up without restarting workers). Driver errors that mean "the server is
not there" become :class:`BrokerUnavailableError`; messages are redacted,
since a driver may quote the DSN.
"""

from __future__ import annotations

import asyncio
import contextlib
import select
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from lexigram_compat.config_loading import redact_text, redact_url
from lexigram_compat.errors import BrokerUnavailableError, ConfigurationError, TaskQueueError

__all__ = ["ConnectionPool", "check_dsn", "translate"]

CONNECT_TIMEOUT = 5


def check_dsn(dsn: str, field: str) -> None:
    """Raise ``ConfigurationError`` naming ``field`` when ``dsn`` cannot be parsed.

    The driver's own message is left out: it quotes the token it could not
    parse, which may be the password.
    """
    try:
        conninfo_to_dict(dsn)
    except psycopg.Error:
        raise ConfigurationError(
            f"{field} is not a valid PostgreSQL connection string ({redact_url(dsn)})",
            hint="percent-encode special characters in the user name and password "
            "(% as %25, @ as %40, / as %2F, : as %3A)",
        ) from None


def translate(exc: BaseException, operation: str) -> TaskQueueError | None:
    """The typed error for a driver failure, or None when it is not one."""
    if isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError | OSError):
        return BrokerUnavailableError(
            f"{operation}: PostgreSQL is unreachable ({type(exc).__name__}: {redact_text(str(exc))})",
            cause=exc,
        )
    return None


def _hung_up(conn: psycopg.AsyncConnection[Any]) -> bool:
    """Whether the server dropped an idle connection (restart, terminated backend).

    An idle autocommit connection has nothing to read; a readable socket means
    the server closed it (or sent its farewell error), seen without a round trip.
    """
    try:
        poller = select.poll()
        poller.register(conn.fileno(), select.POLLIN | select.POLLERR | select.POLLHUP)
        return bool(poller.poll(0))
    except (OSError, ValueError, psycopg.Error):
        return True


class ConnectionPool:
    """Up to ``size`` autocommit connections to one DSN."""

    def __init__(
        self,
        dsn: str,
        size: int,
        *,
        on_open: Callable[[psycopg.AsyncConnection[Any]], Awaitable[None]] | None = None,
        settings: dict[str, str] | None = None,
    ) -> None:
        self._dsn = dsn
        self._size = size
        self._idle: list[psycopg.AsyncConnection[Any]] = []
        self._open = 0
        self._freed = asyncio.Condition()
        self._waiting = 0  # takers waiting on _freed for a connection
        self._on_open = on_open
        self._closed = False
        self._options = " ".join(f"-c {name}={value}" for name, value in (settings or {}).items())

    @property
    def closed(self) -> bool:
        return self._closed

    async def _connect(self) -> psycopg.AsyncConnection[Any]:
        dsn = make_conninfo(self._dsn, options=self._options) if self._options else self._dsn
        conn = await psycopg.AsyncConnection.connect(dsn, autocommit=True, connect_timeout=CONNECT_TIMEOUT)
        try:
            if self._on_open is not None:
                await self._on_open(conn)
        except BaseException:
            await conn.close()
            raise
        return conn

    async def _take(self) -> psycopg.AsyncConnection[Any]:
        # The common case, an idle connection that is still open, needs no lock:
        # nothing is awaited between the check and the pop.
        while self._idle:
            conn = self._idle[-1]
            if conn.closed or _hung_up(conn):
                break  # dropped under the lock below
            return self._idle.pop()
        async with self._freed:
            while True:
                while self._idle:
                    conn = self._idle.pop()
                    if not conn.closed and not _hung_up(conn):
                        return conn
                    self._open -= 1
                    if not conn.closed:
                        with contextlib.suppress(Exception):
                            await conn.close()
                if self._open < self._size:
                    self._open += 1
                    break
                self._waiting += 1
                try:
                    await self._freed.wait()
                finally:
                    self._waiting -= 1
        try:
            return await self._connect()
        except BaseException:
            await self._give_back(None)
            raise

    async def _give_back(self, conn: psycopg.AsyncConnection[Any] | None) -> None:
        if conn is not None and not conn.closed and not self._closed and not self._waiting:
            self._idle.append(conn)  # nobody to wake: no lock needed
            return
        async with self._freed:
            if conn is None or conn.closed or self._closed:
                self._open -= 1
                if conn is not None and not conn.closed:
                    await conn.close()
            else:
                self._idle.append(conn)
            self._freed.notify()

    def connection(self, operation: str) -> _Lease:
        """A connection for one operation (``async with``); driver failures come out
        as typed errors."""
        return _Lease(self, operation)

    async def close(self) -> None:
        """Close every idle connection; ones in use close when given back."""
        self._closed = True
        async with self._freed:
            idle, self._idle = self._idle, []
            self._open -= len(idle)
        for conn in idle:
            with contextlib.suppress(Exception):
                await conn.close()


class _Lease:
    """``async with pool.connection(operation)``: a connection taken from the pool and
    given back (closed first when broken, or left inside a transaction). A class
    rather than a generator-based context manager: this is every enqueue's path."""

    __slots__ = ("_conn", "_operation", "_pool")

    def __init__(self, pool: ConnectionPool, operation: str) -> None:
        self._pool = pool
        self._operation = operation
        self._conn: psycopg.AsyncConnection[Any] | None = None

    async def __aenter__(self) -> psycopg.AsyncConnection[Any]:
        pool = self._pool
        if pool.closed:
            raise BrokerUnavailableError(f"{self._operation}: the engine is closed")
        try:
            self._conn = await pool._take()
        except Exception as exc:
            raise (translate(exc, self._operation) or exc) from exc
        return self._conn

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        conn = self._conn
        assert conn is not None
        error = translate(exc, self._operation) if isinstance(exc, Exception) else None
        if error is not None or conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            await conn.close()
        await self._pool._give_back(conn)
        if error is not None:
            raise error from exc
