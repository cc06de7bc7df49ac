"""A 3-second Redis outage while a job is delivered does not dead-letter it (issue 14, finding 5).

The Redis is a private ``redis-server`` of this test on a free port (AOF, fsync always),
killed with SIGKILL and started again on the same port: the shared server is never
touched. To make the outage hit a delivery's ``start`` deterministically, a first job
holds the worker's event loop (blocking sleeps in ``async def``) until the test lets it
go; the second job is fetched meanwhile (the test waits until its queue list is empty),
Redis dies, and only then is the first job let go: the second job's start meets a dead
Redis, which comes back 3 seconds later (the start's retries bridge that), or
``LEDGER_OUTAGE_SECONDS`` + 3 seconds later (the delivery goes back to its queue, and
runs once Redis is back).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from lexigram_compat.queue import JobStatus
from lexigram_compat.worker.settle import LEDGER_OUTAGE_SECONDS
from tests.chaos.servers import PrivateRedis
from tests.conformance import jobs
from tests.conformance.engines.dramatiq import SPECS, RedisHarness
from tests.conformance.harness import SUITE_SECTION, deep_merge
from tests.services import Service

SHORT_OUTAGE = 3.0
"""Shorter than the start's retries: the delivery starts once Redis is back."""
LONG_OUTAGE = LEDGER_OUTAGE_SECONDS + 3.0
"""Longer: the delivery goes back to its queue when Redis is back, and runs then."""


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    with PrivateRedis() as server:
        yield server


@pytest.mark.parametrize(
    ("outage", "logged"),
    [
        (SHORT_OUTAGE, "could not start it (the job ledger is unreachable)"),
        (LONG_OUTAGE, "the delivery goes back to its queue when Redis answers again"),
    ],
    ids=["short", "long"],
)
async def test_a_redis_outage_at_a_delivery_start_does_not_dead_letter_the_job(
    private_redis: PrivateRedis, tmp_path: Path, outage: float, logged: str
) -> None:
    service = Service("redis", private_redis.url, "127.0.0.1", private_redis.port)
    [spec] = [s for s in SPECS if s.key == "dramatiq-redis"]
    section = deep_merge(deep_merge(SUITE_SECTION, spec.section), {"worker": {"max_concurrent_tasks": 2}})
    harness = RedisHarness(spec.key, section, tmp_path / "recorder.jsonl", {"redis_service": service})
    await harness.start()
    try:
        await harness.start_worker()
        release = tmp_path / "release"
        holder = (await harness.app.queue.enqueue(jobs.blocks_loop("holder", str(release)))).unwrap()

        async def holding() -> bool:
            return bool(harness.recorder.entries("blocks_loop.start"))

        await harness.wait_until(holding, "the first job holds the worker's loop")
        victim = (await harness.app.queue.enqueue(jobs.noop("victim"))).unwrap()

        async def fetched() -> bool:
            return await harness.client.llen(f"{harness.namespace}:{harness.default_queue}") == 0

        await harness.wait_until(fetched, "the worker fetched the second job")
        await asyncio.to_thread(private_redis.crash)
        # The second job's start has not been tried yet: the first job holds the loop.
        assert harness.recorder.entries("blocks_loop.end") == []
        release.touch()

        async def released() -> bool:
            return bool(harness.recorder.entries("blocks_loop.end"))

        await harness.wait_until(released, "the first job let the loop go")
        await asyncio.sleep(outage)
        await asyncio.to_thread(private_redis.start)

        await harness.wait_for(victim, JobStatus.COMPLETED, timeout=60)
        await harness.wait_for(holder, JobStatus.COMPLETED, timeout=60)
        await harness.stop_worker()

        assert [e.data["tag"] for e in harness.recorder.entries("noop")] == ["victim"]
        assert await harness.app.dead_letters.list() == []
        log = harness.log_text()
        assert logged in log
        assert "could not put it back" not in log
        assert "TaskNotFoundError" not in log
    finally:
        await harness.close()
