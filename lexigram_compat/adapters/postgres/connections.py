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
from collections.abc import AsyncIterator, Awaitable, Callable
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
                await self._freed.wait()
        try:
            return await self._connect()
        except BaseException:
            await self._give_back(None)
            raise

    async def _give_back(self, conn: psycopg.AsyncConnection[Any] | None) -> None:
        async with self._freed:
            if conn is None or conn.closed or self._closed:
                self._open -= 1
                if conn is not None and not conn.closed:
                    await conn.close()
            else:
                self._idle.append(conn)
            self._freed.notify()

    @contextlib.asynccontextmanager
    async def connection(self, operation: str) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        """A connection for one operation; driver failures come out as typed errors."""
        if self._closed:
            raise BrokerUnavailableError(f"{operation}: the engine is closed")
        try:
            conn = await self._take()
        except Exception as exc:
            raise (translate(exc, operation) or exc) from exc
        broken = False
        try:
            yield conn
        except Exception as exc:
            error = translate(exc, operation)
            if error is None:
                raise
            broken = True
            raise error from exc
        finally:
            if broken or conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                await conn.close()
            await self._give_back(conn)

    async def close(self) -> None:
        """Close every idle connection; ones in use close when given back."""
        self._closed = True
        async with self._freed:
            idle, self._idle = self._idle, []
            self._open -= len(idle)
        for conn in idle:
            with contextlib.suppress(Exception):
                await conn.close()
