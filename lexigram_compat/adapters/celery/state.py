"""Job state for the Celery engine, kept in Redis beside the broker.

Celery's own result backend stores a result per task id, but not what the
neutral API reports (pending vs scheduled vs retrying, attempts, counts per
queue and status), and has no atomic "create unless this key is taken" or
"cancel unless started". So the engine keeps one hash per job and a sorted
set per ``(queue, status)``; every status change is one Lua script
(``lua/transition.lua``), so a cancel and a worker's start never both win.

Scores: ``scheduled``/``retrying`` entries are scored by their run-at time
(a scheduled job whose time has come counts as pending); every other status
by the time of the change, so finished jobs older than
``retention.completed_seconds`` are not counted after their records expire.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import NoScriptError

from lexigram_compat.envelope import JobEnvelope
from lexigram_compat.queue import JobInfo, JobStatus
from lexigram_compat.serialization import dumps, loads

__all__ = ["CLEARED", "WAITING", "JobStateStore", "Started"]

CLEARED = "cleared"
"""Internal status of a job removed by ``clear()``: invisible, and never run."""
WAITING = (JobStatus.PENDING.value, JobStatus.SCHEDULED.value, JobStatus.RETRYING.value)
_FINISHED = (JobStatus.COMPLETED.value, JobStatus.FAILED.value, JobStatus.CANCELLED.value)
_STARTABLE = ",".join(["none", *WAITING, JobStatus.RUNNING.value])
"""A worker may start a job without a record (sent by plain Celery code), waiting, or
running (redelivered after its worker died); never a cancelled, cleared or finished one."""


TOMBSTONE_MARGIN = 600.0
"""Seconds beyond the broker's redelivery time a cancelled job's tombstone is kept."""


def _script(name: str) -> str:
    return resources.files(__package__).joinpath("lua", f"{name}.lua").read_text()


def _iso(moment: datetime | None) -> str:
    return moment.isoformat() if moment is not None else ""


def _time(value: str | None) -> datetime | None:
    if not value:
        return None
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Started:
    """What the store says when a worker is about to run an attempt."""

    run: bool
    """False when the job was cancelled, cleared or already finished: ack, do not run."""
    attempts: int
    max_attempts: int
    previous: str


class JobStateStore:
    """Job records and status indexes under one key prefix."""

    def __init__(
        self, redis: Redis, prefix: str, completed_seconds: float, redelivery_seconds: float = 3600.0
    ) -> None:
        self.redis = redis
        self.prefix = prefix
        self.completed_seconds = completed_seconds
        self.tombstone_seconds = max(1, round(max(completed_seconds, redelivery_seconds) + TOMBSTONE_MARGIN))
        """How long past its run-at time a cancelled or cleared job is remembered, so a
        message still on the broker (delayed, or redelivered after the broker's
        visibility timeout) never starts it once its record is gone."""
        self._create_source = _script("create")
        self._create_sha: str | None = None
        self._transition = redis.register_script(_script("transition"))

    # -- keys ------------------------------------------------------------------
    def job_key(self, job_id: str) -> str:
        return f"{self.prefix}job:{job_id}"

    def index_key(self, queue: str, status: str) -> str:
        return f"{self.prefix}q:{queue}:{status}"

    def unique_key(self, key: str) -> str:
        return f"{self.prefix}uniq:{key}"

    def _keep(self) -> str:
        return str(max(0, round(self.completed_seconds)))

    # -- producing ---------------------------------------------------------------
    async def create(
        self, envelopes: Sequence[JobEnvelope], messages: Sequence[tuple[str, bytes]] | None = None
    ) -> list[tuple[bool, str]]:
        """Create a record per envelope (one round trip): ``(created, job id)`` each,
        with the holder's id when the job id or unique key is already taken.

        ``messages`` (the broker's list key and message per envelope) are pushed
        by the same script, only for the records it creates."""
        calls = self._create_calls(envelopes, messages)
        try:
            replies = await self._run_creates(calls)
        except NoScriptError:  # the server lost its script cache (restart, SCRIPT FLUSH)
            self._create_sha = None
            replies = await self._run_creates(calls)
        return [(bool(int(flag)), _text(job_id)) for flag, job_id in replies]

    async def _run_creates(self, calls: list[list[Any]]) -> list[Any]:
        # EVALSHA directly: a pipeline of registered scripts would ask SCRIPT EXISTS
        # on every call, one more round trip per enqueue.
        if self._create_sha is None:
            self._create_sha = str(await self.redis.script_load(self._create_source))
        if len(calls) == 1:
            return [await self.redis.evalsha(self._create_sha, 4, *calls[0])]
        pipe = self.redis.pipeline(transaction=False)
        for call in calls:
            pipe.evalsha(self._create_sha, 4, *call)
        return list(await pipe.execute())

    def _create_calls(
        self, envelopes: Sequence[JobEnvelope], messages: Sequence[tuple[str, bytes]] | None
    ) -> list[list[Any]]:
        now = time.time()
        calls: list[list[Any]] = []
        for index, env in enumerate(envelopes):
            list_key, message = messages[index] if messages is not None else ("", b"")
            ukey = self.unique_key(env.unique_key) if env.unique_key else ""
            delayed = env.run_at is not None and env.run_at.timestamp() > now
            status = JobStatus.SCHEDULED.value if delayed else JobStatus.PENDING.value
            score = env.run_at.timestamp() if delayed and env.run_at else now
            fields: list[Any] = [
                "task", env.task_name, "queue", env.queue, "status", status,
                "attempts", env.attempts, "max_attempts", env.max_attempts,
                "priority", env.priority, "enqueued_at", _iso(env.enqueued_at),
                "run_at", _iso(env.run_at), "unique_key", env.unique_key or "",
                "timeout", "" if env.timeout is None else env.timeout,
            ]  # fmt: skip
            keys = [self.job_key(env.job_id), ukey, self.index_key(env.queue, status), list_key]
            calls.append([*keys, env.job_id, score, message, *fields])
        return calls

    async def forget(self, envelope: JobEnvelope) -> None:
        """Undo :meth:`create` for a job whose message could not be published (a
        tombstone too: a publish that timed out may still land, and must not run)."""
        await self._move(
            envelope.job_id, CLEARED, allowed="pending,scheduled", keep="0", release=True, tombstone=True
        )

    # -- transitions -------------------------------------------------------------
    async def _move(
        self,
        job_id: str,
        status: str,
        *,
        allowed: str,
        score: float | None = None,
        keep: str = "",
        attempts: int = 0,
        release: bool = False,
        tombstone: bool = False,
        fields: Sequence[Any] = (),
        creating: Sequence[Any] = (),
    ) -> list[Any]:
        reply: list[Any] = await self._transition(
            keys=[self.job_key(job_id)],
            args=[
                self.prefix, job_id, status, time.time() if score is None else score,
                allowed, keep, attempts, "1" if release else "0",
                self.tombstone_seconds if tombstone else 0,
                len(creating) // 2, *creating, *fields,
            ],
        )  # fmt: skip
        return [_text(reply[0]), int(reply[1]), int(reply[2]), int(reply[3])]

    async def start(
        self, job_id: str, task_name: str, queue: str, max_attempts: int, priority: int
    ) -> Started:
        """Mark an attempt as running (creating the record for a job published by
        plain Celery code); refuse when the job was cancelled, cleared or finished."""
        now = _iso(datetime.now(UTC))
        creating = [
            "task", task_name, "queue", queue, "max_attempts", max_attempts,
            "priority", priority, "enqueued_at", now, "attempts", 0,
        ]  # fmt: skip
        previous, attempts, max_seen, moved = await self._move(
            job_id,
            JobStatus.RUNNING.value,
            allowed=_STARTABLE,
            attempts=1,
            fields=["started_at", now],
            creating=creating,
        )
        return Started(bool(moved), attempts, max_seen or max_attempts, previous)

    async def complete(self, job_id: str, result: Any) -> None:
        fields = ["finished_at", _iso(datetime.now(UTC)), "last_error", "", "result", dumps(result)]
        await self._move(
            job_id, JobStatus.COMPLETED.value, allowed="running", keep=self._keep(), fields=fields
        )

    async def retrying(self, job_id: str, run_at: datetime, error: str) -> None:
        fields = ["run_at", _iso(run_at), "last_error", error]
        await self._move(
            job_id, JobStatus.RETRYING.value, allowed="running", score=run_at.timestamp(), fields=fields
        )

    async def failed(self, job_id: str, error: str) -> None:
        fields = ["finished_at", _iso(datetime.now(UTC)), "last_error", error]
        await self._move(job_id, JobStatus.FAILED.value, allowed="*", keep=self._keep(), fields=fields)

    async def release(self, job_id: str) -> bool:
        """Put a running job back to pending, its attempt not counted (worker shutdown)."""
        *_, moved = await self._move(job_id, JobStatus.PENDING.value, allowed="running", attempts=-1)
        return bool(moved)

    async def cancel(self, job_id: str) -> bool:
        *_, moved = await self._move(
            job_id,
            JobStatus.CANCELLED.value,
            allowed=",".join(WAITING),
            keep=self._keep(),
            release=True,
            tombstone=True,
            fields=["finished_at", _iso(datetime.now(UTC))],
        )
        return bool(moved)

    async def clear(self, queue: str) -> int:
        """Mark every waiting job of ``queue`` cleared (invisible, never run)."""
        ids: list[str] = []
        for status in WAITING:
            ids.extend(_text(m) for m in await self.redis.zrange(self.index_key(queue, status), 0, -1))
        cleared = 0
        for job_id in ids:
            *_, moved = await self._move(
                job_id, CLEARED, allowed=",".join(WAITING), keep=self._keep(), release=True, tombstone=True
            )
            cleared += moved
        return cleared

    # -- reading -----------------------------------------------------------------
    async def get(self, job_id: str) -> JobInfo | None:
        raw = await self.redis.hgetall(self.job_key(job_id))
        if not raw:
            return None
        rec = {_text(k): _text(v) for k, v in raw.items()}
        status = rec.get("status", "")
        if status == CLEARED or "task" not in rec:
            return None
        run_at = _time(rec.get("run_at"))
        if status == JobStatus.SCHEDULED.value and run_at is not None and run_at <= datetime.now(UTC):
            status = JobStatus.PENDING.value
        result = rec.get("result")
        return JobInfo(
            job_id=job_id,
            task_name=rec["task"],
            queue=rec.get("queue", ""),
            status=JobStatus(status),
            attempts=int(rec.get("attempts") or 0),
            max_attempts=int(rec.get("max_attempts") or 1),
            enqueued_at=_time(rec.get("enqueued_at")) or datetime.now(UTC),
            run_at=run_at,
            started_at=_time(rec.get("started_at")),
            finished_at=_time(rec.get("finished_at")),
            last_error=rec.get("last_error") or None,
            result=loads(result) if result else None,
            priority=int(rec.get("priority") or 5),
        )

    async def count(self, queue: str, status: JobStatus | None) -> int:
        now = time.time()
        if status is None:
            pipe = self.redis.pipeline(transaction=False)
            for waiting in WAITING:
                pipe.zcard(self.index_key(queue, waiting))
            return int(sum(await pipe.execute()))
        if status is JobStatus.PENDING:
            pipe = self.redis.pipeline(transaction=False)
            pipe.zcard(self.index_key(queue, JobStatus.PENDING.value))
            pipe.zcount(self.index_key(queue, JobStatus.SCHEDULED.value), "-inf", now)
            return int(sum(await pipe.execute()))
        if status is JobStatus.SCHEDULED:
            return int(await self.redis.zcount(self.index_key(queue, status.value), f"({now}", "+inf"))
        if status.value in _FINISHED:
            key = self.index_key(queue, status.value)
            cutoff = now - self.completed_seconds
            await self.redis.zremrangebyscore(key, "-inf", f"({cutoff}")
            return int(await self.redis.zcard(key))
        return int(await self.redis.zcard(self.index_key(queue, status.value)))


def _text(value: Any) -> Any:
    return value.decode() if isinstance(value, bytes) else value
