"""Celery on a Redis broker loses no job when Redis crashes under an attempt or a
worker dies while taking a message (issue 14, findings 1 and 2).

Real parts: the real ``celery worker``; a private ``redis-server`` (AOF on, fsync
always) that a test SIGKILLs and starts again on the same port; the shared Redis
(a key prefix per test) where the test takes a message off its list by hand, as a
worker killed between kombu's ``BRPOP`` and its unacknowledged bookkeeping does.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from lexigram_compat import JobStatus, TasksApp
from tests.chaos.servers import PrivateRedis

from . import interop_tasks
from .conftest import Broker, Worker, celery_worker_argv, read_records

RECOVERY_BOUND = 60.0


async def _poll(condition: Any, what: str, worker: Worker, timeout: float) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await condition():
        assert worker.alive(), worker.text()[-3000:]
        assert asyncio.get_running_loop().time() < deadline, f"never {what}:\n{worker.text()[-4000:]}"
        await asyncio.sleep(0.05)


async def test_a_job_whose_outcome_met_a_dead_redis_completes_when_redis_is_back(tmp_path: Path) -> None:
    server = PrivateRedis()
    server.start()
    tag = uuid.uuid4().hex[:8]
    prefix = f"lxcr-{tag}:"
    transport = {"global_keyprefix": prefix, "unacked_restore_interval": 0.2, "unacked_mutex_expire": 2}
    broker = Broker("redis", server.url, server.url, f"q-{tag}", prefix, transport)
    celery = {"key_prefix": prefix, "visibility_timeout": 2, "transport_options": transport}
    section = broker.section(extra={"celery": celery})
    record = tmp_path / "facade.jsonl"
    marker = tmp_path / "marker"
    worker = Worker(
        celery_worker_argv("tests.celery.facade_app:celery_app", broker.queue),
        {"FACADE_SECTION": json.dumps(section), "FACADE_RECORD": str(record)},
        tmp_path / "worker.log",
    )
    app = TasksApp.from_dict({"tasks": section}, environ={}, registry=interop_tasks.registry)
    try:
        async with app:
            job = (await app.queue.enqueue(interop_tasks.held_once(str(marker)))).unwrap()

            async def started() -> bool:
                return marker.exists()

            await _poll(started, "started", worker, 20)
            server.crash()
            marker.with_suffix(".go").touch()

            async def ran() -> bool:
                # Its success is recorded with the ack of its message (acking.py), which
                # cannot reach Redis: the message stays unacknowledged.
                return f"Task interop.held_once[{job}] succeeded" in worker.text()

            await _poll(ran, "ran the job", worker, 30)
            server.start()

            async def completed() -> bool:
                try:
                    info = await app.queue.get_job(job)
                except Exception:
                    return False
                return info is not None and info.status is JobStatus.COMPLETED

            await _poll(completed, "completed after Redis came back", worker, RECOVERY_BOUND)
            info = await app.queue.get_job(job)
    finally:
        worker.stop()
        server.stop()

    assert info is not None
    runs = [r["first"] for r in read_records(record) if r["task"] == "interop.held_once"]
    assert runs[0] is True, runs
    if info.result == "first":
        # Its ack (which records the success) got through once Redis was back, within
        # the settle step's outage bound: recorded as it ran, never run again.
        assert (runs, info.attempts) == ([True], 1), worker.text()[-3000:]
    else:
        # Not within the bound: its message came back and the job ran again.
        assert info.result == "stored", worker.text()[-3000:]
        assert runs[-1] is False, runs


@pytest.mark.parametrize("broker", ["redis"], indirect=True)
async def test_a_message_a_dying_worker_took_off_its_list_is_pushed_back_and_runs(
    broker: Broker, tmp_path: Path
) -> None:
    celery = {"key_prefix": broker.prefix, "visibility_timeout": 1, "transport_options": broker.transport}
    section = broker.section(extra={"celery": celery})
    record = tmp_path / "facade.jsonl"
    app = TasksApp.from_dict({"tasks": section}, environ={}, registry=interop_tasks.registry)
    client = aioredis.Redis.from_url(broker.redis_url)
    try:
        async with app:
            job = (await app.queue.enqueue(interop_tasks.multiply(6, 7))).unwrap()
            # A worker's BRPOP took it; the worker died before recording it as
            # unacknowledged: the message is on no list and in no set.
            taken = await client.rpop(f"{broker.prefix}{broker.queue}")
            assert isinstance(taken, bytes)
            assert job in taken.decode()
            worker = Worker(
                celery_worker_argv("tests.celery.facade_app:celery_app", broker.queue),
                {"FACADE_SECTION": json.dumps(section), "FACADE_RECORD": str(record)},
                tmp_path / "worker.log",
            )
            try:

                async def completed() -> bool:
                    info = await app.queue.get_job(job)
                    return info is not None and info.status is JobStatus.COMPLETED

                # lease (the visibility timeout, 1 s) + two passes 0.5 s apart, and a start
                await _poll(completed, "completed", worker, 20)
                info = await app.queue.get_job(job)
            finally:
                assert worker.stop() == 0, worker.text()[-3000:]
    finally:
        await client.aclose()

    assert info is not None
    assert info.result == 42
    assert info.attempts == 1
    assert f"job {job}: its message was on no queue" in worker.text()
    assert [r["args"] for r in read_records(record) if r["task"] == "interop.multiply"] == [[6, 7]]
