"""``engine: native`` with ``backend.type: postgres``: jobs are rows of one table.

Producer and inspection side here; the consumer side is :mod:`.source`,
dead letters :mod:`.dead_letters`, wake-up :mod:`.listener`, SQL in
``queries.sql`` and ``migrations/``.
"""

from __future__ import annotations

import asyncio
import difflib
import json
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import psycopg

from lexigram_compat.adapters.postgres.connections import ConnectionPool, check_dsn
from lexigram_compat.adapters.postgres.dead_letters import PostgresDeadLetters
from lexigram_compat.adapters.postgres.listener import Listener
from lexigram_compat.adapters.postgres.migrate import check_schema
from lexigram_compat.adapters.postgres.source import PostgresJobSource
from lexigram_compat.adapters.postgres.sql import DEFAULT_SCHEMA, Queries, validate_schema
from lexigram_compat.config_loading import redact_text, redact_url
from lexigram_compat.engine_contract import Capabilities, DeadLetterStore, Engine, EngineContext, JobSource
from lexigram_compat.envelope import EnvelopeError, JobEnvelope, utcnow
from lexigram_compat.errors import (
    BrokerUnavailableError,
    ConfigurationError,
    EnqueueOutcomeUnknownError,
    TaskValidationError,
)
from lexigram_compat.queue import JobInfo, JobStatus

if TYPE_CHECKING:
    from lexigram_compat.config import BackendConfig, TaskConfig

__all__ = ["SCHEMA_SETTING", "PostgresEngine"]

log = logging.getLogger("lexigram_compat.postgres")

SCHEMA_SETTING = "postgres_schema"
"""``tasks.extra.postgres_schema``: the schema holding the job tables (default ``lexigram``)."""
POOL_SIZE = 4
WORKER_SETTINGS = {"synchronous_commit": "off"}

_STATES = {
    "pending": JobStatus.PENDING,
    "retrying": JobStatus.RETRYING,
    "reserved": JobStatus.PENDING,  # prefetched by a worker, not started
    "running": JobStatus.RUNNING,
    "completed": JobStatus.COMPLETED,
    "failed": JobStatus.FAILED,
    "cancelled": JobStatus.CANCELLED,
}


KNOWN_SETTINGS = (SCHEMA_SETTING,)
"""This engine's keys under ``tasks.extra`` (other engines' keys are theirs)."""


def _check_extra(extra: dict[str, Any]) -> None:
    """Refuse a misspelt PostgreSQL setting rather than silently use the default."""
    for key in extra:
        if key in KNOWN_SETTINGS:
            continue
        close = difflib.get_close_matches(key, KNOWN_SETTINGS, n=1, cutoff=0.75)
        if key.startswith("postgres") or close:
            raise ConfigurationError(
                f"tasks.extra.{key} is not a setting of the postgres engine",
                hint=f"did you mean tasks.extra.{(close or KNOWN_SETTINGS)[0]}? "
                f"its settings: {', '.join(KNOWN_SETTINGS)}",
            )


def _row(envelope: JobEnvelope) -> tuple[Any, ...]:
    return (
        envelope.job_id,
        envelope.queue,
        envelope.task_name,
        envelope.priority,
        envelope.run_at,
        envelope.max_attempts,
        envelope.unique_key,
        envelope.to_bytes(),
        envelope.enqueued_at,
        envelope.fire_key,
    )


def _ids(
    envelopes: Sequence[JobEnvelope], rows: Sequence[tuple[Any, ...]], single: bool | None
) -> tuple[list[str], list[int]]:
    """The job id per envelope from an insert's rows (see ``_statement``), and the
    indexes whose id must still be looked up (a key taken by another transaction)."""
    if single is None:
        return [e.job_id for e in envelopes], []
    if single:
        return ([rows[0][0]], []) if rows else ([envelopes[0].job_id], [0])
    return [row[0] for row in rows], [index for index, row in enumerate(rows) if row[2]]


def _lookup(envelope: JobEnvelope) -> list[Any]:
    return [envelope.unique_key, envelope.job_id, envelope.unique_key]


def _found(row: tuple[Any, ...] | None, envelope: JobEnvelope) -> str:
    return str(row[0]) if row else envelope.job_id


