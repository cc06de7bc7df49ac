"""``celery worker -P prefork``: children forked after the main process has
started the app (here: to dead-letter a bad message) and children replaced
after each task run every job on their own loop and connections (finding 2)."""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from datetime import date
from pathlib import Path

from lexigram_compat import JobStatus, TasksApp

from . import interop_tasks
from .conftest import Broker, Worker, read_records
from .test_bad_messages import publish


async def test_prefork_children_replaced_after_each_task_run_every_job(
    broker: Broker, tmp_path: Path
) -> None:
    record = tmp_path / "facade.jsonl"
    argv = [
        sys.executable, "-m", "celery", "-A", "tests.celery.facade_app:celery_app", "worker",
        "-P", "prefork", "-c", "2", "--max-tasks-per-child", "1", "-Q", broker.queue,
        "-n", f"t-{uuid.uuid4().hex[:8]}@%h", "-l", "info",
        "--without-gossip", "--without-mingle", "--without-heartbeat",
    ]  # fmt: skip
    worker = Worker(
        argv,
        {"FACADE_SECTION": json.dumps(broker.section()), "FACADE_RECORD": str(record)},
        tmp_path / "worker.log",
    )
    app = TasksApp.from_dict({"tasks": broker.section()}, environ={}, registry=interop_tasks.registry)
    try:
        async with app:
            # Dead-lettered by the main process, before any child has run a job.
            await asyncio.to_thread(publish, broker, b"\x00\xff not json", {})
            deadline = asyncio.get_running_loop().time() + 20
            while await app.dead_letters.count() == 0:
                assert asyncio.get_running_loop().time() < deadline, worker.text()[-3000:]
                await asyncio.sleep(0.02)
            jobs = [(await app.queue.enqueue(interop_tasks.multiply(n, 2))).unwrap() for n in range(3)]
            # sync tasks run on the app's thread pool, which a fork does not carry over
            jobs += [
                (
                    await app.queue.enqueue(interop_tasks.days_until(date(2026, 1, 1), date(2026, 1, n)))
                ).unwrap()
                for n in (2, 3, 4)
            ]

            async def all_done() -> bool:
                infos = [await app.queue.get_job(job) for job in jobs]
                return all(i is not None and i.status is JobStatus.COMPLETED for i in infos)

            deadline = asyncio.get_running_loop().time() + 30
            while not await all_done():
                assert worker.alive(), worker.text()[-3000:]
                assert asyncio.get_running_loop().time() < deadline, worker.text()[-4000:]
                await asyncio.sleep(0.05)
            results = [(await app.queue.get_job(job)).result for job in jobs]  # type: ignore[union-attr]
    finally:
        assert worker.stop() == 0, worker.text()[-3000:]

    assert results == [0, 2, 4, 1, 2, 3]
    assert sorted(r["args"][0] for r in read_records(record) if r["task"] == "interop.multiply") == [0, 1, 2]
    assert "different loop" not in worker.text()
