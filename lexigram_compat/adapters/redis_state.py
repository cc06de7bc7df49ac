"""Job state in Redis, for engines whose broker keeps none (Dramatiq, Celery).

A broker moves messages; ``get_job``, ``cancel``, idempotency keys and the
one-job-per-fire-time guard need a record per job. This module keeps one in
Redis: a hash per job (status, attempts, timestamps, last error, result), an
index per queue and status (for ``count``/``clear``), and ``SET NX`` keys for
idempotency keys and schedule fire times. Every change is one call of the Lua
script beside this file, so it is atomic: a cancel and a worker's start cannot
both win.

The key layout and the script live in :class:`JobStateKeys`, which only
builds :class:`StateCall` values; :class:`RedisJobState` (``redis.asyncio``,
for producers) and :class:`SyncRedisJobState` (``redis``, for worker threads)
just run them::

    state = RedisJobState(redis.asyncio.Redis.from_url(url), JobStateKeys("app:"))
    job_id, created = await state.run(state.keys.create(record, unique_key="idem:..."))

Finished jobs (completed, failed, cancelled) expire ``ttl`` seconds after they
finish (``retention.completed_seconds``), and their unique key with them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from lexigram_compat.envelope import JobEnvelope
from lexigram_compat.queue import JobInfo, JobStatus

if TYPE_CHECKING:
    import redis
    import redis.asyncio

__all__ = [
    "WAITING_STATUSES",
    "JobStateKeys",
    "RedisAck",
    "RedisJobState",
    "RedisPush",
    "StartVerdict",
    "StateCall",
    "SyncRedisJobState",
]

T = TypeVar("T")

SCRIPT = (Path(__file__).with_name("redis_state.lua")).read_text(encoding="utf-8")
WAITING_STATUSES = (JobStatus.PENDING, JobStatus.SCHEDULED, JobStatus.RETRYING)
_NO_RESULT = ""
GONE_HOLD = 7 * 86_400.0
"""Seconds past its run_at that a cancelled or cleared job's messages are refused."""
FIRE_HOLD = 7 * 86_400.0
"""Seconds a schedule fire time stays claimed, whatever the job's retention."""


def _stamp(moment: datetime | None) -> str | None:
    return None if moment is None else repr(moment.timestamp())


def _time(raw: str | None) -> datetime | None:
    return None if not raw else datetime.fromtimestamp(float(raw), UTC)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


@dataclass(frozen=True)
class StateCall(Generic[T]):
    """One script call: its arguments and how to read the reply."""

    args: tuple[Any, ...]
    decode: Callable[[Any], T]


@dataclass(frozen=True)
class RedisPush:
    """A message to publish with a new job: ``HSET hash_key hash_field payload``
    (skipped when ``hash_key`` is empty), then push ``list_value`` on ``list_key``."""

    list_key: str
    list_value: str | bytes
    hash_key: str = ""
    hash_field: str = ""
    payload: str | bytes = ""
    left: bool = False

    def args(self) -> tuple[Any, ...]:
        return (
            self.hash_key,
            self.hash_field,
            self.payload,
            self.list_key,
            self.list_value,
            "l" if self.left else "r",
        )


@dataclass(frozen=True)
class RedisAck:
    """A broker acknowledgement done with a state change: ``SREM set_key member``,
    and when it was there, ``HDEL hash_key member`` (Dramatiq's Redis ack)."""

    set_key: str
    member: str
    hash_key: str

    def args(self) -> tuple[str, str, str]:
        return (self.set_key, self.member, self.hash_key)


@dataclass(frozen=True)
class StartVerdict:
    """What a worker may do with a delivered job.

    ``run`` is True when this delivery is attempt number ``attempt``; False
    when the job is already finished (``status`` says how: a cancelled job is
    never run, a completed one not again).
    """

    run: bool
    attempt: int
    status: JobStatus