class PostgresEngine(Engine):
    """Jobs in PostgreSQL (psycopg 3); run by ``lexigram-compat worker APP``."""

    name: ClassVar[str] = "postgres"
    capabilities: ClassVar[Capabilities] = Capabilities(
        delay=True,
        priority=True,
        idempotency_keys=True,
        cancel=True,
        job_status=True,
        results=True,
        dead_letters=True,
        transactional_enqueue=True,
        crash_safe=True,
        multi_process=True,
        worker="lexigram-compat worker APP",
    )

    def __init__(self, config: TaskConfig, backend: BackendConfig) -> None:
        super().__init__(config, backend)
        secret = backend.postgres_dsn
        if secret is None or not secret.get_secret_value():
            raise ConfigurationError(
                "tasks.backend.postgres_dsn is required for the postgres backend",
                hint="set it, e.g. postgresql://user@host/db (or ${DATABASE_URL})",
            )
        self._dsn = secret.get_secret_value()
        check_dsn(self._dsn, "tasks.backend.postgres_dsn")
        _check_extra(config.extra)
        self.schema = validate_schema(config.extra.get(SCHEMA_SETTING, DEFAULT_SCHEMA))
        self.queries = Queries(self.schema)
        self._schema_checked = False
        self.pool = self._new_pool()
        self._worker_pool: ConnectionPool | None = None
        self._listener: Listener | None = None
        self.dead_letters = PostgresDeadLetters(self)
        self._source: PostgresJobSource | None = None
        self.context: EngineContext | None = None

    def _new_pool(self, settings: dict[str, str] | None = None) -> ConnectionPool:
        return ConnectionPool(self._dsn, POOL_SIZE, on_open=self._on_open, settings=settings)

    @property
    def worker_pool(self) -> ConnectionPool:
        """Connections for claims, outcomes and heartbeats, with asynchronous commit:
        a worker does not wait for the WAL flush of its outcomes and heartbeats. A
        server crash may forget the last few hundred milliseconds of those, which
        only means a job runs again (at-least-once). Statements that change an
        attempt count (claim, start, release) commit synchronously all the same
        (queries.sql), as enqueues do."""
        if self._worker_pool is None or self._worker_pool.closed:
            self._worker_pool = self._new_pool(WORKER_SETTINGS)
        return self._worker_pool

    async def _on_open(self, conn: psycopg.AsyncConnection[Any]) -> None:
        if not self._schema_checked:
            await check_schema(conn, self.schema)
            self._schema_checked = True

    @property
    def dsn(self) -> str:
        """The connection string (a secret: never log it; :meth:`describe` is redacted)."""
        return self._dsn

    def attach(self, context: EngineContext) -> None:
        # Upkeep settles the attempts of lost workers through the app's settle step.
        self.context = context

    def describe(self) -> str:
        return f"postgres engine ({redact_url(self._dsn)}, schema {self.schema!r})"

    # -- lifecycle -----------------------------------------------------------
    async def connect(self) -> None:
        if self.pool.closed:
            self.pool = self._new_pool()
        try:
            async with self.pool.connection("connect"):
                pass
        except BrokerUnavailableError as exc:
            # Not fatal: enqueue returns Err and workers keep retrying until it is back.
            log.warning("%s: not reachable at start: %s", self.describe(), exc.message)

    async def close(self) -> None:
        if self._listener is not None:
            await self._listener.close()
            self._listener = None
        await self.pool.close()
        if self._worker_pool is not None:
            await self._worker_pool.close()

    def listener(self) -> Listener:
        """The LISTEN connection of this process (started by the first worker wait)."""
        if self._listener is None:
            self._listener = Listener(self._dsn, self.queries.channel)
        return self._listener

    def job_source(self) -> JobSource:
        if self._source is None:
            self._source = PostgresJobSource(self)
        return self._source

    @property
    def dead_letter_store(self) -> DeadLetterStore:
        return self.dead_letters

    # -- producing -------------------------------------------------------------
    async def enqueue(self, envelopes: Sequence[JobEnvelope], *, connection: Any = None) -> list[str]:
        if connection is not None:
            return await self._enqueue_on(connection, envelopes)
        async with self.pool.connection("enqueue") as conn:
            try:
                fresh = self._fresh(envelopes)
                if fresh is not None:
                    try:
                        await conn.execute(*fresh, prepare=True)
                        return [e.job_id for e in envelopes]
                    except psycopg.errors.UniqueViolation:
                        pass  # an id the caller chose is taken: nothing was written
                return await self._insert(conn, envelopes)
            except (psycopg.Error, OSError) as exc:
                if not conn.closed:
                    raise  # the server answered with an error: the insert did not commit
                # Sent, and the connection broke before the answer: the insert may have
                # committed (a crash after the commit) or not. A connection that could
                # not be opened is reported by the pool, as BrokerUnavailableError.
                raise EnqueueOutcomeUnknownError(
                    f"enqueue: the connection to PostgreSQL broke after the insert was sent "
                    f"({type(exc).__name__}: {redact_text(' '.join(str(exc).split()))}); "
                    f"the job may or may not have been written",
                    cause=exc,
                ) from exc

    async def _enqueue_on(self, connection: Any, envelopes: Sequence[JobEnvelope]) -> list[str]:
        """Inside the caller's transaction: the jobs commit or roll back with it."""
        if isinstance(connection, psycopg.AsyncConnection):
            return await self._insert(connection, envelopes)
        if isinstance(connection, psycopg.Connection):
            # enqueue_sync: the caller's thread waits for this, so the connection
            # is not used by two threads at once; it runs in a thread, so an
            # insert waiting on a lock does not stall this loop's workers.
            return await asyncio.to_thread(self._insert_sync, connection, envelopes)
        raise TaskValidationError(
            f"connection={connection!r} is not a psycopg connection",
            hint="pass the psycopg AsyncConnection (enqueue) or Connection (enqueue_sync) "
            "whose transaction the job should join",
        )

    def _fresh(self, envelopes: Sequence[JobEnvelope]) -> tuple[str, Any] | None:
        """The statement and parameters that insert ``envelopes`` with no ON CONFLICT
        (``insert_fresh_job``, ``insert_batch``), on the engine's own connections: one
        job, or jobs that differ only by id and payload, without idempotency or
        schedule keys. None otherwise."""
        if not envelopes:
            return None
        first = envelopes[0]
        if len(envelopes) == 1:
            if first.unique_key is not None or first.fire_key is not None:
                return None
            queue = first.queue
            return self.queries["insert_fresh_job"], [
                first.job_id,
                first.task_name,
                first.priority,
                first.run_at,
                first.max_attempts,
                first.to_bytes(),
                first.enqueued_at,
                queue,
                self.queries.channel,
                queue,
            ]
        return self._batch(envelopes)

    def _batch(self, envelopes: Sequence[JobEnvelope]) -> tuple[str, dict[str, Any]] | None:
        first = envelopes[0]
        queue, task, priority, attempts = first.queue, first.task_name, first.priority, first.max_attempts
        run_at, enqueued_at = first.run_at, first.enqueued_at
        for e in envelopes:
            if not (
                e.unique_key is None
                and e.fire_key is None
                and e.queue == queue
                and e.task_name == task
                and e.priority == priority
                and e.max_attempts == attempts
                and e.run_at == run_at
                and e.enqueued_at == enqueued_at
            ):
                return None
        return self.queries["insert_batch"], {
            "ids": [e.job_id for e in envelopes],
            "payloads": [e.to_bytes() for e in envelopes],
            "queue": queue,
            "task": task,
            "priority": priority,
            "run_at": run_at,
            "max_attempts": attempts,
            "enqueued_at": enqueued_at,
            "channel": self.queries.channel,
        }

    def _statement(self, envelopes: Sequence[JobEnvelope]) -> tuple[str, Any, bool | None]:
        """The statement, its parameters, and how to read its rows: True, one
        job (its id, if inserted); False, an id per job; None, the jobs' own ids."""
        q = self.queries
        if len(envelopes) > 1 and all(e.unique_key is None and e.fire_key is None for e in envelopes):
            # The payloads are JSON objects: joined, they are a JSON array.
            payloads = b",".join([e.to_bytes() for e in envelopes]).decode()
            return q["insert_plain_jobs"], {"jobs": f"[{payloads}]", "channel": q.channel}, None
        rows = [_row(e) for e in envelopes]
        if len(rows) == 1 and rows[0][9] is None:
            return q["insert_job"], [*rows[0][:9], q.channel], True
        jobs = [
            {
                "id": row[0],
                "queue": row[1],
                "task_name": row[2],
                "priority": row[3],
                "run_at": row[4].isoformat() if row[4] else None,
                "max_attempts": row[5],
                "unique_key": row[6],
                "payload": row[7].decode(),
                "enqueued_at": row[8].isoformat(),
                "fire_key": row[9],
                "ord": index,
            }
            for index, row in enumerate(rows)
        ]
        params = {"jobs": json.dumps(jobs, separators=(",", ":")), "channel": q.channel}
        return q["insert_jobs"], params, False

    async def _insert(
        self, conn: psycopg.AsyncConnection[Any], envelopes: Sequence[JobEnvelope]
    ) -> list[str]:
        query, params, single = self._statement(envelopes)
        rows = await (await conn.execute(query, params, prepare=True)).fetchall()
        ids, unresolved = _ids(envelopes, rows, single)
        for index in unresolved:
            cursor = await conn.execute(self.queries["existing_job_id"], _lookup(envelopes[index]))
            ids[index] = _found(await cursor.fetchone(), envelopes[index])
        return ids

    def _insert_sync(self, conn: psycopg.Connection[Any], envelopes: Sequence[JobEnvelope]) -> list[str]:
        query, params, single = self._statement(envelopes)
        ids, unresolved = _ids(envelopes, conn.execute(query, params).fetchall(), single)
        for index in unresolved:
            row = conn.execute(self.queries["existing_job_id"], _lookup(envelopes[index])).fetchone()
            ids[index] = _found(row, envelopes[index])
        return ids

    async def push_raw(self, queue: str, payload: bytes, job_id: str) -> None:
        """Store bytes as a broker would receive them, unchecked (tests of bad input)."""
        try:
            envelope: JobEnvelope | None = JobEnvelope.from_bytes(payload)
        except EnvelopeError:
            envelope = None
        task = envelope.task_name if envelope else "<undecodable>"
        priority = envelope.priority if envelope else 0
        max_attempts = envelope.max_attempts if envelope else 1
        q = self.queries
        row = [job_id, queue, task, priority, None, max_attempts, None, payload, utcnow(), q.channel]
        async with self.pool.connection("enqueue") as conn:
            await conn.execute(q["insert_job"], row)

    # -- inspection --------------------------------------------------------------
    async def get_job(self, job_id: str) -> JobInfo | None:
        async with self.pool.connection("get_job") as conn:
            row = await (await conn.execute(self.queries["get_job"], [job_id], prepare=True)).fetchone()
        if row is None:
            return None
        status = _STATES[row[3]]
        if status is JobStatus.PENDING and row[13]:
            status = JobStatus.SCHEDULED
        return JobInfo(
            job_id=row[0],
            task_name=row[1],
            queue=row[2],
            status=status,
            attempts=row[4],
            max_attempts=row[5],
            enqueued_at=row[6],
            run_at=row[7],
            started_at=row[8],
            finished_at=row[9],
            last_error=row[10],
            result=row[11],
            priority=row[12],
        )

    async def cancel(self, job_id: str) -> bool:
        async with self.pool.connection("cancel") as conn:
            return await (await conn.execute(self.queries["cancel"], [job_id])).fetchone() is not None

    async def count(self, queue: str, status: JobStatus | None) -> int:
        q = self.queries
        if status is None:
            query, params = q["count_waiting"], [queue]
        elif status is JobStatus.PENDING:
            query, params = q["count_pending"], [queue]
        elif status is JobStatus.SCHEDULED:
            query, params = q["count_scheduled"], [queue]
        else:
            state = next(name for name, value in _STATES.items() if value is status)
            query, params = q["count_state"], [queue, state]
        async with self.pool.connection("count") as conn:
            row = await (await conn.execute(query, params)).fetchone()
        return int(row[0]) if row else 0

    async def clear(self, queue: str) -> int:
        async with self.pool.connection("clear") as conn:
            return (await conn.execute(self.queries["clear"], [queue])).rowcount
