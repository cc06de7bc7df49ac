"""Dead letters are rows in state ``failed``: listing, purge and retention are SQL."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from lexigram_compat.engine_contract import DeadLetterStore
from lexigram_compat.envelope import EnvelopeError, JobEnvelope
from lexigram_compat.queue import DeadLetter

if TYPE_CHECKING:
    from lexigram_compat.adapters.postgres.engine import PostgresEngine

__all__ = ["PostgresDeadLetters"]

log = logging.getLogger("lexigram_compat.postgres")


def _letter(row: tuple[Any, ...]) -> DeadLetter:
    job_id, task_name, queue, attempts, error_type, message, tb, failed_at, priority, payload = row
    raw = bytes(payload)
    try:
        envelope: JobEnvelope | None = JobEnvelope.from_bytes(raw)
    except EnvelopeError:
        envelope = None
    return DeadLetter(
        job_id=job_id,
        task_name=task_name,
        args=list(envelope.args) if envelope else [],
        kwargs=dict(envelope.kwargs) if envelope else {},
        queue=queue,
        attempts=attempts,
        error_type=error_type or "",
        error_message=message or "",
        traceback=tb,
        failed_at=failed_at,
        priority=priority,
        raw=None if envelope else raw,
    )


class PostgresDeadLetters(DeadLetterStore):
    """The ``failed`` rows of the jobs table."""

    def __init__(self, engine: PostgresEngine) -> None:
        self._engine = engine
        self._retention = engine.config.retention

    async def _fetch(self, operation: str, name: str, params: Any) -> list[tuple[Any, ...]]:
        await self.enforce_retention()
        async with self._engine.pool.connection(operation) as conn:
            cursor = await conn.execute(self._engine.queries[name], params)
            return await cursor.fetchall()

    async def list(self, limit: int, offset: int, task_name: str | None) -> list[DeadLetter]:
        params = {"task": task_name, "limit": limit, "offset": offset}
        return [_letter(row) for row in await self._fetch("dead letters list", "dead_list", params)]

    async def get(self, job_id: str) -> DeadLetter | None:
        rows = await self._fetch("dead letter get", "dead_get", [job_id])
        return _letter(rows[0]) if rows else None

    async def remove(self, job_id: str) -> bool:
        async with self._engine.pool.connection("dead letter purge") as conn:
            cursor = await conn.execute(self._engine.queries["dead_remove"], [job_id])
            return cursor.rowcount > 0

    async def purge_all(self, older_than: datetime | None) -> int:
        async with self._engine.pool.connection("dead letter purge") as conn:
            cursor = await conn.execute(self._engine.queries["dead_purge"], {"cutoff": older_than})
            return cursor.rowcount

    async def count(self) -> int:
        rows = await self._fetch("dead letter count", "dead_count", [])
        return int(rows[0][0])

    async def enforce_retention(self) -> None:
        """Drop (and log) dead letters past ``retention.dead_letter_seconds`` / ``dead_letter_max``."""
        seconds, limit = self._retention.dead_letter_seconds, self._retention.dead_letter_max
        if seconds is None and limit is None:
            return
        q = self._engine.queries
        async with self._engine.pool.connection("dead letter retention") as conn:
            if seconds is not None:
                cursor = await conn.execute(q["dead_expire"], [seconds])
                if dropped := [row[0] for row in await cursor.fetchall()]:
                    log.warning(
                        "dropped %d dead letter(s) older than retention.dead_letter_seconds=%s",
                        len(dropped),
                        seconds,
                    )
            if limit is not None:
                cursor = await conn.execute(q["dead_over_max"], [limit])
                if dropped := [row[0] for row in await cursor.fetchall()]:
                    log.warning(
                        "dropped %d oldest dead letter(s) over retention.dead_letter_max=%d: %s",
                        len(dropped),
                        limit,
                        ", ".join(dropped),
                    )
