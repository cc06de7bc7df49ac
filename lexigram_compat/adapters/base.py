"""The engine contract: what an adapter must translate, and what it can do.

Policy (retry delays, serialization, DI, validation, job ids, schedule times)
lives above this line, once. An engine stores and moves envelopes and reports
what it can honour through :class:`Capabilities`; anything it cannot honour
is refused before a job is written, never silently ignored.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from lexigram_compat.envelope import JobEnvelope
from lexigram_compat.queue import DeadLetter, JobInfo, JobStatus

if TYPE_CHECKING:
    from lexigram_compat.app import TasksApp
    from lexigram_compat.config import BackendConfig, TaskConfig

__all__ = [
    "Capabilities",
    "ClaimedJob",
    "DeadLetterStore",
    "Engine",
    "FailureInfo",
    "JobSource",
    "WorkState",
]


@dataclass(frozen=True)
class Capabilities:
    """What an engine honours. The README's capability table is generated from
    these, and the conformance suite checks each against behaviour."""

    delay: bool
    """``delay=`` / ``eta=`` postpone a job."""
    priority: bool
    """Higher priority runs first among ready jobs of one queue."""
    idempotency_keys: bool
    """A second enqueue with the same key returns the first job's id."""
    cancel: bool
    """A job not yet started can be cancelled and never runs."""
    job_status: bool
    """``get_job`` reports status, attempts, timestamps and last error."""
    results: bool
    """``get_job`` carries the return value of a completed job."""
    dead_letters: bool
    """Dead letters are kept and can be listed, replayed and purged."""
    transactional_enqueue: bool
    """``enqueue(connection=...)`` commits with the caller's transaction."""
    crash_safe: bool
    """A worker killed mid-job loses nothing: the job runs again elsewhere."""
    multi_process: bool
    """Producers and workers may be separate processes."""
    worker: str
    """The command operators run to execute jobs."""

    def as_rows(self) -> list[tuple[str, str]]:
        """(capability, value) pairs in declaration order, for tables."""
        rows = []
        for f in fields(self):
            value = getattr(self, f.name)
            rows.append((f.name, ("yes" if value else "no") if isinstance(value, bool) else value))
        return rows


@dataclass(frozen=True)
class FailureInfo:
    """Why an attempt failed, as stored with a retry or a dead letter."""

    error_type: str
    message: str
    traceback: str | None = None

    def summary(self) -> str:
        """``Type: message`` on one line."""
        return f"{self.error_type}: {self.message}"


@dataclass(frozen=True)
class ClaimedJob:
    """A job handed to a worker for one attempt.

    ``envelope`` has ``attempts`` already counting this attempt. When the bytes
    could not be decoded, ``envelope`` is None and ``raw``/``problem`` say why.
    """

    job_id: str
    envelope: JobEnvelope | None
    token: Any = None
    raw: bytes | None = None
    problem: str | None = None
    queue: str = ""


@dataclass(frozen=True)
class WorkState:
    """What is left for a worker, so ``run_worker(until_idle=True)`` knows when to stop."""

    ready: int
    """Jobs that could be claimed now."""
    running: int
    """Jobs claimed and not finished."""
    retrying: int
    """Jobs waiting on a retry delay (waited for by ``until_idle``)."""
    next_retry_at: datetime | None = None

    @property
    def idle(self) -> bool:
        """True when nothing is ready, running or waiting on a retry."""
        return self.ready == 0 and self.running == 0 and self.retrying == 0


class DeadLetterStore(abc.ABC):
    """An engine's native dead-letter storage."""

    @abc.abstractmethod
    async def list(self, limit: int, offset: int, task_name: str | None) -> list[DeadLetter]:
        """Newest first."""

    @abc.abstractmethod
    async def get(self, job_id: str) -> DeadLetter | None:
        """One dead letter by job id."""

    @abc.abstractmethod
    async def remove(self, job_id: str) -> bool:
        """Delete one; False if it was not there."""

    @abc.abstractmethod
    async def purge_all(self, older_than: datetime | None) -> int:
        """Delete all (or those that failed before ``older_than``); return how many."""

    @abc.abstractmethod
    async def count(self) -> int:
        """How many dead letters there are."""


