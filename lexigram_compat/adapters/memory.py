"""The embedded in-memory engine: one process, no server.

It is the default for demos and the test double for applications (like
Dramatiq's StubBroker), so it honours the same semantics as the durable
engines: jobs are stored as JSON bytes (a value that would not survive a real
broker does not survive here either), retries wait their delay, dead letters
are kept, completed jobs expire after ``retention.completed_seconds``.
What it cannot give is durability: everything lives in this process.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import heapq
import itertools
import logging
import time
from collections import Counter, OrderedDict, deque
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from lexigram_compat.engine_contract import (
    Capabilities,
    ClaimedJob,
    DeadLetterStore,
    Engine,
    FailureInfo,
    JobSource,
    WorkState,
)
from lexigram_compat.envelope import EnvelopeError, JobEnvelope, utcnow
from lexigram_compat.ledger import FIRE_GUARD_SECONDS
from lexigram_compat.records import DeadLetter, JobInfo, JobStatus

if TYPE_CHECKING:
    from lexigram_compat.config import BackendConfig, TaskConfig

__all__ = ["MemoryEngine"]

log = logging.getLogger("lexigram_compat.memory")

_WAITING = (JobStatus.PENDING, JobStatus.SCHEDULED, JobStatus.RETRYING)


@dataclass
class _Record:
    job_id: str
    queue: str
    payload: bytes
    envelope: JobEnvelope | None
    status: JobStatus
    seq: int
    token: int = 0
    started_at: datetime | None = None
    finished_at: datetime | None = None
    last_error: str | None = None
    result: Any = None


class _MemoryDeadLetters(DeadLetterStore):
    def __init__(self, engine: MemoryEngine) -> None:
        self._engine = engine
        self._items: OrderedDict[str, DeadLetter] = OrderedDict()

    def add(self, letter: DeadLetter) -> None:
        self._items.pop(letter.job_id, None)
        self._items[letter.job_id] = letter

    async def list(self, limit: int, offset: int, task_name: str | None) -> list[DeadLetter]:
        items = [v for v in reversed(self._items.values()) if task_name in (None, v.task_name)]
        return items[offset : offset + limit]

    async def get(self, job_id: str) -> DeadLetter | None:
        return self._items.get(job_id)

    async def remove(self, job_id: str) -> bool:
        return self._items.pop(job_id, None) is not None

    async def purge_all(self, older_than: datetime | None) -> int:
        keys = [k for k, v in self._items.items() if older_than is None or v.failed_at < older_than]
        for key in keys:
            del self._items[key]
        return len(keys)

    async def count(self) -> int:
        return len(self._items)

    async def trim(self, keep: int) -> builtins.list[str]:
        dropped: builtins.list[str] = []
        while len(self._items) > keep:
            dropped.append(self._items.popitem(last=False)[0])
        return dropped


class MemoryEngine(Engine, JobSource):
    """Jobs in this process's memory; run by ``app.run_worker()`` or ``lexigram-compat worker``."""

    name: ClassVar[str] = "memory"
    capabilities: ClassVar[Capabilities] = Capabilities(
        delay=True,
        priority=True,
        idempotency_keys=True,
        cancel=True,
        job_status=True,
        results=True,
        dead_letters=True,
        transactional_enqueue=False,
        crash_safe=False,
        multi_process=False,
        worker="in-process: app.run_worker() / lexigram-compat worker",
    )

    def __init__(self, config: TaskConfig, backend: BackendConfig) -> None:
        super().__init__(config, backend)
        self._records: dict[str, _Record] = {}
        self._unique: dict[str, str] = {}
        self._fires: OrderedDict[str, tuple[float, str]] = OrderedDict()
        """Fire keys claimed (expiry, job id), oldest first: kept apart from the job's
        record, which may expire at once (``retention.completed_seconds: 0``)."""
        self._ready: dict[str, list[tuple[int, int, str]]] = {}
        self._delayed: dict[str, list[tuple[float, int, str]]] = {}
        self._finished: deque[tuple[float, str]] = deque()
        self._seq = itertools.count()
        self._running: Counter[str] = Counter()
        self._wakeup: asyncio.Event | None = None
        self._dead = _MemoryDeadLetters(self)

    # -- lifecycle -------------------------------------------------------
    async def connect(self) -> None:
        self._wakeup = asyncio.Event()

    async def close(self) -> None:
        self._wake()

    def job_source(self) -> JobSource:
        return self

    @property
    def dead_letter_store(self) -> DeadLetterStore:
        return self._dead

    # -- producing -------------------------------------------------------
    async def enqueue(self, envelopes: Sequence[JobEnvelope], *, connection: Any = None) -> list[str]:
        ids = []
        for envelope in envelopes:
            ids.append(self._store(envelope, envelope.to_bytes()))
        self._wake()
        return ids

    def push_raw(self, queue: str, payload: bytes, job_id: str | None = None) -> str:
        """Put bytes on a queue as a broker would receive them (tests of bad input)."""
        job_id = job_id or f"raw-{next(self._seq)}"
        record = _Record(job_id, queue, payload, None, JobStatus.PENDING, next(self._seq))
        self._records[job_id] = record
        heapq.heappush(self._ready.setdefault(queue, []), (0, record.seq, job_id))
        self._wake()
        return job_id

    def _store(self, envelope: JobEnvelope, payload: bytes) -> str:
        self._expire_finished()
        if envelope.job_id in self._records:
            return envelope.job_id
        key = envelope.unique_key
        if key is not None and key in self._unique:
            return self._unique[key]
        if envelope.fire_key is not None:
            holder = self._fire_holder(envelope.fire_key)
            if holder is not None:
                return holder
            self._fires[envelope.fire_key] = (time.monotonic() + FIRE_GUARD_SECONDS, envelope.job_id)
        now = utcnow()
        delayed = envelope.run_at is not None and envelope.run_at > now
        record = _Record(
            job_id=envelope.job_id,
            queue=envelope.queue,
            payload=payload,
            envelope=envelope,
            status=JobStatus.SCHEDULED if delayed else JobStatus.PENDING,
            seq=next(self._seq),
        )
        self._records[envelope.job_id] = record
        if key is not None:
            self._unique[key] = envelope.job_id
        self._schedule(record, envelope.run_at if delayed else None)
        return envelope.job_id

    def _fire_holder(self, key: str) -> str | None:
        now = time.monotonic()
        while self._fires and next(iter(self._fires.values()))[0] <= now:
            self._fires.popitem(last=False)
        held = self._fires.get(key)
        return held[1] if held is not None else None

    def _schedule(self, record: _Record, run_at: datetime | None) -> None:
        priority = record.envelope.priority if record.envelope else 0
        if run_at is None:
            heapq.heappush(self._ready.setdefault(record.queue, []), (-priority, record.seq, record.job_id))
        else:
            heapq.heappush(
                self._delayed.setdefault(record.queue, []), (run_at.timestamp(), record.seq, record.job_id)
            )

    def _wake(self) -> None:
        if self._wakeup is not None:
            self._wakeup.set()

    def _promote_due(self, queue: str) -> None:
        delayed = self._delayed.get(queue)
        if not delayed:
            return
        now = utcnow().timestamp()
        while delayed and delayed[0][0] <= now:
            _, _, job_id = heapq.heappop(delayed)
            record = self._records.get(job_id)
            if record is None or record.status not in (JobStatus.SCHEDULED, JobStatus.RETRYING):
                continue
            record.status = JobStatus.PENDING
            priority = record.envelope.priority if record.envelope else 0
            heapq.heappush(self._ready.setdefault(queue, []), (-priority, record.seq, job_id))

    def _expire_finished(self) -> None:
        keep = self.config.retention.completed_seconds
        cutoff = utcnow().timestamp() - keep
        while self._finished and self._finished[0][0] <= cutoff:
            _, job_id = self._finished.popleft()
            record = self._records.get(job_id)
            if record is not None and record.status in (
                JobStatus.COMPLETED,
                JobStatus.CANCELLED,
                JobStatus.FAILED,
            ):
                self._forget(record)

    def _forget(self, record: _Record) -> None:
        del self._records[record.job_id]
        self._release_key(record)

    def _release_key(self, record: _Record) -> None:
        key = record.envelope.unique_key if record.envelope else None
        if key is not None and self._unique.get(key) == record.job_id:
            del self._unique[key]

    def _finish(self, record: _Record, status: JobStatus) -> None:
        record.status = status
        record.finished_at = utcnow()
        self._finished.append((record.finished_at.timestamp(), record.job_id))
        self._expire_finished()

    # -- inspection ------------------------------------------------------
    async def get_job(self, job_id: str) -> JobInfo | None:
        self._expire_finished()
        record = self._records.get(job_id)
        if record is None or record.envelope is None:
            return None
        env = record.envelope
        return JobInfo(
            job_id=record.job_id,
            task_name=env.task_name,
            queue=record.queue,
            status=record.status,
            attempts=env.attempts,
            max_attempts=env.max_attempts,
            enqueued_at=env.enqueued_at,
            run_at=env.run_at,
            started_at=record.started_at,
            finished_at=record.finished_at,
            last_error=record.last_error,
            result=record.result,
            priority=env.priority,
        )

    async def cancel(self, job_id: str) -> bool:
        record = self._records.get(job_id)
        if record is None or record.status not in _WAITING:
            return False
        self._finish(record, JobStatus.CANCELLED)
        # A cancelled job never happened: its idempotency key is free again.
        self._release_key(record)
        return True

    async def count(self, queue: str, status: JobStatus | None) -> int:
        self._expire_finished()
        self._promote_due(queue)
        wanted = _WAITING if status is None else (status,)
        return sum(1 for r in self._records.values() if r.queue == queue and r.status in wanted)

    async def clear(self, queue: str) -> int:
        removed = [r for r in self._records.values() if r.queue == queue and r.status in _WAITING]
        for record in removed:
            self._forget(record)
        self._ready.pop(queue, None)
        self._delayed.pop(queue, None)
        return len(removed)

    # -- consuming -------------------------------------------------------
    async def claim(self, queues: Sequence[str], limit: int) -> list[ClaimedJob]:
        claimed: list[ClaimedJob] = []
        for queue in queues:
            self._promote_due(queue)
        # Highest priority first across the given queues, then oldest.
        while len(claimed) < limit:
            best: tuple[tuple[int, int, str], str] | None = None
            for queue in queues:
                heap = self._ready.get(queue)
                while heap:
                    job_id = heap[0][2]
                    record = self._records.get(job_id)
                    if record is not None and record.status is JobStatus.PENDING:
                        break
                    heapq.heappop(heap)  # cancelled, cleared or expired
                if heap and (best is None or heap[0] < best[0]):
                    best = (heap[0], queue)
            if best is None:
                break
            _, _, job_id = heapq.heappop(self._ready[best[1]])
            claimed.append(self._start(self._records[job_id]))
        return claimed

    def _start(self, record: _Record) -> ClaimedJob:
        record.token += 1
        record.status = JobStatus.RUNNING
        record.started_at = utcnow()
        self._running[record.queue] += 1
        try:
            envelope = JobEnvelope.from_bytes(record.payload).next_attempt()
        except EnvelopeError as exc:
            return ClaimedJob(record.job_id, None, record.token, record.payload, str(exc), record.queue)
        record.envelope = envelope
        return ClaimedJob(record.job_id, envelope, record.token, None, None, record.queue)

    def _owned(self, job: ClaimedJob) -> _Record | None:
        record = self._records.get(job.job_id)
        if record is None or record.token != job.token or record.status is not JobStatus.RUNNING:
            return None
        self._running[record.queue] -= 1
        return record

    async def wait_for_work(self, queues: Sequence[str], timeout: float) -> None:
        if self._wakeup is None:
            self._wakeup = asyncio.Event()
        soonest = [h[0][0] for q in queues if (h := self._delayed.get(q))]
        if soonest:
            timeout = max(0.0, min(timeout, min(soonest) - utcnow().timestamp()))
        self._wakeup.clear()
        # A job enqueued since the caller's last claim set the event before it
        # was cleared here: look, or that wake-up is lost until the timeout.
        for queue in queues:
            self._promote_due(queue)
        if any(self._ready.get(queue) for queue in queues):
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wakeup.wait(), timeout)

    async def complete(self, job: ClaimedJob, result: Any) -> bool:
        record = self._owned(job)
        if record is None:
            return False
        record.result = result
        record.last_error = None
        self._finish(record, JobStatus.COMPLETED)
        # _finish has usually forgotten it already (its expiry pass runs after it).
        if self.config.retention.completed_seconds == 0 and self._records.get(record.job_id) is record:
            self._forget(record)
        return True

    async def retry(self, job: ClaimedJob, run_at: datetime, failure: FailureInfo) -> bool:
        record = self._owned(job)
        if record is None or record.envelope is None:
            return False
        record.status = JobStatus.RETRYING
        record.last_error = failure.summary()
        record.envelope = replace(record.envelope, run_at=run_at)
        record.payload = record.envelope.to_bytes()
        self._schedule(record, run_at)
        self._wake()
        return True

    async def dead_letter(self, job: ClaimedJob, letter: DeadLetter, failure: FailureInfo) -> bool:
        record = self._owned(job)
        if record is None:
            return False
        record.last_error = failure.summary()
        self._dead.add(letter)
        self._finish(record, JobStatus.FAILED)
        return True

    async def release(self, job: ClaimedJob) -> bool:
        record = self._owned(job)
        if record is None:
            return False
        if record.envelope is not None:
            record.envelope = replace(record.envelope, attempts=record.envelope.attempts - 1)
            record.payload = record.envelope.to_bytes()
        record.status = JobStatus.PENDING
        self._schedule(record, None)
        self._wake()
        return True

    async def work_state(self, queues: Sequence[str]) -> WorkState:
        for queue in queues:
            self._promote_due(queue)
        names = set(queues)
        ready = retrying = 0
        next_retry: datetime | None = None
        for record in self._records.values():
            if record.queue not in names:
                continue
            if record.status is JobStatus.PENDING:
                ready += 1
            elif record.status is JobStatus.RETRYING:
                retrying += 1
                run_at = record.envelope.run_at if record.envelope else None
                if run_at is not None and (next_retry is None or run_at < next_retry):
                    next_retry = run_at
        running = sum(self._running[q] for q in names)
        return WorkState(ready=ready, running=running, retrying=retrying, next_retry_at=next_retry)
