"""``expires``, ``compression`` and ``rate_limit`` on every engine, with its native worker.

- A job not started by its expiry is not run: it ends as a dead letter whose error is
  ``JobExpiredError`` (also an attempt whose retry comes due after the expiry).
- Compressed arguments reach the task whole, and ``tasks.max_payload_bytes`` bounds the
  compressed size (a job over the limit raw fits compressed).
- A rate-limited task's attempts start at most ``rate`` per second in each worker
  process, and waiting takes no attempt.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import defaultdict
from datetime import datetime, timedelta

import pytest

from lexigram_compat import JobExpiredError, JobStatus, PayloadTooLargeError
from lexigram_compat.envelope import utcnow

from . import jobs
from .harness import EngineHarness, err, ok, qualified

PAYLOAD_LIMIT = 4096
BLOB = "lexigram " * 2000  # 18,000 bytes raw, a few hundred compressed


async def _until_past(engine: EngineHarness, moment: datetime) -> None:
    async def passed() -> bool:
        return utcnow() > moment

    await engine.wait_until(passed, f"the clock passed {moment.isoformat()}")


async def _expired_letter(engine: EngineHarness, job_id: str, attempts: int) -> str:
    info = await engine.info(job_id)
    assert (info.status, info.attempts) == (JobStatus.FAILED, attempts)
    letter = await engine.app.dead_letters.get(job_id)
    assert letter is not None
    assert letter.error_type == qualified(JobExpiredError)
    assert info.last_error is not None
    assert "expired at" in info.last_error
    return letter.error_message


async def test_a_job_not_started_by_its_expiry_is_dead_lettered_and_not_run(engine: EngineHarness) -> None:
    queue = engine.app.queue
    in_seconds = ok(await queue.enqueue(jobs.expiring("seconds", 0), expires=0.2))
    as_delta = ok(await queue.enqueue(jobs.expiring("delta", 0), expires=timedelta(milliseconds=200)))
    at_time = utcnow() - timedelta(seconds=1)
    as_time = ok(await queue.enqueue(jobs.expiring("time", 0), expires=at_time))
    fresh = ok(await queue.enqueue(jobs.expiring("fresh", 0)))  # the task's own 60 s
    await _until_past(engine, utcnow() + timedelta(milliseconds=200))

    await engine.drain()

    for job_id in (in_seconds, as_delta, as_time):
        message = await _expired_letter(engine, job_id, attempts=1)
        assert "before attempt 1 started" in message
    assert f"expired at {at_time.isoformat()}" in await _expired_letter(engine, as_time, 1)
    assert [e.data["key"] for e in engine.recorder.entries("expiring")] == ["fresh"]
    info = await engine.info(fresh)
    assert (info.status, info.result) == (JobStatus.COMPLETED, "fresh")


async def test_a_retry_due_after_the_expiry_is_not_run(engine: EngineHarness) -> None:
    await engine.start_worker()
    warm = ok(await engine.app.queue.enqueue(jobs.noop("warm")))
    await engine.wait_for(warm, JobStatus.COMPLETED)  # the worker is up: attempt 1 starts in time
    job_id = ok(await engine.app.queue.enqueue(jobs.expiring("retried", 2.0), expires=1.5))

    await engine.wait_for(job_id, JobStatus.FAILED)
    await engine.stop_worker()

    message = await _expired_letter(engine, job_id, attempts=2)
    assert "before attempt 2 started" in message
    assert engine.recorder.runs("expiring", "retried") == 1


@pytest.mark.tasks_config({"max_payload_bytes": PAYLOAD_LIMIT})
async def test_compressed_arguments_arrive_whole_and_the_limit_bounds_the_compressed_size(
    engine: EngineHarness,
) -> None:
    queue = engine.app.queue
    numbers = list(range(50))
    own = ok(await queue.enqueue(jobs.compressed("zlib", BLOB, numbers)))  # the task's zlib
    bzip2 = ok(await queue.enqueue(jobs.compressed("bzip2", BLOB, numbers), compression="bzip2"))
    lzma = ok(await queue.enqueue(jobs.add(2, 3), compression="lzma"))
    too_large = err(await queue.enqueue(jobs.noop(BLOB)))  # the same bytes, not compressed
    assert isinstance(too_large, PayloadTooLargeError)
    unknown = err(await queue.enqueue(jobs.noop("x"), compression="snappy"))
    assert "compression='snappy' is not supported" in str(unknown)
    assert "'zlib'" in str(unknown)

    await engine.drain()

    for job_id in (own, bzip2):
        info = await engine.info(job_id)
        assert (info.status, info.result) == (JobStatus.COMPLETED, len(BLOB) + sum(numbers))
    seen = engine.recorder.entries("compressed")
    assert sorted(e.data["key"] for e in seen) == ["bzip2", "zlib"]
    assert all(e.data == {"key": e.data["key"], "size": len(BLOB), "numbers": numbers} for e in seen)
    info = await engine.info(lzma)
    assert (info.status, info.result) == (JobStatus.COMPLETED, 5)


async def test_a_rate_limited_task_starts_at_most_its_rate_per_worker_process(engine: EngineHarness) -> None:
    count = 8
    interval = 1 / jobs.RATE_LIMIT_PER_SECOND
    ids = ok(await engine.app.queue.enqueue_many([jobs.rate_limited(f"r{i}") for i in range(count)]))
    loop = asyncio.get_running_loop()
    began = loop.time()

    await engine.drain()

    elapsed = loop.time() - began
    for job_id in ids:
        info = await engine.info(job_id)
        assert (info.status, info.attempts) == (JobStatus.COMPLETED, 1)  # waiting took no attempt
    starts = engine.recorder.entries("rate_limited")
    assert len(starts) == count
    assert all(e.data["attempt"] == 1 for e in starts)
    by_process: dict[int, list[float]] = defaultdict(list)
    for entry in starts:
        by_process[entry.pid].append(entry.at)
    busiest = max(len(times) for times in by_process.values())
    assert busiest >= 2, f"every job ran in a process of its own ({len(by_process)}): nothing to limit"
    for times in by_process.values():
        times.sort()
        # Starts are reserved `interval` apart; each record follows its start by a delay
        # (scheduling, a busy machine), so the bounds allow for that: without the limit the
        # jobs of one process would start together (0 s apart, 4 at a time).
        gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
        assert all(gap >= interval / 2 for gap in gaps), gaps
        assert times[-1] - times[0] >= (len(times) - 1) * interval - 0.1, times
        # From the other side: the limit spaces the starts, it does not hold them back
        # much longer (every job was queued before the worker began).
        assert times[-1] - times[0] <= (len(times) - 1) * interval + 3.0, times
    # The whole run: at least the busiest process's share of intervals, and bounded.
    assert elapsed >= (busiest - 1) * interval - 0.1
    assert elapsed < (count - 1) * interval + 15.0
