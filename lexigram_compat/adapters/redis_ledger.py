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

:class:`RedisLedgerCalls` builds the script calls (:class:`StateCall`);
:class:`RedisLedger` (``redis.asyncio``) implements the ledger contract
(:class:`~lexigram_compat.ledger.JobRecords`, :class:`~lexigram_compat.ledger.AttemptRecords`)
and :class:`SyncRedisLedger` (``redis``) runs calls from threads that own no loop.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from lexigram_compat.adapters.redis_batch import CallBatcher, HeldConnection
from lexigram_compat.adapters.redis_effects import RedisAck, RedisPush
from lexigram_compat.connection_errors import outcome_unknown
from lexigram_compat.envelope import JobEnvelope
from lexigram_compat.errors import EnqueueOutcomeUnknownError
from lexigram_compat.ledger import FIRE_GUARD_SECONDS, AttemptRecords, Delivery, JobRecords, StartVerdict
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
GONE_HOLD = 7 * 86_400.0
"""Default seconds past its run_at that a cancelled or cleared job's messages are refused."""


def _stamp(moment: datetime | None) -> str | None:
    return None if moment is None else repr(moment.timestamp())


def _time(raw: str | None) -> datetime | None:
    return None if not raw else datetime.fromtimestamp(float(raw), UTC)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _flag(reply: Any) -> bool:
    return int(reply) == 1


def _created(reply: Any) -> tuple[str, bool]:
    return _text(reply[0]), int(reply[1]) == 1


_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
"""Compact JSON text, non-ASCII kept as it is (the script's cjson reads UTF-8)."""


@dataclass(frozen=True)
class StateCall(Generic[T]):
    """One script call: its arguments and how to read the reply."""

    args: tuple[Any, ...]
    decode: Callable[[Any], T]


