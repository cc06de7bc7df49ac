"""The engine contract: what an adapter must translate, and what it can do.

This module sits below the core and the adapters alike: it imports only leaf
modules (envelope, queue, outcomes, ledger), so no import circle runs through
it, and the core never imports ``lexigram_compat.adapters``.

Policy (retry delays, serialization, DI, validation, job ids, schedule times)
lives above this line, once. An engine stores and moves envelopes and reports
what it can honour through :class:`Capabilities`; anything it cannot honour
is refused before a job is written, never silently ignored.
"""

from __future__ import annotations

import abc
import asyncio
import builtins
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from lexigram_compat.envelope import JobEnvelope
from lexigram_compat.ledger import JobRecords
from lexigram_compat.outcomes import FailureInfo
from lexigram_compat.records import DeadLetter

if TYPE_CHECKING:
    from lexigram_compat.config import BackendConfig, TaskConfig
    from lexigram_compat.observability import JobEvents
    from lexigram_compat.registry import TaskRegistry
    from lexigram_compat.result import Result
    from lexigram_compat.retry import RetryPolicy
    from lexigram_compat.scheduling import Schedule
    from lexigram_compat.worker.settle import Settler

__all__ = [
    "APP_SPEC_ENV",
    "NATIVE_ENTRY",
    "Capabilities",
    "ClaimedJob",
    "DeadLetterStore",
    "Engine",
    "EngineContext",
    "FailureInfo",
    "JobSource",
    "OperatorHooks",
    "WorkState",
    "WorkerHost",
]


APP_SPEC_ENV = "LEXIGRAM_APP"
"""The environment variable through which ``lexigram-compat worker`` tells an engine's own
worker program which app to load (``module:attribute``, as given on its command line)."""
NATIVE_ENTRY = "lexigram_compat.native_entry"
"""The module an engine's own worker program imports when ``APP`` is not a ``TasksApp`` at
module level (:mod:`lexigram_compat.native_entry`); its ``celery_app`` is the Celery app."""


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

    @abc.abstractmethod
    async def trim(self, keep: int) -> builtins.list[str]:
        """Delete all but the newest ``keep``; return the ids deleted (retention:
        :func:`lexigram_compat.dead_letters.enforce_retention` decides when, and logs)."""


class WorkerHost(Protocol):
    """The app as an engine's own worker process (``dramatiq``, ``celery worker``) sees it."""

    @property
    def is_started(self) -> bool:
        """True between :meth:`start` and :meth:`close`."""

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        """The event loop the app was started on."""

    async def start(self) -> None:
        """Connect every engine, bind tasks, run startup hooks (idempotent)."""

    async def close(self) -> None:
        """Stop and close everything (idempotent)."""

    def reset_after_fork(self) -> None:
        """In a forked child: forget the parent's started state (its loop, executor),
        so the child starts its own app instead of using the parent's."""

    def settler(self) -> Settler:
        """The settle step for attempts of this app's jobs (needs a started app)."""

    async def worker_started(self) -> None:
        """This worker process is ready to run jobs (after :meth:`start`): the app's hooks."""

    async def worker_stopped(self) -> None:
        """This worker process stops running jobs (before :meth:`close`): the app's hooks."""

    async def enqueue_fire_time(self, schedule: Schedule, fire: datetime) -> Result[str, Any]:
        """Enqueue one schedule fire time (one job per fire time, however many call)."""

    async def run_scheduler(self, stop: asyncio.Event) -> None:
        """Fire the app's schedules until ``stop`` is set."""


class OperatorHooks(Protocol):
    """What an engine's own worker process calls for operators (presence records,
    ``/metrics``, JSON logs): the engine says when, the core does it."""

    def use_json_logs_if_wanted(self) -> None:
        """Switch this process's log lines to JSON when the config says so."""

    def process_booted(self, family: str) -> None:
        """A worker process started (``family`` names the processes sharing one metrics directory)."""

    def worker_ready(
        self,
        queues: Sequence[str] | None,
        load: Callable[[], tuple[int, int, int]],
        *,
        serve_metrics: bool = True,
    ) -> None:
        """The worker consumes ``queues``; ``load()`` is ``(busy, slots, processed)``."""

    def serve_metrics(self, slots: int) -> None:
        """Serve ``/metrics`` from this process (a prefork child)."""

    def worker_stopping(self) -> None:
        """The worker is shutting down."""


