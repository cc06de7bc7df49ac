"""The consumer side: batched claims, batched guarded outcomes, heartbeats,
rescue of jobs whose worker died, and retention sweeps.

Every outcome carries the attempt token its claim returned and is written only
while the row is still that attempt's (``running`` under that token), so a slow
old worker cannot overwrite a newer attempt or a rescue. A running job whose
worker was lost is settled by the app's settle step (the one poison-pill rule),
written through the same guarded outcomes.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import socket
import time
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import psycopg

from lexigram_compat.adapters.postgres.batching import Batcher
from lexigram_compat.dead_letters import enforce_retention
from lexigram_compat.engine_contract import ClaimedJob, FailureInfo, JobSource, WorkState
from lexigram_compat.envelope import EnvelopeError, JobEnvelope
from lexigram_compat.ledger import FIRE_GUARD_SECONDS
from lexigram_compat.letters import UNDECODABLE_TASK
from lexigram_compat.outcomes import undecodable
from lexigram_compat.serialization import dumps, loads
from lexigram_compat.worker.runtime import SourceSettlement

if TYPE_CHECKING:
    from lexigram_compat.adapters.postgres.engine import PostgresEngine
    from lexigram_compat.queue import DeadLetter

__all__ = ["PostgresJobSource"]

log = logging.getLogger("lexigram_compat.postgres")

SWEEP_BATCH = 5000
"""Finished jobs one sweep statement deletes (``LIMIT`` in queries.sql)."""
SWEEP_BUDGET = 2.0
"""Seconds one upkeep pass may spend deleting finished jobs, batch after batch."""
ADVANCE_UP_TO = 16
"""Prefetch (the worker's concurrency) up to which completions carry the next
starts and reservations. Above it a batch's round trips are shared by many jobs
and the worker gains more from overlapping them: completions then commit
asynchronously, beside the starts and claims (at 1 x 100, one synchronous
pipeline drained 5-45 % slower than the two)."""


@dataclasses.dataclass(frozen=True)
class _Outcome:
    job: ClaimedJob
    values: tuple[Any, ...]


def _problem(exc: Exception) -> str:
    """Why bytes are not a job, worded as ``JobEnvelope.from_bytes`` words it."""
    if isinstance(exc, EnvelopeError):
        return str(exc)
    if isinstance(exc, RecursionError):
        return "not JSON: nested too deeply"
    return f"not JSON: {exc}"


def _text(value: str | None) -> str | None:
    """``value`` storable in a text column: NUL characters escaped as ``\\x00``."""
    return value.replace("\x00", "\\x00") if value is not None and "\x00" in value else value


def _key(outcome: _Outcome) -> str:
    return outcome.job.job_id


class PostgresJobSource(JobSource):
    """What ``lexigram-compat worker`` drives for the PostgreSQL engine."""

    def __init__(self, engine: PostgresEngine) -> None:
        self.engine = engine
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        cfg = engine.config
        self.lease = cfg.worker.lease_seconds
        self.keep_completed = cfg.retention.completed_seconds
        # Claim a batch ahead of free slots (double buffering): a slot that frees
        # starts a job without a round trip, and one claim serves many slots.
        self.prefetch = cfg.worker.max_concurrent_tasks
        self.maintenance_every = max(0.1, min(self.lease / 4, 5.0))
        self._last_maintenance = 0.0
        # An outcome is retried for as long as the server is away (the job stays
        # in the worker's running set, so its lease is renewed once it is back):
        # giving up would let a rescue re-run, or dead-letter, a job that succeeded.
        outcome_batchers: dict[str, Batcher[_Outcome]] = {
            kind: Batcher(self._writer(kind), _key, patience=None)
            for kind in ("complete", "retry", "dead_letter")
        }
        self._batchers = outcome_batchers
        self._reserved: dict[str, ClaimedJob] = {}
        """Jobs this worker reserved (prefetched) and has not started, in claim order."""
        self._held: list[tuple[tuple[Any, ...], ClaimedJob]] = []
        """Reserved by a completion's statement (``complete_and_advance``), not yet
        handed to the worker loop: (claim order key, job)."""
        self._early: dict[str, int] = {}
        """Reserved jobs the worker loop holds that a completion's statement already
        started (attempt counted): their attempt counts, for ``start``."""
        self._advancing: set[str] = set()
        """Reserved jobs a completion's statement is starting right now. ``start`` and
        ``release`` of such a job wait for the statement: both would update the same
        row, and the side that lost the row lock would drop a job the other counted."""
        self._advanced = asyncio.Event()
        """Set (and replaced) each time a completion's statement ends."""
        self._statements = 0
        """Completions' statements in flight (``release_prefetched`` waits for them)."""
        self._queues: list[str] = []
        self._ahead = 0
        """Jobs the worker loop holds reserved ahead (its last claim's ``ahead``)."""
        self._busy = False
        """The last claim came back full and nothing was handed back since: a
        completion's statement reserves the next jobs ahead (the worker loop's rule)."""

    # -- claiming ------------------------------------------------------------
    async def claim(self, queues: Sequence[str], limit: int) -> list[ClaimedJob]:
        return await self.claim_ahead(queues, limit, 0)

    async def claim_ahead(self, queues: Sequence[str], run: int, ahead: int) -> list[ClaimedJob]:
        """``run`` jobs start now (attempt counted); ``ahead`` more are reserved.

        Jobs a completion already reserved (``complete_and_advance``) come first,
        without a round trip; ``start`` counts their attempts."""
        engine = self.engine
        listener = engine.listener()
        listener.watch(queues)
        listener.arm()
        await self._maintain_if_due()
        self._queues = list(dict.fromkeys(queues))
        if self._held:
            self._held.sort(key=lambda held: held[0])
            taken, self._held = self._held[: run + ahead], self._held[run + ahead :]
            return [job for _, job in taken]
        q = engine.queries
        async with engine.worker_pool.connection("claim") as conn:
            cursor = await conn.execute(
                q["claim"],
                {"queues": self._queues, "limit": run + ahead, "run": run, "worker": self.worker_id},
                prepare=True,
            )
            rows = await cursor.fetchall()
        self._busy = ahead > 0 and len(rows) >= run + ahead
        self._ahead = ahead
        # RETURNING does not keep the ORDER BY of the subquery.
        rows.sort(key=lambda r: (-r[5], r[6], r[7]))
        jobs = [self._claimed(row, due=row[6], counted=row[8] == "running") for row in rows]
        for job, row in zip(jobs, rows, strict=True):
            if row[8] == "reserved":
                self._reserved[job.job_id] = job
        return jobs

    async def start(self, jobs: Sequence[ClaimedJob]) -> list[ClaimedJob]:
        await self._after_advances(jobs)
        early = {job.job_id: self._early.pop(job.job_id) for job in jobs if job.job_id in self._early}
        attempts = dict(early)
        # Taken out of _reserved before the round trip: a completion's statement
        # must not start the same jobs meanwhile.
        reserved = [job for job in jobs if self._reserved.pop(job.job_id, None) is not None]
        if not reserved and not attempts:
            return list(jobs)
        if reserved:
            try:
                async with self.engine.worker_pool.connection("start") as conn:
                    cursor = await conn.execute(
                        self.engine.queries["start"],
                        [[j.job_id for j in reserved], [j.token for j in reserved]],
                        prepare=True,
                    )
                    attempts.update(await cursor.fetchall())
            except BaseException:
                # Still reserved (or started early): the worker loop tries again.
                for job in reserved:
                    self._reserved[job.job_id] = job
                self._early.update(early)
                raise
        started = []
        for job in jobs:
            if job.job_id not in attempts:
                if all(job is not r for r in reserved):
                    started.append(job)  # claimed running
                continue  # cancelled or rescued meanwhile: not this worker's any more
            envelope, count = job.envelope, attempts[job.job_id]
            if envelope is None or envelope.attempts == count:
                # A reserved job's envelope already carries the count its start makes
                # (see _claimed): copied only when the row counted otherwise.
                started.append(job)
            else:
                started.append(
                    dataclasses.replace(job, envelope=dataclasses.replace(envelope, attempts=count))
                )
        return started

    def _claimed(self, row: tuple[Any, ...], *, due: Any = None, counted: bool = True) -> ClaimedJob:
        """The job of a claimed row (``due``: its ``run_at`` column, ``counted``: whether its
        ``attempts`` include the attempt starting now). A reserved row's envelope carries
        the count its start will make (``start`` copies it only when the row says otherwise)."""
        job_id, queue, token, attempts, payload = row[0], row[1], row[2], row[3], bytes(row[4])
        try:
            data = loads(payload)
            if isinstance(data, dict):
                earlier = attempts - counted  # attempts before this one
                data["attempts"] = earlier + 1  # the row counts attempts, not the stored payload
                if (data.get("run_at") is not None or earlier > 0) and isinstance(due, datetime):
                    # A retry's due time lives in the row, not the stored payload.
                    data["run_at"] = due.isoformat()
            envelope = JobEnvelope.from_dict(data)
        except (EnvelopeError, ValueError, UnicodeDecodeError, RecursionError) as exc:
            return ClaimedJob(job_id, None, token, payload, _problem(exc), queue)
        return ClaimedJob(job_id, envelope, token, None, None, queue)

    async def wait_for_work(self, queues: Sequence[str], timeout: float) -> None:
        listener = self.engine.listener()
        listener.watch(queues)
        # Wake up for upkeep too (the claim that follows runs it), however
        # long the poll interval.
        due = self._last_maintenance + self.maintenance_every - time.monotonic()
        await listener.wait(max(0.01, min(timeout, due)))

    # -- outcomes --------------------------------------------------------------
    def _writer(self, kind: str) -> Any:
        async def write(items: Sequence[_Outcome]) -> set[str]:
            if kind == "complete" and self._ahead <= ADVANCE_UP_TO:
                return await self._complete_and_advance(items)
            ids = [o.job.job_id for o in items]
            tokens = [o.job.token for o in items]
            columns = [list(column) for column in zip(*(o.values for o in items), strict=True)]
            name = kind
            if kind == "complete" and self.keep_completed == 0:
                name, columns = "complete_and_delete", []
            async with self.engine.worker_pool.connection(kind) as conn:
                cursor = await conn.execute(self.engine.queries[name], [ids, tokens, *columns], prepare=True)
                return {row[0] for row in await cursor.fetchall()}

        return write

    async def _complete_and_advance(self, items: Sequence[_Outcome]) -> set[str]:
        """Write completions; in the same statement start the reserved jobs the
        freed slots will take next and, while the queue is busy, reserve as many
        in their place (one round trip per batch instead of three)."""
        starting = [self._reserved.pop(job_id) for job_id in list(self._reserved)[: len(items)]]
        waiting = len(self._reserved)
        reserve = max(0, self._ahead - waiting) if self._busy and self._queues else 0
        params = {
            "keep": self.keep_completed != 0,
            "ids": [o.job.job_id for o in items],
            "tokens": [o.job.token for o in items],
            "results": [o.values[0] for o in items],
            "start_ids": [j.job_id for j in starting],
            "start_tokens": [j.token for j in starting],
            "queues": self._queues,
            "limit": reserve,
            "worker": self.worker_id,
        }
        self._advancing.update(job.job_id for job in starting)
        self._statements += 1
        try:
            async with self.engine.worker_pool.connection("complete") as conn:
                cursor = await conn.execute(self.engine.queries["complete_and_advance"], params, prepare=True)
                rows = await cursor.fetchall()
        except BaseException:
            for job in starting:  # the statement did not start them: still reserved
                self._reserved[job.job_id] = job
            raise
        finally:
            self._statements -= 1
            self._advancing.difference_update(job.job_id for job in starting)
            self._advanced.set()
            self._advanced = asyncio.Event()
        done: set[str] = set()
        started: dict[str, int] = {}
        reserved = []
        for row in rows:
            kind = row[0]
            if kind == "done":
                done.add(row[1])
            elif kind == "started":
                started[row[1]] = row[4]
            elif kind == "reserved":
                reserved.append(row)
        # In the order the worker loop takes held jobs (RETURNING keeps none), so
        # that the next completions start the jobs the freed slots take.
        reserved.sort(key=lambda row: (-row[6], row[7], row[8]))
        for row in reserved:
            job = self._claimed(row[1:], due=row[7], counted=False)
            self._reserved[job.job_id] = job
            self._held.append(((-row[6], row[7], row[8]), job))
        for job in starting:
            if job.job_id in started:
                self._early[job.job_id] = started[job.job_id]
            else:
                # Cancelled or rescued meanwhile: back in _reserved, `start` asks the
                # server and leaves it out.
                self._reserved[job.job_id] = job
        return done

    async def _after_advances(self, jobs: Sequence[ClaimedJob]) -> None:
        """Wait until no completion's statement is starting any of ``jobs``."""
        ids = {job.job_id for job in jobs}
        while self._advancing & ids:
            await self._advanced.wait()

    async def complete(self, job: ClaimedJob, result: Any) -> bool:
        """Record success; raises ``ValueError`` for a result PostgreSQL cannot store."""
        encoded = None if result is None else dumps(result).decode()
        try:
            return await self._batchers["complete"].submit(_Outcome(job, (encoded,)))
        except psycopg.DataError as exc:
            raise ValueError(
                f"the task's result cannot be stored as PostgreSQL jsonb ({type(exc).__name__}: "
                f"{str(exc).splitlines()[0]}); return a value without NUL (\\u0000) characters"
            ) from exc

    async def retry(self, job: ClaimedJob, run_at: datetime, failure: FailureInfo) -> bool:
        return await self._batchers["retry"].submit(_Outcome(job, (run_at, _text(failure.summary()))))

    async def dead_letter(self, job: ClaimedJob, letter: DeadLetter, failure: FailureInfo) -> bool:
        # The row keeps the payload: the letter is read back from it (dead_letters.py).
        values = tuple(
            _text(v) for v in (failure.summary(), failure.error_type, failure.message, failure.traceback)
        )
        return await self._batchers["dead_letter"].submit(_Outcome(job, values))

    async def release(self, job: ClaimedJob) -> bool:
        await self._after_advances([job])
        self._reserved.pop(job.job_id, None)
        self._early.pop(job.job_id, None)
        q = self.engine.queries
        async with self.engine.worker_pool.connection("release") as conn:
            cursor = await conn.execute(q["release"], [job.job_id, job.token, q.channel])
            return await cursor.fetchone() is not None

    async def release_prefetched(self) -> None:
        """Return the jobs completions reserved ahead that the worker loop never took."""
        self._busy = False  # completions from now on reserve nothing more
        while self._statements:  # one in flight may still bring reserved jobs
            await self._advanced.wait()
        held, self._held = self._held, []
        for _, job in held:
            try:
                await self.release(job)
            except Exception:
                log.exception("returning reserved job %s failed; its lease will expire", job.job_id)

    async def heartbeat(self, jobs: Sequence[ClaimedJob]) -> None:
        jobs = [*jobs, *(job for _, job in self._held)]
        async with self.engine.worker_pool.connection("heartbeat") as conn:
            await conn.execute(
                self.engine.queries["heartbeat"], [[j.job_id for j in jobs], [j.token for j in jobs]]
            )
        # A worker whose slots all stay busy does not claim, so upkeep (rescue
        # of dead workers' jobs, sweeps) rides on its heartbeat instead.
        await self._maintain_if_due()

    # -- upkeep ------------------------------------------------------------------
    async def _maintain_if_due(self) -> None:
        if time.monotonic() - self._last_maintenance >= self.maintenance_every:
            await self.maintain()

    async def maintain(self) -> None:
        """Rescue jobs of dead workers; delete finished jobs and dead letters past retention."""
        self._last_maintenance = time.monotonic()
        q = self.engine.queries
        async with self.engine.worker_pool.connection("maintenance") as conn:
            params = {"lease": self.lease, "channel": q.channel}
            await conn.execute(q["rescue_reserved"], params)
            lost = await (await conn.execute(q["lost_jobs"], [self.lease])).fetchall()
        if lost:
            await self._settle_lost(lost)
        async with self.engine.worker_pool.connection("maintenance") as conn:
            # Repeat while batches come back full, within a budget (a quarter
            # lease at most: upkeep can run from the heartbeat).
            budget_end = time.monotonic() + min(SWEEP_BUDGET, self.lease / 4)
            while (
                await conn.execute(q["sweep_finished"], [self.keep_completed])
            ).rowcount >= SWEEP_BATCH and time.monotonic() < budget_end:
                pass
            await conn.execute(q["sweep_fires"], [max(FIRE_GUARD_SECONDS, self.keep_completed)])
        await enforce_retention(self.engine.dead_letters, self.engine.config.retention)

    async def _settle_lost(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Hand attempts whose worker stopped heartbeating to the settle step: its
        poison-pill rule decides, the guarded outcome writes record (in one batch)."""
        context = self.engine.context
        if context is None:
            raise RuntimeError("the postgres engine was never attached to an app")
        settler = context.host.settler()

        async def settle(row: tuple[Any, ...]) -> None:
            job = self._claimed(row)
            target = SourceSettlement(self, job)
            if job.envelope is None:
                envelope = JobEnvelope(job.job_id, UNDECODABLE_TASK, job.queue, attempts=max(1, row[3]))
                outcome = undecodable(job.problem or "unknown format")
                await settler.settle(envelope, outcome, target, raw=job.raw)
                return
            envelope = dataclasses.replace(job.envelope, max_attempts=row[5])
            await settler.settle(envelope, settler.lost(envelope), target)

        results = await asyncio.gather(*(settle(row) for row in rows), return_exceptions=True)
        for row, result in zip(rows, results, strict=True):
            if isinstance(result, Exception):
                log.error("settling lost job %s failed: %r (the next upkeep tries again)", row[0], result)

    async def work_state(self, queues: Sequence[str]) -> WorkState:
        async with self.engine.worker_pool.connection("work state") as conn:
            row = await (await conn.execute(self.engine.queries["work_state"], [list(queues)])).fetchone()
        assert row is not None
        return WorkState(ready=row[0], running=row[1], retrying=row[2], next_retry_at=row[3])
