"""Wake-up by LISTEN/NOTIFY on a dedicated connection, with a poll fallback.

Enqueues send one ``pg_notify(channel, queue)`` per statement (folded per
transaction by PostgreSQL). A lost notification (listener reconnecting,
server restart) costs at most one poll interval, never a job: workers claim
on every timeout anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable

import psycopg
from psycopg import sql

from lexigram_compat.config_loading import redact_text

__all__ = ["Listener"]

log = logging.getLogger("lexigram_compat.postgres")

MAX_BACKOFF = 5.0


class Listener:
    """One LISTEN connection per worker process; ``wait`` returns on a relevant NOTIFY."""

    def __init__(self, dsn: str, channel: str) -> None:
        self._dsn = dsn
        self._channel = channel
        self._queues: set[str] = set()
        self._event = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()

    def watch(self, queues: Iterable[str]) -> None:
        """Wake for these queues too; starts listening on first use."""
        self._queues.update(queues)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="lexigram-postgres-listener")

    def arm(self) -> None:
        """Forget earlier wake-ups: called before each claim, so a NOTIFY that
        arrives while the claim runs still wakes the next wait."""
        self._event.clear()

    async def wait(self, timeout: float) -> None:
        """Until a NOTIFY for a watched queue, or ``timeout`` seconds."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), timeout)

    async def _run(self) -> None:
        backoff = 0.1
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self._dsn, autocommit=True, connect_timeout=5
                ) as conn:
                    await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self._channel)))
                    self.connected.set()
                    # Jobs may have arrived while we were not listening.
                    self._event.set()
                    backoff = 0.1
                    async for notify in conn.notifies():
                        if notify.payload in self._queues:
                            self._event.set()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.connected.clear()
                self._event.set()  # poll now rather than trust a dead connection
                log.warning(
                    "LISTEN connection lost (%s); reconnecting in %.1fs",
                    redact_text(f"{type(exc).__name__}: {exc}").strip(),
                    backoff,
                )
                await asyncio.sleep(backoff)
                backoff = min(MAX_BACKOFF, backoff * 2)

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
