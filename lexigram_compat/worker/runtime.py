"""The native worker: claims jobs from a ``JobSource``, runs them concurrently,
records outcomes, heartbeats leases, and shuts down gracefully."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lexigram_compat.engine_contract import ClaimedJob, JobSource
from lexigram_compat.envelope import JobEnvelope
from lexigram_compat.errors import TaskQueueError
from lexigram_compat.letters import UNDECODABLE_TASK
from lexigram_compat.outcomes import Completed, DeadLettered, Outcome, RetryLater, failure_of, undecodable
from lexigram_compat.worker.settle import Settlement

if TYPE_CHECKING:
    from lexigram_compat.outcomes import FailureInfo
    from lexigram_compat.records import DeadLetter
    from lexigram_compat.worker.settle import Settler

__all__ = ["JobFailed", "SourceSettlement", "SourceWorker", "WorkerOptions"]

log = logging.getLogger("lexigram_compat.worker")

MAX_BACKOFF = 30.0


class JobFailed(Exception):
    """Raised by a fail-fast worker when a job attempt fails."""

    def __init__(self, job_id: str, task_name: str, error: BaseException | None) -> None:
        self.job_id, self.task_name, self.error = job_id, task_name, error
        super().__init__(f"job {job_id} ({task_name}) failed: {error!r}")


@dataclass
class WorkerOptions:
    """How one worker consumes."""

    queues: Sequence[str]
    concurrency: int
    poll_interval: float
    shutdown_timeout: float
    heartbeat_interval: float
    until_idle: bool = False
    fail_fast: bool = False


class SourceWorker:
    """Consumes the given queues of one job source."""

    def __init__(
        self,
        source: JobSource,
        settler: Settler,
        options: WorkerOptions,
        *,
        stopping: asyncio.Event,
        forced: asyncio.Event | None = None,
    ) -> None:
        self.source = source
        self.settler = settler
        self.options = options
        self.stopping = stopping
        self.forced = forced or asyncio.Event()
        self.running: dict[asyncio.Task[None], ClaimedJob] = {}
        self.prefetched: deque[ClaimedJob] = deque()
        """Claimed (``source.prefetch``), not started: started as slots free, released at stop."""
        self.processed = 0
        self._failure: JobFailed | None = None
        self._slot_freed = asyncio.Event()

    async def run(self) -> None:
        """Consume until stopped (or idle, with ``until_idle``), then drain."""
        heartbeat = asyncio.create_task(self._heartbeat())
        try:
            await self._consume()
        finally:
            try:
                # Jobs still running through the drain keep their lease, or
                # another worker would rescue them and run them twice.
                await self._drain()
            finally:
                heartbeat.cancel()
                await asyncio.gather(heartbeat, return_exceptions=True)
        if self._failure is not None:
            raise self._failure

    async def _consume(self) -> None:
        backoff = 0.5
        opts = self.options
        # Never more held jobs than this worker runs at once (--concurrency may
        # be below the max_concurrent_tasks the source sized its prefetch from).
        prefetch = min(max(0, self.source.prefetch), opts.concurrency)
        # Claim ahead (refill the prefetch buffer while every slot is busy) only
        # while the queue looks busy: the last claim came back full, and no
        # held job had to be handed back since. The claim's round trip then
        # overlaps the running jobs instead of following them.
        ahead = False
        while not self.stopping.is_set() and self._failure is None:
            if self.prefetched and len(self.running) < opts.concurrency:
                await self._start_prefetched()
            free = opts.concurrency - len(self.running)
            if not self.prefetched and (free > 0 or (ahead and prefetch > 0)):
                limit = free + prefetch
                try:
                    jobs = await self.source.claim_ahead(opts.queues, free, prefetch)
                    backoff = 0.5
                except (TaskQueueError, OSError) as exc:
                    log.warning("claim failed (%s); retrying in %.1fs", type(exc).__name__, backoff)
                    await self._sleep(backoff)
                    backoff = min(MAX_BACKOFF, backoff * 2)
                    continue
                ahead = len(jobs) >= limit
                self.prefetched.extend(jobs)
                if jobs:
                    continue
                if opts.until_idle and not self.running:
                    state = await self.source.work_state(opts.queues)
                    if state.idle:
                        return
            if self.prefetched:
                # Every slot is busy. Hold claimed jobs one poll interval at most,
                # then hand them back, so long jobs here do not starve idle workers.
                if not await self._wait(False, timeout=opts.poll_interval):
                    ahead = False
                    await self._release_prefetched()
                continue
            await self._wait(free > 0)

    async def _start_prefetched(self) -> None:
        """Start prefetched jobs in the free slots (their attempts counted in one batch)."""
        take = min(len(self.prefetched), self.options.concurrency - len(self.running))
        batch = [self.prefetched.popleft() for _ in range(take)]
        try:
            started = await self.source.start(batch)
        except (TaskQueueError, OSError) as exc:
            # Still reserved: held (and heartbeated) until the next try.
            log.warning("starting prefetched jobs failed (%s); retrying", type(exc).__name__)
            self.prefetched.extendleft(reversed(batch))
            await self._sleep(0.5)
            return
        for job in started:
            self._start(job)

    def _start(self, job: ClaimedJob) -> None:
        task = asyncio.create_task(self._handle(job))
        self.running[task] = job
        task.add_done_callback(self._finished)

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), seconds)

    async def _wait(self, can_claim: bool, timeout: float | None = None) -> bool:
        """Wait for a free slot, new work, or stop; False when ``timeout`` passed first."""
        self._slot_freed.clear()
        waiters: list[asyncio.Task[object]] = [
            asyncio.create_task(self._slot_freed.wait()),
            asyncio.create_task(self.stopping.wait()),
        ]
        if can_claim:
            waiters.append(
                asyncio.create_task(
                    self.source.wait_for_work(self.options.queues, self.options.poll_interval)
                )
            )
        try:
            done, _ = await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            return bool(done)
        finally:
            for waiter in waiters:
                waiter.cancel()
            await asyncio.gather(*waiters, return_exceptions=True)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self.running.pop(task, None)
        self._slot_freed.set()

    async def _handle(self, job: ClaimedJob) -> None:
        envelope = job.envelope or JobEnvelope(job.job_id, UNDECODABLE_TASK, job.queue, attempts=1)
        target = SourceSettlement(self.source, job)
        try:
            if job.envelope is None:
                outcome: Outcome = await self.settler.settle(
                    envelope, undecodable(job.problem or "unknown format"), target, raw=job.raw
                )
            else:
                outcome = await self.settler.run(job.envelope, target)
        except asyncio.CancelledError:
            # Shutdown ran out of time: the attempt does not count.
            await asyncio.shield(self.source.release(job))
            raise
        except Exception as exc:
            # A failure outside the task body (e.g. a retry time past the largest
            # datetime, or a ledger that stayed unreachable): dead-letter the job
            # rather than leave it running; failing that, its lease expires.
            log.exception("job %s could not be handled; dead-lettering it", job.job_id)
            outcome = DeadLettered(failure_of(exc), exc)
            try:
                await self.settler.settle(envelope, outcome, target)
            except Exception:
                log.exception("recording the outcome of job %s failed; its lease will expire", job.job_id)
        self.processed += 1
        if self.options.fail_fast and not isinstance(outcome, Completed) and self._failure is None:
            self._failure = JobFailed(job.job_id, envelope.task_name, outcome.error)
            self.stopping.set()

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self.options.heartbeat_interval)
            jobs = [*self.running.values(), *self.prefetched]
            if jobs:
                try:
                    await self.source.heartbeat(jobs)
                except Exception as exc:
                    log.warning("heartbeat failed: %s", type(exc).__name__)

    async def _release_prefetched(self) -> None:
        """Return claimed, never-started jobs to their queue (attempt not counted)."""
        while self.prefetched:
            job = self.prefetched.popleft()
            try:
                await self.source.release(job)
            except Exception:
                log.exception("returning prefetched job %s failed; its lease will expire", job.job_id)
        await self.source.release_prefetched()

    async def _drain(self) -> None:
        """Let running jobs finish within ``shutdown_timeout``; release the rest."""
        await self._release_prefetched()
        if not self.running:
            return
        log.info(
            "waiting up to %.1fs for %d running job(s)", self.options.shutdown_timeout, len(self.running)
        )
        tasks = list(self.running)
        # asyncio.wait never cancels what it waits for, so cancelling this
        # watcher leaves the jobs running.
        all_done = asyncio.create_task(asyncio.wait(tasks))
        forced = asyncio.create_task(self.forced.wait())
        try:
            await asyncio.wait(
                [all_done, forced], timeout=self.options.shutdown_timeout, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            all_done.cancel()
            forced.cancel()
            await asyncio.gather(all_done, forced, return_exceptions=True)
        pending = {t for t in tasks if not t.done()}
        for task in pending:
            task.cancel()
        if pending:
            log.warning("returned %d unfinished job(s) to the queue at shutdown", len(pending))
            await asyncio.gather(*pending, return_exceptions=True)


class SourceSettlement(Settlement):
    """The native worker's translation: the job source's guarded outcome writes
    (also what an engine's upkeep settles a lost attempt through)."""

    def __init__(self, source: JobSource, job: ClaimedJob) -> None:
        self.source = source
        self.job = job

    async def complete(self, result: object) -> bool:
        return await self.source.complete(self.job, result)

    async def retry(self, outcome: RetryLater) -> bool:
        return await self.source.retry(self.job, outcome.run_at, outcome.failure)

    async def dead_letter(self, letter: DeadLetter, failure: FailureInfo) -> bool:
        return await self.source.dead_letter(self.job, letter, failure)
