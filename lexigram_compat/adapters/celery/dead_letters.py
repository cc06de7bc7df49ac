"""Dead letters of the Celery engine: Celery has none, so this library keeps them.

Each dead letter is its JSON record (:func:`~lexigram_compat.letters.letter_to_record`)
under ``<prefix>dead:<job id>`` and an entry in the sorted set ``<prefix>dead``
scored by its failure time (newest first in listings). On RabbitMQ the worker
also publishes every dead letter to a dead-letter exchange and queue declared
by the library, for operators who watch the broker; this store is the one
``app.dead_letters`` lists, replays and purges. Retention is decided (and
logged) by :func:`~lexigram_compat.letters.enforce_retention`, through
:meth:`CeleryDeadLetters.purge_all` and :meth:`CeleryDeadLetters.trim`.
"""

from __future__ import annotations

import builtins
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from redis.asyncio import Redis

from lexigram_compat.engine_contract import DeadLetterStore
from lexigram_compat.letters import letter_from_record, letter_to_record
from lexigram_compat.queue import DeadLetter
from lexigram_compat.serialization import dumps, loads

__all__ = ["CeleryDeadLetters", "letter_bytes"]


def letter_bytes(letter: DeadLetter) -> bytes:
    """The stored (and, on RabbitMQ, published) JSON of a dead letter."""
    return dumps(letter_to_record(letter))


class CeleryDeadLetters(DeadLetterStore):
    """Dead letters in Redis under the engine's key prefix."""

    def __init__(
        self, redis: Redis, prefix: str, on_purge_all: Callable[[], Awaitable[None]] | None = None
    ) -> None:
        self.redis = redis
        self.index = f"{prefix}dead"
        self.prefix = f"{prefix}dead:"
        self.on_purge_all = on_purge_all
        """Called by an unconditional purge_all (RabbitMQ: empties the operator copies)."""

    async def add(self, letter: DeadLetter) -> None:
        pipe = self.redis.pipeline(transaction=True)
        pipe.set(self.prefix + letter.job_id, letter_bytes(letter))
        pipe.zadd(self.index, {letter.job_id: letter.failed_at.timestamp()})
        await pipe.execute()

    async def _delete(self, job_ids: builtins.list[str]) -> int:
        if not job_ids:
            return 0
        pipe = self.redis.pipeline(transaction=True)
        pipe.zrem(self.index, *job_ids)
        pipe.delete(*(self.prefix + job_id for job_id in job_ids))
        removed, _ = await pipe.execute()
        return int(removed)

    async def list(self, limit: int, offset: int, task_name: str | None) -> list[DeadLetter]:
        if task_name is None:
            ids = [_text(m) for m in await self.redis.zrevrange(self.index, offset, offset + limit - 1)]
            return await self._load(ids) if ids and limit else []
        every = await self._load([_text(m) for m in await self.redis.zrevrange(self.index, 0, -1)])
        return [d for d in every if d.task_name == task_name][offset : offset + limit]

    async def _load(self, ids: builtins.list[str]) -> builtins.list[DeadLetter]:
        if not ids:
            return []
        docs = await self.redis.mget([self.prefix + job_id for job_id in ids])
        return [letter_from_record(loads(doc)) for doc in docs if doc is not None]

    async def get(self, job_id: str) -> DeadLetter | None:
        doc = await self.redis.get(self.prefix + job_id)
        return letter_from_record(loads(doc)) if doc is not None else None

    async def remove(self, job_id: str) -> bool:
        return await self._delete([job_id]) > 0

    async def purge_all(self, older_than: datetime | None) -> int:
        high = f"({older_than.timestamp()}" if older_than is not None else "+inf"
        ids = [_text(m) for m in await self.redis.zrangebyscore(self.index, "-inf", high)]
        purged = await self._delete(ids)
        if older_than is None and self.on_purge_all is not None:
            await self.on_purge_all()
        return purged

    async def count(self) -> int:
        return int(await self.redis.zcard(self.index))

    async def trim(self, keep: int) -> builtins.list[str]:
        # Ascending by failure time: everything but the last ``keep`` (all for 0).
        over = [_text(m) for m in await self.redis.zrange(self.index, 0, -keep - 1)]
        await self._delete(over)
        return over


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