class Engine(abc.ABC):
    """An engine adapter: the producer and inspection side of one backend."""

    name: ClassVar[str]
    capabilities: ClassVar[Capabilities]

    def __init__(self, config: TaskConfig, backend: BackendConfig) -> None:
        self.config = config
        self.backend = backend

    @property
    def default_queue(self) -> str:
        """The physical queue used when none is named."""
        return self.backend.queue_name

    @abc.abstractmethod
    async def connect(self) -> None:
        """Open connections. Must not raise for an unreachable broker: log and retry later."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Release every resource; idempotent."""

    @abc.abstractmethod
    async def enqueue(self, envelopes: Sequence[JobEnvelope], *, connection: Any = None) -> list[str]:
        """Store jobs (one round trip where the broker allows).

        Returns the job id per envelope, in order: for an envelope whose
        ``unique_key`` (or ``job_id``) is already taken, the existing job's id,
        and no new job is created.

        Raises:
            BrokerUnavailableError: The broker could not be reached or timed out.
        """

    @abc.abstractmethod
    async def get_job(self, job_id: str) -> JobInfo | None:
        """A snapshot of the job, or None when unknown (or expired)."""

    @abc.abstractmethod
    async def cancel(self, job_id: str) -> bool:
        """Cancel a job that has not started; False when it is unknown or already started."""

    @abc.abstractmethod
    async def count(self, queue: str, status: JobStatus | None) -> int:
        """Jobs in ``queue``; with ``status=None``, those waiting to run (pending/scheduled/retrying)."""

    @abc.abstractmethod
    async def clear(self, queue: str) -> int:
        """Remove waiting jobs from ``queue``; return how many."""

    @property
    @abc.abstractmethod
    def dead_letter_store(self) -> DeadLetterStore:
        """Where this engine keeps dead letters."""

    def attach(self, app: TasksApp) -> None:  # noqa: B027 - optional hook
        """Called once, at the end of ``TasksApp.__init__``, with the app this engine
        serves: engines whose own worker runs jobs (Dramatiq, Celery) keep it to
        declare the app's tasks natively and to reach ``app.execution_context()``."""

    def native_worker_argv(
        self,
        app_spec: str,
        *,
        queues: Sequence[str] | None,
        processes: int | None,
        concurrency: int | None,
    ) -> list[str] | None:
        """The command line of the engine's own worker (``dramatiq ...``, ``celery ...``)
        for the app named by ``app_spec`` (the CLI's ``APP``, ``module:attribute``), or
        None when ``lexigram-compat worker`` runs the jobs itself (memory, postgres).

        ``queues``, ``processes`` and ``concurrency`` are the CLI's options (None:
        not given, so ``worker.*`` settings apply); ``lexigram-compat worker`` execs
        the returned command, so it must be complete (program first)."""
        return None

    def job_source(self) -> JobSource | None:
        """The consumer side for ``lexigram-compat worker``; None when the engine's
        own worker (``celery worker``, ``dramatiq``) runs the jobs."""
        return None

    def describe(self) -> str:
        """A one-line, secret-free description for logs."""
        return f"{self.name} engine"


class JobSource(abc.ABC):
    """The consumer side the native worker drives (memory and PostgreSQL engines)."""

    prefetch: int = 0
    """Jobs a worker may claim beyond its free slots, to start as slots free up
    (one round trip per batch on a networked source); returned with ``release``
    at shutdown, never started then."""

    @abc.abstractmethod
    async def claim(self, queues: Sequence[str], limit: int) -> list[ClaimedJob]:
        """Claim up to ``limit`` ready jobs (priority, then run-at, then age)."""

    async def claim_ahead(self, queues: Sequence[str], run: int, ahead: int) -> list[ClaimedJob]:
        """Claim up to ``run`` jobs to start now plus up to ``ahead`` more to start
        later (prefetch). An engine that counts attempts at claim time overrides
        this and ``start`` so a prefetched job counts its attempt only when it starts."""
        return await self.claim(queues, run + ahead)

    async def start(self, jobs: Sequence[ClaimedJob]) -> list[ClaimedJob]:
        """Prefetched jobs a free slot takes now; returns those still this worker's
        (a cancelled or rescued job is left out), with their attempt counted."""
        return list(jobs)

    @abc.abstractmethod
    async def wait_for_work(self, queues: Sequence[str], timeout: float) -> None:
        """Return when a job may be ready in ``queues`` or after ``timeout`` seconds."""

    @abc.abstractmethod
    async def complete(self, job: ClaimedJob, result: Any) -> bool:
        """Record success; False when the claim was stale (another attempt owns the job)."""

    @abc.abstractmethod
    async def retry(self, job: ClaimedJob, run_at: datetime, failure: FailureInfo) -> bool:
        """Put the job back for another attempt at ``run_at``; False when stale."""

    @abc.abstractmethod
    async def dead_letter(self, job: ClaimedJob, failure: FailureInfo) -> bool:
        """Move the job to the dead-letter store; False when stale."""

    @abc.abstractmethod
    async def release(self, job: ClaimedJob) -> bool:
        """Return an unfinished job to its queue without counting the attempt (shutdown)."""

    @abc.abstractmethod
    async def work_state(self, queues: Sequence[str]) -> WorkState:
        """Counts of ready, running and retrying jobs in ``queues``."""

    async def heartbeat(self, jobs: Sequence[ClaimedJob]) -> None:  # noqa: B027 - optional hook
        """Extend the lease of running jobs (engines with leases override this)."""
