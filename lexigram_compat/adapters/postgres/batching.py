"""Group commit for job outcomes: many completions, one statement.

The first outcome is written at once; outcomes that arrive while that write
is in flight are written together by the next one. There is no timer, so a
lone job is never held back, and a busy worker writes in batches as large as
its concurrency.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from lexigram_compat.errors import BrokerUnavailableError

__all__ = ["Batcher"]

log = logging.getLogger("lexigram_compat.postgres")

Item = TypeVar("Item")


class Batcher(Generic[Item]):
    """Writes items through ``write`` (which returns the keys it accepted) in batches.

    A write failing because the server is unreachable is retried for up to
    ``patience`` seconds (a restarting server), then reported to every waiter;
    with ``patience=None``, for as long as it takes (a waiter that gives up is
    cancelled, e.g. by a forced stop).
    """

    def __init__(
        self,
        write: Callable[[Sequence[Item]], Awaitable[set[str]]],
        key: Callable[[Item], str],
        *,
        patience: float | None,
    ) -> None:
        self._write = write
        self._key = key
        self._patience = patience
        self._pending: list[tuple[Item, asyncio.Future[bool]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def submit(self, item: Item) -> bool:
        """Write ``item`` (with whatever else is waiting); True when it was accepted."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        # Only this caller waits for ``future``: a cancelled caller cancels it, and
        # the flusher skips (and stops retrying for) items nobody waits for.
        return await future

    async def _flush(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                accepted = await self._write_patiently(batch)
            except BrokerUnavailableError as exc:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            except Exception as exc:
                if len(batch) > 1:
                    # One bad item (e.g. a value the server refuses) must not
                    # fail the others: write them one at a time.
                    await self._write_one_by_one(batch)
                    continue
                _, future = batch[0]
                if not future.done():
                    future.set_exception(exc)
                continue
            for item, future in batch:
                if not future.done():
                    future.set_result(self._key(item) in accepted)

    async def _write_one_by_one(self, batch: Sequence[tuple[Item, asyncio.Future[bool]]]) -> None:
        for item, future in batch:
            try:
                accepted = await self._write_patiently([(item, future)])
            except Exception as exc:
                if not future.done():
                    future.set_exception(exc)
                continue
            if not future.done():
                future.set_result(self._key(item) in accepted)

    async def _write_patiently(self, batch: Sequence[tuple[Item, asyncio.Future[bool]]]) -> set[str]:
        items = [item for item, _ in batch]
        loop = asyncio.get_running_loop()
        deadline = None if self._patience is None else loop.time() + self._patience
        delay = 0.1
        while True:
            if all(future.done() for _, future in batch):
                return set()  # every waiter gave up (cancelled)
            try:
                return await self._write(items)
            except BrokerUnavailableError as exc:
                if deadline is not None and loop.time() + delay > deadline:
                    raise
                log.warning("writing %d job outcome(s) failed (%s); retrying", len(items), exc.message)
                await asyncio.sleep(delay)
                delay = min(2.0, delay * 2)