@dataclass(frozen=True)
class EngineContext:
    """What an engine gets from the app it serves (``Engine.attach``): never the app."""

    config: TaskConfig
    registry: TaskRegistry
    default_policy: RetryPolicy
    events: JobEvents
    primary: bool
    """True when this engine serves the app's primary backend."""
    host: WorkerHost
    operations: OperatorHooks
    """Presence, metrics and JSON logs of the engine's own worker processes."""
    router: Callable[[], tuple[Mapping[str, str], Sequence[str]]]
    """Computes :meth:`routes` and :meth:`queues` from the registry as it is now
    (tasks may be declared after the app was built)."""

    def routes(self) -> Mapping[str, str]:
        """Task name → physical queue, for the tasks this engine runs."""
        return self.router()[0]

    def queues(self) -> Sequence[str]:
        """Every physical queue of this engine, its default queue first."""
        return self.router()[1]


class Engine(JobRecords):
    """An engine adapter: the producer and inspection side of one backend (its
    job records through :class:`~lexigram_compat.ledger.JobRecords`)."""

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

    @property
    @abc.abstractmethod
    def dead_letter_store(self) -> DeadLetterStore:
        """Where this engine keeps dead letters."""

    async def check_access(self) -> None:
        """Log in to every server this engine uses, once (the CLI calls it before a
        command, so refused credentials fail the command the same way on every
        engine, even one whose command reads only some of its servers).

        The default does nothing: an engine whose every command reaches every
        server it has already fails there.

        Raises:
            BrokerUnavailableError: Or the driver's own error (the CLI maps it), when
                a server cannot be reached or refuses the login.
        """

    def attach(self, context: EngineContext) -> None:
        """Called once, at the end of ``TasksApp.__init__``, with what the app gives its
        engines: engines whose own worker runs jobs (Dramatiq, Celery) keep it to
        declare the app's tasks natively and to settle attempts in their worker."""

    def native_worker_argv(
        self,
        app_spec: str,
        *,
        queues: Sequence[str] | None,
        processes: int | None,
        concurrency: int | None,
        log_level: str | None = None,
    ) -> list[str] | None:
        """The command line of the engine's own worker (``dramatiq ...``, ``celery ...``)
        for the app named by ``app_spec`` (the CLI's ``APP``, ``module:attribute``), or
        None when ``lexigram-compat worker`` runs the jobs itself (memory, postgres).

        ``queues``, ``processes`` and ``concurrency`` are the CLI's options (None:
        not given, so ``worker.*`` settings apply); ``log_level`` the CLI's
        ``--log-level`` (``debug`` … ``critical``), for a program that sets its own;
        ``lexigram-compat worker`` execs the returned command, so it must be complete
        (program first)."""
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

    async def release_prefetched(self) -> None:  # noqa: B027 - optional hook
        """Return jobs the source claimed ahead on its own and has not handed out
        yet (called with the worker's own prefetched jobs: shutdown, or held too long)."""

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
    async def dead_letter(self, job: ClaimedJob, letter: DeadLetter, failure: FailureInfo) -> bool:
        """Move the job to the dead-letter store (``letter``, built by the settle
        step, is what to keep where the store keeps whole letters); False when stale."""

    @abc.abstractmethod
    async def release(self, job: ClaimedJob) -> bool:
        """Return an unfinished job to its queue without counting the attempt (shutdown)."""

    @abc.abstractmethod
    async def work_state(self, queues: Sequence[str]) -> WorkState:
        """Counts of ready, running and retrying jobs in ``queues``."""

    async def heartbeat(self, jobs: Sequence[ClaimedJob]) -> None:  # noqa: B027 - optional hook
        """Extend the lease of running jobs (engines with leases override this)."""
