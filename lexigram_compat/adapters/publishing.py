"""Publishing with publisher confirms, many confirms awaited at once.

A confirmed publish waits a round trip for the broker's confirm; one at a time, a
batch waits for each. :func:`publish_runs` splits an ``enqueue_many``'s jobs into up
to ``runs`` runs, each published by one executor call (a thread hop per run, not per
job) and, with a pipelining run publisher, its confirms awaited at once.
Single enqueues made at once are grouped (:class:`GroupPublisher`): one publishing
thread writes the records of every job waiting in one Redis call with the blocking
client, publishes them as one run, and answers each caller. Used by the Dramatiq and
Celery engines on RabbitMQ.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from lexigram_compat.errors import TaskQueueError

if TYPE_CHECKING:
    from lexigram_compat.adapters.redis_ledger import RedisLedger, SyncRedisLedger
    from lexigram_compat.envelope import JobEnvelope

__all__ = [
    "GROUP_LANES", "PIPELINED_RUN", "PUBLISH_THREADS", "GroupPublisher", "PublishRun", "Recorded",
    "publish_runs", "withdraw",
]  # fmt: skip

T = TypeVar("T")

log = logging.getLogger("lexigram_compat.publishing")

PUBLISH_THREADS = 8
"""Publishes in flight at once, at most: confirms of concurrent enqueues and of one
``enqueue_many`` overlap. Each thread has its own channel (Dramatiq: a RabbitMQ connection
opened when first needed; Celery: a producer of kombu's pool, within its
``broker_pool_limit`` of 10)."""


async def publish_runs(
    executor: Executor,
    publish_run: Callable[[Sequence[T]], list[BaseException | None]],
    items: Sequence[T],
    runs: int,
) -> list[BaseException | None]:
    """``items`` split into up to ``runs`` runs, each published whole by ``publish_run``
    on ``executor`` (one outcome per item of its run, in order: None once published,
    else its error), all at once: for a publisher that pipelines a run, publishing it
    all and then waiting for every confirm at once."""
    chunks = [list(items[i::runs]) for i in range(min(runs, len(items)))]
    loop = asyncio.get_running_loop()
    done = await asyncio.gather(
        *(loop.run_in_executor(executor, publish_run, chunk) for chunk in chunks),
        return_exceptions=True,
    )
    outcomes: list[BaseException | None] = [None] * len(items)
    for index, result in enumerate(done):
        per_item = result if isinstance(result, list) else [result] * len(chunks[index])
        outcomes[index::runs] = per_item
    return outcomes


@dataclass(frozen=True)
class Recorded:
    """What a single enqueue did (:meth:`GroupPublisher.enqueue`): the job's id (an
    idempotency key's holder when taken), whether its record was new, and the error of
    its publish (None: the broker confirmed it, or nothing was published for a job that
    existed)."""

    job_id: str
    created: bool
    publish_error: Exception | None = None


PublishRun = Callable[[Sequence["JobEnvelope"]], list[BaseException | None]]
"""Publishes a run of jobs' messages on the calling thread and waits for all their
confirms at once: per job None once confirmed, else its error."""

PIPELINED_RUN = 25
"""Jobs of an ``enqueue_many`` per pipelined run, at least (up to PUBLISH_THREADS runs)."""

GROUP_LANES = 2
"""Groups of single enqueues being written and published at once, at most: while one
waits for its confirms, the next is written and published (more lanes, smaller groups).
The Dramatiq engine uses one (:data:`ONE_LANE`)."""

ONE_LANE = 1
"""One group at a time: concurrent producers then go as one group (see
:data:`GATHER_SHARE`) instead of two halves, each paying its own record write and confirm
wait. Measured on Dramatiq with 8 producers: 146-161 us of producer CPU per job against
199-210 with two lanes; its single enqueue is no slower. On Celery a single enqueue made
alone was slower with one lane (349-414 jobs/s against 508-573 with two)."""

GATHER_SHARE = 0.5
"""After a group of callers at once, the share of its commit time (at most
:data:`GATHER_MAX_SECONDS`) a lane waits for the callers it just answered to come back
with their next jobs (producers awaiting each enqueue), so that they go as one group
with those still waiting rather than in two that alternate, each paying its own record
write and confirm wait. The wait ends as soon as they are all back. A caller alone is
never waited for."""

GATHER_MAX_SECONDS = 0.005
"""The longest a lane waits for callers to come back (a slow commit must not hold the
next group for long)."""


class _Waiting:
    __slots__ = ("envelope", "future", "loop", "token")

    def __init__(
        self,
        envelope: JobEnvelope,
        token: str,
        loop: asyncio.AbstractEventLoop,
        future: asyncio.Future[Recorded],
    ) -> None:
        self.envelope = envelope
        self.token = token
        self.loop = loop
        self.future = future


class GroupPublisher:
    """Single enqueues made at once, written and published together (group commit).

    A caller's job waits in a list; a *lane* (a call on the publishing executor, up to
    :data:`GROUP_LANES` at once) takes every job waiting at that moment, writes all their
    records in one Redis call (the ledger script's ``many``, ``create`` with each job's
    own token), publishes the new ones as one pipelined run per queue (``publish_run``:
    one confirm wait for all), answers each caller with its own outcome, and takes the next group
    until none waits. A caller alone starts a lane at once: nothing lingers for company.
    After a group of callers at once, the lane gives the callers it answered a moment
    (:data:`GATHER_SHARE`) to come back with their next jobs before it takes the next
    group, so that producers awaiting each enqueue keep going as one group.
    Each caller settles its own job as before: a failed record write is undone by its
    token (:meth:`~lexigram_compat.adapters.redis_ledger.RedisLedger.after_failed_create`)
    and raised; a failed publish is in its result, for the engine to undo that record."""

    def __init__(
        self,
        executor: Executor,
        sync: Callable[[], SyncRedisLedger],
        publish_run: PublishRun,
        *,
        lanes: int = GROUP_LANES,
        gather_share: float = GATHER_SHARE,
        gather_max: float = GATHER_MAX_SECONDS,
    ) -> None:
        self.executor = executor
        self.sync = sync
        self.publish_run = publish_run
        self.lanes = lanes
        self.gather_share = gather_share
        self.gather_max = gather_max
        self.groups = 0
        """Groups committed so far (tests read it: one ledger call and one confirm wait each)."""
        self._lock = threading.Lock()
        self._waiting: list[_Waiting] = []
        self._running = 0
        self._wanted = 0
        """Callers a gathering lane waits for (0: none gathers); the one that makes them
        that many sets ``_gathered``."""
        self._gathered = threading.Event()

    async def enqueue(self, ledger: RedisLedger, envelope: JobEnvelope) -> Recorded:
        """One job, recorded and published with whatever other jobs wait with it. When
        its record's write fails, nothing was published: the record is settled as
        :meth:`~lexigram_compat.adapters.redis_ledger.RedisLedger.after_failed_create`
        says (undone, or :class:`~lexigram_compat.errors.EnqueueOutcomeUnknownError`)
        and the error propagates for the engine to word; a failed publish is in the
        result, for the engine to undo."""
        loop = asyncio.get_running_loop()
        waiting = _Waiting(envelope, os.urandom(16).hex(), loop, loop.create_future())
        with self._lock:
            self._waiting.append(waiting)
            if self._wanted and len(self._waiting) >= self._wanted:
                self._wanted = 0
                self._gathered.set()
            start = self._running < self.lanes
            if start:
                self._running += 1
        if start:
            try:
                self.executor.submit(self._lane)
            except BaseException:  # e.g. the executor was shut down: nothing taken this job
                with self._lock:
                    self._running -= 1
                    self._waiting.remove(waiting)
                raise
        try:
            return await waiting.future
        except TaskQueueError:
            raise  # already worded, e.g. an outcome the ledger could not tell
        except Exception as exc:
            await ledger.after_failed_create([envelope], [waiting.token], exc)
            raise

    def _lane(self) -> None:
        wanted, patience = 0, 0.0
        while True:
            if wanted:
                self._gather(wanted, patience)
            with self._lock:
                group, self._waiting = self._waiting, []
                if not group:
                    self._running -= 1
                    return
                self.groups += 1
            started = time.perf_counter()
            try:
                outcomes = self._commit(group)
            except BaseException as exc:  # answered, whatever happened: no caller waits forever
                outcomes = [exc] * len(group)
            patience = min((time.perf_counter() - started) * self.gather_share, self.gather_max)
            with self._lock:  # counted before the answer: a caller answered may be back at once
                waiting = len(self._waiting)
            _answer(group, outcomes)
            # Callers at once (others in the group or waiting meanwhile): the ones just
            # answered may be back in a moment; a caller alone is not waited for.
            wanted = waiting + len(group) if waiting or len(group) > 1 else 0

    def _gather(self, wanted: int, patience: float) -> None:
        """Wait until ``wanted`` callers wait, or ``patience`` seconds."""
        with self._lock:
            if len(self._waiting) >= wanted:
                return
            self._wanted = wanted
            self._gathered.clear()
        self._gathered.wait(patience)
        with self._lock:
            self._wanted = 0

    def _commit(self, group: Sequence[_Waiting]) -> list[Recorded | BaseException]:
        sync = self.sync()
        try:
            created = sync.run_batch([sync.calls.create(w.envelope, token=w.token) for w in group])
        except Exception as exc:  # no record written, or unknown: each caller settles its own
            return [exc] * len(group)
        fresh = [
            w.envelope for w, c in zip(group, created, strict=True) if not isinstance(c, Exception) and c[1]
        ]
        errors = self._publish(fresh)
        outcomes: list[Recorded | BaseException] = []
        for made in created:
            if isinstance(made, Exception):
                outcomes.append(made)
                continue
            job_id, new = made
            error = errors.pop(job_id) if new else None
            if error is not None and not isinstance(error, Exception):
                outcomes.append(error)  # cancelled, interrupted: as it came
            else:
                outcomes.append(Recorded(job_id, new, error))
        return outcomes

    def _publish(self, fresh: Sequence[JobEnvelope]) -> dict[str, BaseException | None]:
        """Each job's publish error (None: confirmed), by job id. One run per queue: a
        queue the broker refuses (its declare fails, which closes the channel) fails
        that queue's jobs only, not the other callers' of the group."""
        by_queue: dict[str, list[JobEnvelope]] = {}
        for envelope in fresh:
            by_queue.setdefault(envelope.queue, []).append(envelope)
        errors: dict[str, BaseException | None] = {}
        for run in by_queue.values():
            try:
                outcomes = self.publish_run(run)
            except Exception as exc:  # records written: each is undone as a failed publish's
                outcomes = [exc] * len(run)
            errors.update((e.job_id, error) for e, error in zip(run, outcomes, strict=True))
        return errors


def _answer(group: Sequence[_Waiting], outcomes: Sequence[Recorded | BaseException]) -> None:
    """Each caller its outcome, with one wake-up of each caller's loop."""
    by_loop: dict[
        asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Recorded], Recorded | BaseException]]
    ] = {}
    for waiting, outcome in zip(group, outcomes, strict=True):
        by_loop.setdefault(waiting.loop, []).append((waiting.future, outcome))
    for loop, answers in by_loop.items():
        try:
            loop.call_soon_threadsafe(_settle, answers)
        except RuntimeError:  # the caller's loop is closed: nobody is waiting
            log.debug("a group's callers' loop closed before their answer")


def _settle(answers: Sequence[tuple[asyncio.Future[Recorded], Recorded | BaseException]]) -> None:
    for future, outcome in answers:
        if future.done():  # the caller was cancelled
            continue
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)


async def withdraw(ledger: RedisLedger, job_ids: Sequence[str]) -> None:
    """Cancel the jobs a failed ``enqueue_many`` had already published (workers then refuse
    their messages); a warning for each that could not be."""
    for job_id in job_ids:
        try:
            withdrawn = await ledger.cancel(job_id)
        except Exception:
            withdrawn = False
        if not withdrawn:
            log.warning("job %s, published by a failed enqueue_many, could not be withdrawn", job_id)
