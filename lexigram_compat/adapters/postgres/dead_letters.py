"""Dead letters are rows in state ``failed``: listing, purge and trimming are SQL
(retention is decided and logged by :func:`lexigram_compat.dead_letters.enforce_retention`)."""

from __future__ import annotations

import builtins
from datetime import datetime
from typing import TYPE_CHECKING, Any

from lexigram_compat.engine_contract import DeadLetterStore
from lexigram_compat.envelope import EnvelopeError, JobEnvelope
from lexigram_compat.letters import dead_letter_of
from lexigram_compat.outcomes import FailureInfo
from lexigram_compat.queue import DeadLetter

if TYPE_CHECKING:
    from lexigram_compat.adapters.postgres.engine import PostgresEngine

__all__ = ["PostgresDeadLetters"]


def _letter(row: tuple[Any, ...]) -> DeadLetter:
    job_id, _task, queue, attempts, error_type, message, tb, failed_at, _priority, payload = row
    raw = bytes(payload)
    try:
        envelope: JobEnvelope | None = JobEnvelope.from_bytes(raw)
    except EnvelopeError:
        envelope = None
    failure = FailureInfo(error_type or "", message or "", tb)
    return dead_letter_of(
        envelope, failure, job_id=job_id, queue=queue, attempts=attempts, failed_at=failed_at, raw=raw
    )


class PostgresDeadLetters(DeadLetterStore):
    """The ``failed`` rows of the jobs table."""

    def __init__(self, engine: PostgresEngine) -> None:
        self._engine = engine

    async def _fetch(self, operation: str, name: str, params: Any) -> builtins.list[tuple[Any, ...]]:
        async with self._engine.pool.connection(operation) as conn:
            cursor = await conn.execute(self._engine.queries[name], params)
            return await cursor.fetchall()

    async def list(self, limit: int, offset: int, task_name: str | None) -> builtins.list[DeadLetter]:
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

    async def trim(self, keep: int) -> builtins.list[str]:
        rows = await self._fetch("dead letter retention", "dead_over_max", [keep])
        return [row[0] for row in rows]
