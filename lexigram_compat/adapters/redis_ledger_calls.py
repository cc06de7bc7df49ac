"""The Redis job ledger's script calls: :class:`RedisLedgerCalls` turns each ledger
operation into one call of ``redis_ledger.lua`` (a :class:`StateCall`: the script's
arguments and how to decode its reply), for :mod:`lexigram_compat.adapters.redis_ledger`'s
clients (``redis.asyncio`` and ``redis``) to run, alone, pipelined or batched."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from lexigram_compat.adapters.redis_effects import RedisAck, RedisPush, RedisReserve
from lexigram_compat.envelope import JobEnvelope
from lexigram_compat.ledger import FIRE_GUARD_SECONDS, StartVerdict
from lexigram_compat.records import JobInfo, JobStatus

__all__ = ["GONE_HOLD", "RedisLedgerCalls", "StateCall"]

T = TypeVar("T")

_NO_RESULT = ""
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
    def start(self, envelope: JobEnvelope, *, reserve: RedisReserve | None = None) -> StateCall[StartVerdict]:
        """A worker begins an attempt of ``envelope`` (its ``attempts`` as the message
        counts them, before this one). A job found running was left by a worker
        that died: the verdict is ``lost`` (the settle step decides what follows).
        With ``reserve``, the broker's record of the delivery is written in the same
        atomic step, whatever the verdict."""
        extra = reserve.args() if reserve is not None else ()
        return self._call(
            "start",
            envelope.job_id,
            str(envelope.attempts),
            json.dumps(self._fields(envelope)),
            *extra,
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