class RedisLedgerCalls:
    """The key layout under ``prefix`` and the calls of the ledger script."""

    def __init__(
        self,
        prefix: str = "lexigram:state:",
        *,
        ttl: float = 3600.0,
        gone_hold: float = GONE_HOLD,
        fire_hold: float = FIRE_GUARD_SECONDS,
    ) -> None:
        if not prefix:
            raise ValueError("the job-ledger key prefix must not be empty (it isolates apps sharing a Redis)")
        self.prefix = prefix
        self.ttl = ttl
        """Seconds a finished job stays visible (``retention.completed_seconds``)."""
        self.gone_hold = gone_hold
        """Seconds past its run_at that a cancelled/cleared job is never started
        (its message may still be on the broker), however short ``ttl`` is."""
        self.fire_hold = max(fire_hold, ttl)
        """Seconds a schedule fire time stays claimed, whatever the job's retention."""

    def _call(self, command: str, *args: str | bytes, decode: Callable[[Any], T]) -> StateCall[T]:
        return StateCall((command, self.prefix, repr(time.time()), *args), decode)

    def job_key(self, job_id: str) -> str:
        """The hash holding one job's record."""
        return f"{self.prefix}job:{job_id}"

    def index_key(self, queue: str, status: JobStatus) -> str:
        """The sorted set of the ids of ``queue``'s jobs in ``status``."""
        return f"{self.prefix}idx:{queue}:{status.value}"

    # -- producers ---------------------------------------------------------------
    def create(
        self,
        envelope: JobEnvelope,
        *,
        scheduled: bool | None = None,
        publish: RedisPush | None = None,
        token: str | None = None,
    ) -> StateCall[tuple[str, bool]]:
        """Record a new job (pending, or scheduled when it has a future ``run_at``).

        The reply is ``(job_id, created)``: when the envelope's ``job_id`` exists,
        its ``unique_key`` is held by a live job, or its ``fire_key`` was claimed
        (within ``fire_hold``), the holder's id and False. With ``publish`` (a broker
        queue in the same Redis), the message is pushed in the same atomic step,
        and only when the job is new.
        """
        if scheduled is None:
            scheduled = envelope.run_at is not None and envelope.run_at.timestamp() > time.time()
        fields = {"task": envelope.task_name, "attempts": str(envelope.attempts)}
        fields["max_attempts"] = str(envelope.max_attempts)
        fields["priority"] = str(envelope.priority)
        fields["enqueued_at"] = repr(envelope.enqueued_at.timestamp())
        if envelope.run_at is not None:
            fields["run_at"] = repr(envelope.run_at.timestamp())
        if envelope.fire_key is not None:
            fields["fire_key"] = envelope.fire_key
        if token is not None:
            fields["create_token"] = token  # lets forget(token=) undo this create only
        job: dict[str, Any] = {
            "id": envelope.job_id,
            "queue": envelope.queue,
            "status": "scheduled" if scheduled else "pending",
            "unique": envelope.unique_key or "",
            "fire": envelope.fire_key or "",
            "hold": repr(self.fire_hold),
            "fields": fields,
        }
        # The job as one JSON argument: redis-py packs every argument in Python (30-odd
        # of them per job, the record's fields one by one, cost more than the encoding).
        if publish is None:
            return self._call("create", _json(job), decode=_created)
        job["push"] = publish.spec()
        return self._call("create", _json(job), publish.payload, publish.list_value, decode=_created)

    def cancel(self, job_id: str) -> StateCall[bool]:
        """Cancel a job that has not started; False if unknown or too late. A message
        of it still on the broker is refused by :meth:`start`, even once the record
        expired (for ``gone_hold`` seconds past its run_at)."""
        return self._call("cancel", job_id, repr(self.ttl), repr(self.gone_hold), decode=_flag)

    def forget(self, job_id: str, token: str = "") -> StateCall[bool]:
        """Undo :meth:`create` for a job whose message could not be published (its
        fire time is given back; a publish that failed late still never runs it);
        with ``token``, only the record the create of that token wrote."""
        return self._call("forget", job_id, repr(self.gone_hold), token, decode=_flag)

    def get(self, job_id: str) -> StateCall[JobInfo | None]:
        """The job's snapshot, or None when unknown or expired."""
        return self._call("get", job_id, decode=lambda reply: _job_info(job_id, reply))

    def count(self, queue: str, statuses: Sequence[JobStatus]) -> StateCall[int]:
        """Jobs of ``queue`` in any of ``statuses``."""
        return self._call("count", queue, repr(self.ttl), *(s.value for s in statuses), decode=int)

    def clear(self, queue: str) -> StateCall[int]:
        """Forget every waiting job of ``queue``; the reply is how many. Their
        messages are refused by :meth:`start` as a cancelled job's are."""
        return self._call("clear", queue, repr(self.gone_hold), decode=int)

    # -- workers -----------------------------------------------------------------
    def start(self, envelope: JobEnvelope) -> StateCall[StartVerdict]:
        """A worker begins an attempt of ``envelope`` (its ``attempts`` as the message
        counts them, before this one). A job found running was left by a worker
        that died: the verdict is ``lost`` (the settle step decides what follows)."""
        return self._call(
            "start",
            envelope.job_id,
            str(envelope.attempts),
            json.dumps(self._fields(envelope)),
            decode=_verdict,
        )

    def complete(self, job_id: str, result: Any, *, ack: RedisAck | None = None) -> StateCall[bool]:
        """Record success with the (JSON-native) return value; with ``ack``, also
        acknowledge the broker's message in the same atomic step."""
        encoded = _NO_RESULT if result is None else json.dumps(result)
        extra = ack.args() if ack is not None else ()
        return self._call("complete", job_id, repr(self.ttl), encoded, *extra, decode=_flag)

    def fail(self, job_id: str, last_error: str) -> StateCall[bool]:
        """Record that the job was dead-lettered (from any unfinished status)."""
        return self._call("fail", job_id, repr(self.ttl), last_error, decode=_flag)

    def retry(self, job_id: str, run_at: datetime, last_error: str) -> StateCall[bool]:
        """Record a failed attempt that runs again at ``run_at``."""
        return self._call("retry", job_id, repr(run_at.timestamp()), last_error, decode=_flag)

    def release(self, job_id: str) -> StateCall[bool]:
        """A stopping worker gives the job back: pending again, the attempt uncounted."""
        return self._call("release", job_id, decode=_flag)

    def reconcile(
        self, queues: Sequence[str], *, unacked_key: str, lease: float, batch: int, scan: int, confirm: float
    ) -> StateCall[list[str]]:
        """Push back the kept message copies of waiting jobs that no broker structure
        holds any more (the script's ``reconcile``): ids of the jobs pushed back."""
        return self._call(
            "reconcile",
            unacked_key,
            repr(lease),
            str(batch),
            str(scan),
            repr(confirm),
            *queues,
            decode=lambda reply: [_text(v) for v in reply or []],
        )

    @staticmethod
    def _fields(envelope: JobEnvelope) -> dict[str, str | None]:
        return {
            "task": envelope.task_name,
            "queue": envelope.queue,
            "attempts": str(envelope.attempts),
            "max_attempts": str(envelope.max_attempts),
            "priority": str(envelope.priority),
            "enqueued_at": _stamp(envelope.enqueued_at),
            "run_at": _stamp(envelope.run_at),
        }


def _verdict(reply: Any) -> StartVerdict:
    word, attempt, most = _text(reply[0]), int(reply[1]), int(reply[2])
    if word == "run":
        return StartVerdict(True, attempt, JobStatus.RUNNING, max_attempts=most)
    if word == "lost":
        return StartVerdict(False, attempt, JobStatus.RUNNING, lost=True, max_attempts=most)
    return StartVerdict(False, attempt, JobStatus(word), max_attempts=most)


def _job_info(job_id: str, reply: Any) -> JobInfo | None:
    if not reply:
        return None
    items = [_text(v) for v in reply]
    record = dict(zip(items[0::2], items[1::2], strict=True))
    if "task" not in record or "status" not in record:
        return None
    result = record.get("result")
    enqueued = _time(record.get("enqueued_at"))
    return JobInfo(
        job_id=job_id,
        task_name=record["task"],
        queue=record.get("queue", ""),
        status=JobStatus(record["status"]),
        attempts=int(record.get("attempts", "0")),
        max_attempts=int(record.get("max_attempts", "1")),
        enqueued_at=enqueued or datetime.fromtimestamp(0, UTC),
        run_at=_time(record.get("run_at")),
        started_at=_time(record.get("started_at")),
        finished_at=_time(record.get("finished_at")),
        last_error=record.get("last_error") or None,
        result=json.loads(result) if result else None,
        priority=int(record.get("priority", "5")),
    )


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