class JobStateKeys:
    """The key layout under ``prefix`` and the calls of the state script."""

    def __init__(
        self, prefix: str = "lexigram:state:", *, ttl: float = 3600.0, gone_hold: float = GONE_HOLD
    ) -> None:
        if not prefix:
            raise ValueError("the job-state key prefix must not be empty (it isolates apps sharing a Redis)")
        self.prefix = prefix
        self.ttl = ttl
        """Seconds a finished job stays visible (``retention.completed_seconds``)."""
        self.gone_hold = gone_hold
        """Seconds past its run_at that a cancelled/cleared job is never started
        (its message may still be on the broker), however short ``ttl`` is."""

    def _call(self, command: str, *args: str, decode: Callable[[Any], T]) -> StateCall[T]:
        return StateCall((command, self.prefix, repr(time.time()), *args), decode)

    def job_key(self, job_id: str) -> str:
        """The hash holding one job's record."""
        return f"{self.prefix}job:{job_id}"

    # -- producers ---------------------------------------------------------------
    def create(
        self,
        envelope: JobEnvelope,
        *,
        scheduled: bool | None = None,
        publish: RedisPush | None = None,
    ) -> StateCall[tuple[str, bool]]:
        """Record a new job (pending, or scheduled when it has a future ``run_at``).

        The reply is ``(job_id, created)``: when the envelope's ``unique_key``
        is held by a live job, or its ``job_id`` exists, that job's id and False.
        With ``publish`` (a broker queue in the same Redis), the message is
        pushed in the same atomic step, and only when the job is new.
        """
        if scheduled is None:
            scheduled = envelope.run_at is not None and envelope.run_at.timestamp() > time.time()
        status = JobStatus.SCHEDULED if scheduled else JobStatus.PENDING
        pairs = [
            item
            for name, value in self._fields(envelope).items()
            if value is not None
            for item in (name, value)
        ]
        return self._call(
            "create",
            envelope.job_id,
            envelope.queue,
            status.value,
            envelope.unique_key or "",
            str(len(pairs) // 2),
            *pairs,
            *(publish.args() if publish is not None else ()),
            decode=lambda reply: (_text(reply[0]), int(reply[1]) == 1),
        )

    def cancel(self, job_id: str) -> StateCall[bool]:
        """Cancel a job that has not started; False if unknown or too late. A message
        of it still on the broker is refused by :meth:`start`, even once the record
        expired (for ``gone_hold`` seconds past its run_at)."""
        return self._call(
            "cancel", job_id, repr(self.ttl), repr(self.gone_hold), decode=lambda reply: int(reply) == 1
        )

    def forget(self, job_id: str) -> StateCall[bool]:
        """Undo :meth:`create` for a job whose message could not be published."""
        return self._call("forget", job_id, decode=lambda reply: int(reply) == 1)

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

    def guard(self, key: str, holder: str, ttl: float) -> StateCall[bool]:
        """``SET NX`` on ``key`` for ``ttl`` seconds: True for the first caller only."""
        return self._call("guard", key, holder, repr(ttl), decode=lambda reply: int(reply) == 1)

    def fire(self, key: str, job_id: str, ttl: float = FIRE_HOLD) -> StateCall[tuple[str, bool]]:
        """Claim the schedule fire time ``key`` for ``ttl`` seconds (apart from the
        job record and its retention); the reply is ``(holder job id, claimed)``,
        claimed True for the first caller only."""
        return self._call(
            "fire", key, job_id, repr(ttl), decode=lambda reply: (_text(reply[0]), int(reply[1]) == 1)
        )

    def unfire(self, key: str, job_id: str) -> StateCall[bool]:
        """Give back a fire time whose job could not be enqueued."""
        return self._call("unfire", key, job_id, decode=lambda r: int(r) == 1)

    # -- workers -----------------------------------------------------------------
    def start(self, envelope: JobEnvelope) -> StateCall[StartVerdict]:
        """A worker begins an attempt of ``envelope`` (its ``attempts`` as the message
        counts them, before this one). A job found already running was left by a
        dead worker, so the attempt number goes up from the recorded one."""
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
        return self._call("complete", job_id, repr(self.ttl), encoded, *extra, decode=lambda r: int(r) == 1)

    def fail(self, job_id: str, last_error: str) -> StateCall[bool]:
        """Record that the job was dead-lettered."""
        return self._call("fail", job_id, repr(self.ttl), last_error, decode=lambda r: int(r) == 1)

    def retry(self, job_id: str, run_at: datetime, last_error: str) -> StateCall[bool]:
        """Record a failed attempt that runs again at ``run_at``."""
        return self._call("retry", job_id, repr(run_at.timestamp()), last_error, decode=lambda r: int(r) == 1)

    def release(self, job_id: str) -> StateCall[bool]:
        """A stopping worker gives the job back: pending again, the attempt uncounted."""
        return self._call("release", job_id, decode=lambda r: int(r) == 1)

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
    word, attempt = _text(reply[0]), int(reply[1])
    if word == "run":
        return StartVerdict(True, attempt, JobStatus.RUNNING)
    return StartVerdict(False, attempt, JobStatus(word))


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


class RedisJobState:
    """The async front end (``redis.asyncio``), for producers."""

    def __init__(self, client: redis.asyncio.Redis, keys: JobStateKeys) -> None:
        self.client = client
        self.keys = keys
        self._script = client.register_script(SCRIPT)

    async def run(self, call: StateCall[T]) -> T:
        """Run one state call; connection errors propagate (``OSError`` subclasses)."""
        return call.decode(await self._script(keys=[], args=list(call.args)))

    async def run_many(self, calls: Sequence[StateCall[T]]) -> list[T]:
        """Run several calls in one round trip (a pipeline; each call stays atomic)."""
        async with self.client.pipeline(transaction=False) as pipe:
            for call in calls:
                await self._script(keys=[], args=list(call.args), client=pipe)
            replies = await pipe.execute()
        return [call.decode(reply) for call, reply in zip(calls, replies, strict=True)]


class SyncRedisJobState:
    """The sync front end (``redis``), for worker threads."""

    def __init__(self, client: redis.Redis, keys: JobStateKeys) -> None:
        self.client = client
        self.keys = keys
        self._script = client.register_script(SCRIPT)

    def run(self, call: StateCall[T]) -> T:
        """Run one state call; connection errors propagate."""
        return call.decode(self._script(keys=[], args=list(call.args)))
