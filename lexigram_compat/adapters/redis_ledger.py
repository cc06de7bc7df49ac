"""The Redis job ledger: one for every engine whose broker keeps no job records.

A broker moves messages; ``get_job``, ``cancel``, idempotency keys, the
one-job-per-fire-time guard and the attempt count need a record per job. This
module keeps it in Redis for the Dramatiq and Celery engines alike (on Redis,
or beside RabbitMQ): a hash per job (status, attempts, timestamps, last error,
result), an index per queue and status (for ``count``/``clear``), a key per
idempotency key, per schedule fire time (held :data:`~lexigram_compat.ledger.FIRE_GUARD_SECONDS`,
apart from the record's retention) and per cancelled job (a tombstone, so a
message of it still on a broker never starts it). Every change is one call of
the Lua script beside this file, so it is atomic: a cancel and a worker's
start cannot both win.

What differs between engines is a parameter, not a second store:

- ``gone_hold``: how long past its run-at time a cancelled or cleared job's
  messages are refused (Celery on Redis: beyond the visibility timeout, when a
  broker may deliver the message again);
- a worker's ``start`` of a job the ledger has no record of (sent by code that
  does not use this library, e.g. plain Celery ``.delay()``) creates the record;
- ``create`` can push the broker's message in the same atomic step, when the
  broker is the same Redis (:class:`RedisPush`), and ``complete``/``fail`` can
  acknowledge a Dramatiq Redis delivery in it (:class:`RedisAck`).

:class:`RedisLedgerCalls` (``redis_ledger_calls.py``) builds the script calls (:class:`StateCall`);
:class:`RedisLedger` (``redis.asyncio``) implements the ledger contract
(:class:`~lexigram_compat.ledger.JobRecords`, :class:`~lexigram_compat.ledger.AttemptRecords`)
and :class:`SyncRedisLedger` (``redis``) runs calls from threads that own no loop.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from lexigram_compat.adapters.redis_batch import CallBatcher, HeldConnection
from lexigram_compat.adapters.redis_effects import RedisAck, RedisPush
from lexigram_compat.adapters.redis_ledger_calls import GONE_HOLD, RedisLedgerCalls, StateCall
from lexigram_compat.connection_errors import outcome_unknown
from lexigram_compat.envelope import JobEnvelope
from lexigram_compat.errors import EnqueueOutcomeUnknownError
from lexigram_compat.ledger import AttemptRecords, Delivery, JobRecords, StartVerdict
from lexigram_compat.records import JobInfo, JobStatus
from lexigram_compat.redaction import redact
from lexigram_compat.retrying import retry_while_unreachable

if TYPE_CHECKING:
    import redis
    import redis.asyncio

    from lexigram_compat.outcomes import FailureInfo

__all__ = [
    "GONE_HOLD", "WAITING_STATUSES", "RedisAck", "RedisLedger", "RedisLedgerCalls", "RedisPush",
    "StateCall", "SyncRedisLedger",
]  # fmt: skip

T = TypeVar("T")

SCRIPT = (Path(__file__).with_name("redis_ledger.lua")).read_text(encoding="utf-8")
WAITING_STATUSES = (JobStatus.PENDING, JobStatus.SCHEDULED, JobStatus.RETRYING)
_NO_RESULT = ""
UNDO_SECONDS = 10.0
"""How long an enqueue keeps trying to undo its job records through a Redis outage."""


class RedisLedger(JobRecords, AttemptRecords):
    """The ledger contract on ``redis.asyncio`` (producers, and workers on a loop)."""

    def __init__(self, client: redis.asyncio.Redis, calls: RedisLedgerCalls) -> None:
        self.client = client
        self.calls = calls
        self._sha: str | None = None
        self._batcher = CallBatcher(self._batch)
        self._held = HeldConnection(client)

    async def run(self, call: StateCall[T]) -> T:
        """Run one call; connection errors propagate (``redis`` errors, ``OSError``)."""
        return call.decode(await self._eval(call.args))

    async def run_many(self, calls: Sequence[StateCall[T]]) -> list[T]:
        """Run several calls in one round trip (a pipeline; each call stays atomic)."""
        replies = await self._pipeline([call.args for call in calls])
        for reply in replies:
            if isinstance(reply, Exception):
                raise reply
        return [call.decode(reply) for call, reply in zip(calls, replies, strict=True)]

    async def run_batched(self, call: StateCall[T]) -> T:
        """Run one call of a worker's job, sent with the other jobs' calls made while a
        round trip is in flight (:class:`~lexigram_compat.adapters.redis_batch.CallBatcher`),
        as one script call (:meth:`_batch`)."""
        return await self._batcher.run(call)

    async def _pipeline(self, arguments: Sequence[tuple[Any, ...]]) -> list[Any]:
        """The replies to script calls with ``arguments``, in one round trip (an error
        object in place of a call that failed)."""
        if len(arguments) == 1:
            return [await self._eval(arguments[0])]
        from redis.exceptions import NoScriptError

        for _ in range(2):
            sha = await self._script_sha()
            async with self.client.pipeline(transaction=False) as pipe:
                for args in arguments:
                    pipe.evalsha(sha, 0, *args)
                replies = await pipe.execute(raise_on_error=False)
            if not any(isinstance(r, NoScriptError) for r in replies):
                break
            self._sha = None  # the server lost its script cache (restart, SCRIPT FLUSH)
        return list(replies)

    async def _batch(self, arguments: Sequence[tuple[Any, ...]]) -> list[Any]:
        """Like :meth:`_pipeline`, as one call of the script's ``many``: one command for
        the client to send and parse (in a pipeline each call costs the client one,
        about as much again as the call itself). Each call stays atomic (the whole
        batch is); a failed call is an error object in its place."""
        if len(arguments) == 1:
            return [await self._eval_held(arguments[0])]
        flat: list[Any] = ["many", len(arguments)]
        for args in arguments:
            flat.append(len(args))
            flat.extend(args)
        return list(await self._eval_held(tuple(flat)))

    async def _eval_held(self, args: tuple[Any, ...]) -> Any:
        """:meth:`_eval` on the batcher's own connection (:class:`HeldConnection`)."""
        from redis.exceptions import NoScriptError

        try:
            return await self._held.call("EVALSHA", await self._script_sha(), 0, *args)
        except NoScriptError:
            self._sha = None  # the server lost its script cache: load it again
            return await self._held.call("EVALSHA", await self._script_sha(), 0, *args)

    async def _script_sha(self) -> str:
        if self._sha is None:
            self._sha = str(await self.client.script_load(SCRIPT))
        return self._sha

    async def _eval(self, args: tuple[Any, ...]) -> Any:
        # EVALSHA directly: a registered script in a pipeline asks SCRIPT EXISTS
        # first, one more round trip per call.
        from redis.exceptions import NoScriptError

        try:
            return await self.client.evalsha(await self._script_sha(), 0, *args)
        except NoScriptError:
            self._sha = None
            return await self.client.evalsha(await self._script_sha(), 0, *args)

    # -- producers and inspection (JobRecords) -------------------------------------
    async def create(
        self, envelopes: Sequence[JobEnvelope], publish: Sequence[RedisPush | None] | None = None
    ) -> list[tuple[str, bool]]:
        """Create a record per envelope in one round trip (``(job id, created)`` each;
        the holder's id when taken), pushing ``publish[i]`` with each new one."""
        pushes = publish if publish is not None else [None] * len(envelopes)
        return await self.run_many(
            [self.calls.create(e, publish=p) for e, p in zip(envelopes, pushes, strict=True)]
        )

    async def create_published(
        self, envelopes: Sequence[JobEnvelope], publish: Sequence[RedisPush]
    ) -> list[str]:
        """:meth:`create` with each job's message pushed in the same step (a Redis
        broker): the job ids. A failure after the call was sent (the reply lost, the
        server crashed) is :class:`~lexigram_compat.errors.EnqueueOutcomeUnknownError`:
        the jobs may have been written, and an enqueue again with the same ids finds
        them; a connection that could not be opened propagates as it is."""
        try:
            created = await self.create(envelopes, publish)
        except Exception as exc:
            if not outcome_unknown(exc):
                raise
            raise EnqueueOutcomeUnknownError(
                f"enqueue: the connection to Redis broke after the jobs were sent "
                f"({type(exc).__name__}: {redact(' '.join(str(exc).split()))}); they may or may "
                f"not have been written",
                cause=exc,
            ) from exc
        return [job_id for job_id, _ in created]

    async def forget(self, job_id: str) -> bool:
        """Undo :meth:`create` for a job whose message could not be published."""
        return await self.run(self.calls.forget(job_id))

    async def create_unpublished(self, envelopes: Sequence[JobEnvelope]) -> list[tuple[str, bool]]:
        """:meth:`create` for jobs whose messages go to another broker next (RabbitMQ).
        Records a call whose reply was lost may have written are undone (only those it
        wrote), so its error means "no job"; records that cannot be undone within
        :data:`UNDO_SECONDS` make it :class:`~lexigram_compat.errors.EnqueueOutcomeUnknownError`."""
        tokens = [uuid.uuid4().hex for _ in envelopes]
        try:
            return await self.run_many(
                [self.calls.create(e, token=t) for e, t in zip(envelopes, tokens, strict=True)]
            )
        except Exception as exc:
            await self.after_failed_create(envelopes, tokens, exc)
            raise

    async def after_failed_create(
        self, envelopes: Sequence[JobEnvelope], tokens: Sequence[str], exc: Exception
    ) -> None:
        """After ``create(..., token=)`` calls of ``envelopes`` failed with ``exc``: when
        they may have been written (the reply was lost), undo the records they wrote, and
        raise :class:`~lexigram_compat.errors.EnqueueOutcomeUnknownError` when that fails
        within :data:`UNDO_SECONDS`. Returns when ``exc`` means "no job" (the caller raises it)."""
        if not outcome_unknown(exc):
            return
        for envelope, token in zip(envelopes, tokens, strict=True):
            if not await self._undo(envelope.job_id, token):
                raise EnqueueOutcomeUnknownError(
                    f"enqueue: the connection to Redis broke after the job records were sent "
                    f"and they could not be undone ({type(exc).__name__}: "
                    f"{redact(' '.join(str(exc).split()))})",
                    cause=exc,
                ) from exc

    async def undo_create(self, job_id: str) -> bool:
        """:meth:`forget`, tried again while Redis is unreachable for up to
        :data:`UNDO_SECONDS`: False when it never got through (the record may stay)."""
        return await self._undo(job_id, "")

    async def _undo(self, job_id: str, token: str) -> bool:
        try:
            await retry_while_unreachable(
                lambda: self.run(self.calls.forget(job_id, token)), seconds=UNDO_SECONDS, first_pause=0.2
            )
        except Exception:
            return False
        return True

    async def get_job(self, job_id: str) -> JobInfo | None:
        return await self.run(self.calls.get(job_id))

    async def cancel(self, job_id: str) -> bool:
        return await self.run(self.calls.cancel(job_id))

    async def count(self, queue: str, status: JobStatus | None) -> int:
        return await self.run(self.calls.count(queue, WAITING_STATUSES if status is None else (status,)))

    async def clear(self, queue: str) -> int:
        return await self.run(self.calls.clear(queue))

    # -- workers (AttemptRecords) ------------------------------------------------------
    async def start(self, delivery: Delivery, envelope: JobEnvelope) -> StartVerdict:
        return await self.run_batched(self.calls.start(envelope))

    async def complete(self, delivery: Delivery, result: Any) -> bool:
        return await self.run_batched(self.calls.complete(delivery.job_id, result))

    async def retry(self, delivery: Delivery, run_at: datetime, failure: FailureInfo) -> bool:
        return await self.run_batched(self.calls.retry(delivery.job_id, run_at, failure.summary()))

    async def dead_letter(self, delivery: Delivery, failure: FailureInfo) -> bool:
        return await self.run_batched(self.calls.fail(delivery.job_id, failure.summary()))

    async def release(self, delivery: Delivery) -> bool:
        return await self.run_batched(self.calls.release(delivery.job_id))


class SyncRedisLedger:
    """Runs ledger calls with ``redis`` (blocking), for threads that own no event loop."""

    def __init__(self, client: redis.Redis, calls: RedisLedgerCalls) -> None:
        self.client = client
        self.calls = calls
        self._script = client.register_script(SCRIPT)

    def run(self, call: StateCall[T]) -> T:
        """Run one call; connection errors propagate."""
        return call.decode(self._script(keys=[], args=list(call.args)))

    def run_batch(self, calls: Sequence[StateCall[T]]) -> list[T | Exception]:
        """Run several calls as one script call (the script's ``many``, as
        :meth:`RedisLedger.run_batched` sends them): each call's reply, or its error in its
        place; a connection error propagates."""
        if len(calls) == 1:
            return [self.run(calls[0])]
        flat: list[Any] = ["many", len(calls)]
        for call in calls:
            flat.append(len(call.args))
            flat.extend(call.args)
        replies = self._script(keys=[], args=flat)
        return [
            reply if isinstance(reply, Exception) else call.decode(reply)
            for call, reply in zip(calls, replies, strict=True)
        ]
