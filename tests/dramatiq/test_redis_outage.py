"""A 3-second Redis outage while a job is delivered does not dead-letter it (issue 14, finding 5).

The Redis is a private ``redis-server`` of this test on a free port (AOF, fsync always),
killed with SIGKILL and started again on the same port: the shared server is never
touched. To make the outage hit a delivery's ``start`` deterministically, a first job
holds the worker's event loop (blocking sleeps in ``async def``) until the test lets it
go; the second job is fetched meanwhile (the test waits until its queue list is empty),
Redis dies, and only then is the first job let go: the second job's start meets a dead
Redis, which comes back 3 seconds later (the start's retries bridge that), or
``START_RETRY_SECONDS`` + 3 seconds later (the delivery goes back to its queue, and
runs once Redis is back).
"""

from __future__ import annotations

import asyncio
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from lexigram_compat.queue import JobStatus
from lexigram_compat.worker.settle import START_RETRY_SECONDS
from tests.conformance import jobs
from tests.conformance.engines.dramatiq import SPECS, RedisHarness
from tests.conformance.harness import SUITE_SECTION, deep_merge
from tests.services import Service

SHORT_OUTAGE = 3.0
"""Shorter than the start's retries: the delivery starts once Redis is back."""
LONG_OUTAGE = START_RETRY_SECONDS + 3.0
"""Longer: the delivery goes back to its queue when Redis is back, and runs then."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class PrivateRedis:
    """One ``redis-server`` of this test, restartable on its port with its data."""

    def __init__(self, root: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise AssertionError("redis-server is not installed (needed for this fault test)")
        self.binary = binary
        self.root = root
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        argv = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.root),
                "--save", "", "--appendonly", "yes", "--appendfsync", "always"]  # fmt: skip
        self.process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis.from_url(self.url)
        try:
            for _ in range(200):
                try:
                    if client.ping():
                        return
                except redis.ConnectionError:
                    pass
                if self.process.poll() is not None:
                    raise AssertionError(f"redis-server exited with {self.process.returncode}")
                time.sleep(0.05)
            raise AssertionError("redis-server did not answer within 10s")
        finally:
            client.close()

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.kill()


@pytest.mark.parametrize(
    ("outage", "logged"),
    [
        (SHORT_OUTAGE, "could not start it, the job ledger is unreachable"),
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
        await asyncio.to_thread(private_redis.kill)
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
