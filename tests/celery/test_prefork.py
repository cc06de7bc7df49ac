"""``celery worker -P prefork``: children forked after the main process has
started the app (here: to dead-letter a bad message) and children replaced
after each task run every job on their own loop and connections (finding 2)."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import uuid
from datetime import date
from pathlib import Path
from typing import Any

from lexigram_compat import JobStatus, TasksApp

from . import interop_tasks
from .conftest import Broker, Worker, celery_worker_argv, read_records
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
    section = broker.section(
        extra={
            "celery": {"key_prefix": broker.prefix, "transport_options": broker.transport, "pool": "prefork"}
        }
    )
    worker = Worker(
        argv, {"FACADE_SECTION": json.dumps(section), "FACADE_RECORD": str(record)}, tmp_path / "worker.log"
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
    assert "(prefork)" in worker.text()


async def test_prefork_warm_shutdown_is_bounded_by_shutdown_timeout(broker: Broker, tmp_path: Path) -> None:
    """SIGTERM with a job still running in a child: at ``worker.shutdown_timeout``
    the worker goes cold and exits, the job's message goes back (finding 10)."""
    record = tmp_path / "facade.jsonl"
    marker = tmp_path / "marker"
    celery: dict[str, Any] = {
        "key_prefix": broker.prefix,
        "transport_options": broker.transport,
        "pool": "prefork",
    }
    if broker.kind == "redis":
        celery |= {"visibility_timeout": 1}
        celery["transport_options"] = {**broker.transport, "unacked_restore_interval": 0.2}
    section = broker.section(
        worker={"poll_interval": 0.05, "shutdown_timeout": 1.0}, extra={"celery": celery}
    )
    env = {"FACADE_SECTION": json.dumps(section), "FACADE_RECORD": str(record)}
    argv = [
        sys.executable, "-m", "celery", "-A", "tests.celery.facade_app:celery_app", "worker",
        "-P", "prefork", "-c", "1", "-Q", broker.queue,
        "-n", f"t-{uuid.uuid4().hex[:8]}@%h", "-l", "info",
        "--without-gossip", "--without-mingle", "--without-heartbeat",
    ]  # fmt: skip
    app = TasksApp.from_dict({"tasks": section}, environ={}, registry=interop_tasks.registry)
    async with app:
        worker = Worker(argv, env, tmp_path / "prefork.log")
        job = (await app.queue.enqueue(interop_tasks.held_once(str(marker)))).unwrap()
        deadline = asyncio.get_running_loop().time() + 20
        while not marker.exists():
            assert asyncio.get_running_loop().time() < deadline, worker.text()[-3000:]
            await asyncio.sleep(0.02)
        worker.process.send_signal(signal.SIGTERM)
        try:
            code = await asyncio.to_thread(worker.process.wait, 15)
        except subprocess.TimeoutExpired:
            code = None
        exit_text = worker.text()[-3000:]
        assert "(prefork)" in worker.text()
        worker.stop()
        assert code is not None, f"still running 15 s after SIGTERM (shutdown_timeout=1):\n{exit_text}"

        # The job was not lost: a new worker runs it (its second run returns at once).
        second = Worker(
            celery_worker_argv("tests.celery.facade_app:celery_app", broker.queue), env, tmp_path / "w2.log"
        )
        try:
            deadline = asyncio.get_running_loop().time() + 20
            while True:
                info = await app.queue.get_job(job)
                if info is not None and info.status is JobStatus.COMPLETED:
                    break
                assert asyncio.get_running_loop().time() < deadline, f"{info}\n{second.text()[-3000:]}"
                await asyncio.sleep(0.05)
        finally:
            assert second.stop() == 0, second.text()[-3000:]
    assert info.result == "stored"


async def test_prefork_children_fire_the_worker_and_attempt_hooks(broker: Broker, tmp_path: Path) -> None:
    """Each prefork child that runs jobs fires ``worker_started`` before its first
    attempt and ``worker_stopped`` (Celery's ``worker_process_shutdown``) when the
    worker stops; the main process, which runs no job, fires neither."""
    hooks = tmp_path / "hooks.jsonl"
    argv = [
        sys.executable, "-m", "celery", "-A", "tests.celery.facade_app:celery_app", "worker",
        "-P", "prefork", "-c", "2", "-Q", broker.queue,
        "-n", f"t-{uuid.uuid4().hex[:8]}@%h", "-l", "info",
        "--without-gossip", "--without-mingle", "--without-heartbeat",
    ]  # fmt: skip
    section = broker.section(
        extra={
            "celery": {"key_prefix": broker.prefix, "transport_options": broker.transport, "pool": "prefork"}
        }
    )
    environ = {
        "FACADE_SECTION": json.dumps(section),
        "FACADE_RECORD": str(tmp_path / "facade.jsonl"),
        "FACADE_HOOKS": str(hooks),
    }
    worker = Worker(argv, environ, tmp_path / "worker.log")
    app = TasksApp.from_dict({"tasks": broker.section()}, environ={}, registry=interop_tasks.registry)
    try:
        async with app:
            jobs = [(await app.queue.enqueue(interop_tasks.multiply(n, 3))).unwrap() for n in range(4)]
            deadline = asyncio.get_running_loop().time() + 30
            for job in jobs:
                while (
                    info := await app.queue.get_job(job)
                ) is None or info.status is not JobStatus.COMPLETED:
                    assert worker.alive(), worker.text()[-3000:]
                    assert asyncio.get_running_loop().time() < deadline, worker.text()[-4000:]
                    await asyncio.sleep(0.05)
    finally:
        assert worker.stop() == 0, worker.text()[-3000:]

    entries = read_records(hooks)
    succeeded = [e for e in entries if e["point"] == "succeeded"]
    assert sorted(e["job"] for e in succeeded) == sorted(jobs)
    runners = {e["pid"] for e in succeeded}
    assert worker.process.pid not in runners, "prefork: the children run the jobs"
    assert worker.process.pid not in {e["pid"] for e in entries}, "the main process fires no hook"
    for pid in runners:
        mine = [e["point"] for e in entries if e["pid"] == pid]
        assert mine[0] == "worker_started", mine
        assert mine[-1] == "worker_stopped", mine
        assert mine.count("worker_started") == mine.count("worker_stopped") == 1, mine
