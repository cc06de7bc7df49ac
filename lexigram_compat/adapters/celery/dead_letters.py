"""Dead letters of the Celery engine: Celery has none, so this library keeps them.

Each dead letter is a JSON document under ``<prefix>dead:<job id>`` and an
entry in the sorted set ``<prefix>dead`` scored by its failure time (newest
first in listings). On RabbitMQ the worker also publishes every dead letter to
a dead-letter exchange and queue declared by the library (see
``broker_dead_letters``), for operators who watch the broker; this store is the
one ``app.dead_letters`` lists, replays and purges. Retention limits
(``retention.dead_letter_seconds`` / ``dead_letter_max``) drop the oldest
entries with a warning naming how many; nothing else removes one.
"""

from __future__ import annotations

import base64
import builtins
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from redis.asyncio import Redis

from lexigram_compat.config import RetentionConfig
from lexigram_compat.engine_contract import DeadLetterStore
from lexigram_compat.queue import DeadLetter
from lexigram_compat.serialization import dumps, loads

__all__ = ["RedisDeadLetters", "letter_from_json", "letter_to_json"]

log = logging.getLogger("lexigram_compat.celery")


def letter_to_json(letter: DeadLetter) -> bytes:
    """The stored (and published) JSON form of a dead letter."""
    return dumps(
        {
            "job_id": letter.job_id,
            "task_name": letter.task_name,
            "args": letter.args,
            "kwargs": letter.kwargs,
            "queue": letter.queue,
            "attempts": letter.attempts,
            "error_type": letter.error_type,
            "error_message": letter.error_message,
            "traceback": letter.traceback,
            "failed_at": letter.failed_at.isoformat(),
            "priority": letter.priority,
            "raw": base64.b64encode(letter.raw).decode() if letter.raw is not None else None,
        }
    )


def letter_from_json(data: bytes | str) -> DeadLetter:
    doc: dict[str, Any] = loads(data)
    raw = doc.get("raw")
    failed_at = datetime.fromisoformat(doc["failed_at"])
    return DeadLetter(
        job_id=doc["job_id"],
        task_name=doc["task_name"],
        args=list(doc.get("args") or []),
        kwargs=dict(doc.get("kwargs") or {}),
        queue=doc.get("queue", ""),
        attempts=int(doc.get("attempts", 1)),
        error_type=doc["error_type"],
        error_message=doc["error_message"],
        traceback=doc.get("traceback"),
        failed_at=failed_at if failed_at.tzinfo else failed_at.replace(tzinfo=UTC),
        priority=int(doc.get("priority", 5)),
        raw=base64.b64decode(raw) if raw is not None else None,
    )


class RedisDeadLetters(DeadLetterStore):
    """Dead letters in Redis under the engine's key prefix."""

    def __init__(
        self,
        redis: Redis,
        prefix: str,
        retention: RetentionConfig,
        on_purge_all: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.redis = redis
        self.index = f"{prefix}dead"
        self.prefix = f"{prefix}dead:"
        self.retention = retention
        self.on_purge_all = on_purge_all
        """Called by an unconditional purge_all (RabbitMQ: empties the operator copies)."""

    async def add(self, letter: DeadLetter) -> None:
        pipe = self.redis.pipeline(transaction=True)
        pipe.set(self.prefix + letter.job_id, letter_to_json(letter))
        pipe.zadd(self.index, {letter.job_id: letter.failed_at.timestamp()})
        await pipe.execute()
        await self._enforce_retention()

    async def _enforce_retention(self) -> None:
        seconds, limit = self.retention.dead_letter_seconds, self.retention.dead_letter_max
        dropped: builtins.list[str] = []
        if seconds is not None:
            cutoff = time.time() - seconds
            dropped += [_text(m) for m in await self.redis.zrangebyscore(self.index, "-inf", f"({cutoff}")]
        if limit is not None:
            size = int(await self.redis.zcard(self.index))
            if size > limit:
                dropped += [_text(m) for m in await self.redis.zrange(self.index, 0, size - limit - 1)]
        if dropped:
            await self._delete(dropped)
            log.warning(
                "dropped %d dead letter(s) beyond retention (dead_letter_seconds=%s, dead_letter_max=%s): %s",
                len(dropped),
                seconds,
                limit,
                ", ".join(dropped),
            )

    async def _delete(self, job_ids: builtins.list[str]) -> int:
        if not job_ids:
            return 0
        pipe = self.redis.pipeline(transaction=True)
        pipe.zrem(self.index, *job_ids)
        pipe.delete(*(self.prefix + job_id for job_id in job_ids))
        removed, _ = await pipe.execute()
        return int(removed)

    async def list(self, limit: int, offset: int, task_name: str | None) -> list[DeadLetter]:
        await self._enforce_retention()
        if task_name is None:
            ids = [_text(m) for m in await self.redis.zrevrange(self.index, offset, offset + limit - 1)]
            return await self._load(ids) if ids and limit else []
        matching = [
            d for d in await self._load([_text(m) for m in await self.redis.zrevrange(self.index, 0, -1)])
        ]
        chosen = [d for d in matching if d.task_name == task_name]
        return chosen[offset : offset + limit]

    async def _load(self, ids: builtins.list[str]) -> builtins.list[DeadLetter]:
        if not ids:
            return []
        docs = await self.redis.mget([self.prefix + job_id for job_id in ids])
        return [letter_from_json(doc) for doc in docs if doc is not None]

    async def get(self, job_id: str) -> DeadLetter | None:
        doc = await self.redis.get(self.prefix + job_id)
        return letter_from_json(doc) if doc is not None else None

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
        await self._enforce_retention()
        return int(await self.redis.zcard(self.index))


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
