"""The Celery engine beside an existing Celery deployment tells Celery's tools the
truth (issue 10, "Truthful side by side with Celery"), on Redis and RabbitMQ:

- a job the facade dead-letters is ``FAILURE`` in Celery's result backend, in
  its events (``task-failed``) and in the worker's log, not ``succeeded: None``;
- ``celery inspect ping/active/stats`` get replies from a facade worker;
- a facade job run by an unmodified Celery worker reaches ``completed`` in
  ``get_job`` (read from the result backend) and leaves the waiting counts;
- old code's ``AsyncResult(id).get()`` returns what the facade's worker ran.

Both sides share a result backend (Redis db 9 under the test's key prefix).
"""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from celery import Celery
from celery.result import AsyncResult
from celery.utils.nodenames import host_format

from lexigram_compat import JobStatus, TasksApp
from tests.ports import free_port

from . import interop_tasks
from .conftest import ROOT, Broker, Worker, celery_worker_argv, read_records, wait_for
from .test_delivery import poll


def result_settings(broker: Broker) -> dict[str, Any]:
    return {
        "result_backend": broker.redis_url,
        "result_backend_transport_options": {"global_keyprefix": broker.prefix},
    }


def facade_section(broker: Broker, *, results: bool = True) -> dict[str, Any]:
    celery = {"key_prefix": broker.prefix, "transport_options": broker.transport}
    if results:
        celery["settings"] = result_settings(broker)
    return broker.section(extra={"celery": celery})


def facade(broker: Broker, *, results: bool = True) -> TasksApp:
    section = facade_section(broker, results=results)
    return TasksApp.from_dict({"tasks": section}, environ={}, registry=interop_tasks.registry)


@pytest.fixture
def plain(broker: Broker) -> Iterator[Celery]:
    """Old code's Celery app on the same broker and result backend (no lexigram import)."""
    app = Celery("old-code", broker=broker.url, set_as_current=False)
    app.conf.update(broker_transport_options=broker.transport, task_default_queue=broker.queue)
    app.conf.update(result_settings(broker))
    yield app
    app.close()


def facade_worker(broker: Broker, tmp_path: Path, *flags: str, results: bool = True) -> tuple[Worker, str]:
    """A ``celery worker`` of the facade's app; returns it and its node name."""
    argv = celery_worker_argv("tests.celery.facade_app:celery_app", broker.queue) + list(flags)
    section = facade_section(broker, results=results)
    env = {"FACADE_SECTION": json.dumps(section), "FACADE_RECORD": str(tmp_path / "rec")}
    worker = Worker(argv, env, tmp_path / "facade-worker.log")
    return worker, host_format(argv[argv.index("-n") + 1])


async def until_status(app: TasksApp, job_id: str, status: JobStatus, worker: Worker | None) -> None:
    deadline = asyncio.get_running_loop().time() + 30
    while True:
        info = await app.queue.get_job(job_id)
        if info is not None and info.status is status:
            return
        log = worker.text()[-3000:] if worker is not None else ""
        assert asyncio.get_running_loop().time() < deadline, f"{job_id} never {status}: {info}\n{log}"
        await asyncio.sleep(0.05)


class EventLog:
    """Celery task events received from the broker, in a thread (as Flower does)."""

    def __init__(self, app: Celery) -> None:
        self.app = app
        self.events: list[dict[str, Any]] = []
        self.ready = threading.Event()
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        assert self.ready.wait(20), "the event receiver never started"

    def _run(self) -> None:
        with self.app.connection_for_read() as conn:
            receiver = self.app.events.Receiver(conn, handlers={"*": self.events.append})
            with receiver.consumer_context(wakeup=False) as (connection, _, _):
                self.ready.set()
                while not self._stop:
                    try:
                        connection.drain_events(timeout=0.2)
                    except TimeoutError:
                        continue

    def of(self, job_id: str) -> list[str]:
        return [e["type"] for e in list(self.events) if e.get("uuid") == job_id]

    def from_worker(self, hostname: str) -> list[str]:
        return [e["type"] for e in list(self.events) if e.get("hostname") == hostname]

    def stop(self) -> None:
        self._stop = True
        self._thread.join(10)


async def test_a_dead_lettered_job_is_failure_in_the_backend_events_and_log(
    broker: Broker, plain: Celery, tmp_path: Path
) -> None:
    events = EventLog(plain)
    worker, _ = facade_worker(broker, tmp_path, "-E")
    try:
        async with facade(broker) as app:
            rejected = (await app.queue.enqueue(interop_tasks.rejects("k"))).unwrap()
            spent = (await app.queue.enqueue(interop_tasks.always_fails("gone"))).unwrap()
            done = (await app.queue.enqueue(interop_tasks.multiply(6, 7))).unwrap()
            for job in (rejected, spent):
                await until_status(app, job, JobStatus.FAILED, worker)
            await until_status(app, done, JobStatus.COMPLETED, worker)
            await asyncio.to_thread(
                wait_for,
                lambda: (
                    "task-failed" in events.of(spent) + events.of(rejected)
                    and "task-succeeded" in events.of(done)
                ),
                "the events of the three jobs",
            )
    finally:
        events.stop()
        assert worker.stop() == 0, worker.text()[-3000:]

    results = {job: AsyncResult(job, app=plain) for job in (rejected, spent, done)}
    assert results[rejected].state == "FAILURE"
    assert results[spent].state == "FAILURE"
    assert isinstance(results[spent].result, LookupError)
    assert "no such key: gone" in str(results[spent].result)
    assert (results[done].state, results[done].result) == ("SUCCESS", 42)
    assert "task-failed" in events.of(rejected)
    assert "task-failed" in events.of(spent)
    assert "task-succeeded" not in events.of(rejected) + events.of(spent)
    assert "task-retried" in events.of(spent)  # its first attempt, retried by the facade's policy
    assert "task-succeeded" in events.of(done)
    log = worker.text()
    for job in (rejected, spent):
        assert f"[{job}] raised unexpected" in log, log[-3000:]
        assert f"[{job}] succeeded" not in log, log[-3000:]
    assert f"[{done}] succeeded" in log


def run_celery_command(broker: Broker, *args: str) -> subprocess.CompletedProcess[str]:
    """``celery -A <old code's app> <args>``, as an operator (or Flower) runs it."""
    env = {
        "PLAIN_BROKER_URL": broker.url,
        "PLAIN_QUEUE": broker.queue,
        "PLAIN_TRANSPORT": json.dumps(broker.transport),
        "PLAIN_RECORD": "/dev/null",
    }
    return subprocess.run(
        [sys.executable, "-m", "celery", "-A", "tests.celery.plain_app:app", *args],
        cwd=ROOT,
        check=False,
        env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_celery_inspect_gets_replies_from_a_facade_worker(broker: Broker, tmp_path: Path) -> None:
    worker, name = facade_worker(broker, tmp_path)
    try:
        ping = run_celery_command(broker, "inspect", "ping", "-d", name, "--timeout", "10")
        stats = run_celery_command(broker, "inspect", "stats", "-d", name, "--timeout", "10", "--json")
        active = run_celery_command(broker, "inspect", "active", "-d", name, "--timeout", "10", "--json")
    finally:
        assert worker.stop() == 0, worker.text()[-3000:]

    assert ping.returncode == 0, ping.stdout + ping.stderr
    assert "pong" in ping.stdout
    assert stats.returncode == 0, stats.stdout + stats.stderr
    replies = json.loads(stats.stdout)
    assert list(replies) == [name]
    assert replies[name]["pool"]["implementation"].endswith("thread:TaskPool")
    assert active.returncode == 0, active.stdout + active.stderr
    assert list(json.loads(active.stdout).values()) == [[]]


async def test_a_facade_job_run_by_a_plain_celery_worker_completes_in_get_job(
    broker: Broker, tmp_path: Path
) -> None:
    record = tmp_path / "plain.jsonl"
    env = {
        "PLAIN_BROKER_URL": broker.url,
        "PLAIN_QUEUE": broker.queue,
        "PLAIN_TRANSPORT": json.dumps(broker.transport),
        "PLAIN_RECORD": str(record),
        "PLAIN_RESULT_BACKEND": broker.redis_url,
        "PLAIN_RESULT_OPTIONS": json.dumps({"global_keyprefix": broker.prefix}),
    }
    async with facade(broker) as app:
        jobs = [(await app.queue.enqueue(interop_tasks.add(n, 3))).unwrap() for n in (2, 40)]
        assert await app.queue.count(broker.queue) == 2
        worker = Worker(
            celery_worker_argv("tests.celery.plain_app:app", broker.queue), env, tmp_path / "plain.log"
        )
        try:
            for job in jobs:  # Celery logs a success once its result is stored
                await asyncio.to_thread(worker.wait_for_log, f"interop.add[{job}] succeeded", 30)
        finally:
            assert worker.stop() == 0, worker.text()[-3000:]
        # `queues` alone (no get_job first) stops counting them as waiting.
        deadline = asyncio.get_running_loop().time() + 20
        while (waiting := await app.queue.count(broker.queue)) != 0:
            assert asyncio.get_running_loop().time() < deadline, f"still {waiting} waiting"
            await asyncio.sleep(0.1)
        completed = await app.queue.count(broker.queue, JobStatus.COMPLETED)
        infos = [await app.queue.get_job(job) for job in jobs]

    assert completed == 2
    assert [(i.status, i.result, i.task_name) for i in infos if i is not None] == [
        (JobStatus.COMPLETED, 5, "interop.add"),
        (JobStatus.COMPLETED, 43, "interop.add"),
    ]
    assert sorted(r["id"] for r in read_records(record)) == sorted(jobs)


async def test_old_get_callers_read_the_result_of_a_job_the_facade_ran(
    broker: Broker, plain: Celery, tmp_path: Path
) -> None:
    worker, _ = facade_worker(broker, tmp_path)
    try:
        async with facade(broker) as app:
            job = (await app.queue.enqueue(interop_tasks.multiply(6, 7))).unwrap()
            # Old code's own call of the same task name, run by the facade's worker.
            sent = plain.send_task("interop.days_until", args=["2024-02-27", "2024-03-01"]).id
            answer = await asyncio.to_thread(AsyncResult(job, app=plain).get, timeout=30)
            days = await asyncio.to_thread(AsyncResult(sent, app=plain).get, timeout=30)
            # On Redis the job's record is written by its message's ack, which Celery
            # sends just after it stored the result .get() read: wait for the record.
            await poll(lambda: _finished(app, sent), "the job's record finished", worker, timeout=10)
            info = await app.queue.get_job(sent)
            # A second message of the finished job is not run, and stores nothing over its result.
            plain.send_task("interop.multiply", args=[6, 7], task_id=job)
            await asyncio.to_thread(worker.wait_for_log, f"interop.multiply[{job}] ignored", 30)
            again = AsyncResult(job, app=plain)
            again_state, again_result = again.state, again.result
    finally:
        assert worker.stop() == 0, worker.text()[-3000:]

    assert answer == 42
    assert (again_state, again_result) == ("SUCCESS", 42)
    assert days == 3
    assert info is not None
    assert (info.status, info.result) == (JobStatus.COMPLETED, 3)


async def test_a_job_old_code_revokes_is_cancelled_not_left_waiting(
    broker: Broker, plain: Celery, tmp_path: Path
) -> None:
    """Remote control on means old code's ``revoke`` reaches facade workers: the job
    is not run, and its record says so (no result backend needed)."""
    worker, name = facade_worker(broker, tmp_path, results=False)
    job = str(uuid.uuid4())
    try:
        replies = await asyncio.to_thread(
            plain.control.revoke, job, reply=True, destination=[name], timeout=10
        )
        async with facade(broker, results=False) as app:
            assert (await app.queue.enqueue(interop_tasks.multiply(6, 7), job_id=job)).unwrap() == job
            await until_status(app, job, JobStatus.CANCELLED, worker)
    finally:
        assert worker.stop() == 0, worker.text()[-3000:]

    assert [list(reply) for reply in replies] == [[name]]
    assert read_records(tmp_path / "rec") == []  # never ran
    assert f"Discarding revoked task: interop.multiply[{job}]" in worker.text()


@pytest.mark.parametrize("broker", ["redis"], indirect=True)
async def test_a_message_celery_drops_as_expired_is_cancelled_not_left_running(
    broker: Broker, plain: Celery, tmp_path: Path
) -> None:
    """Old code's ``expires`` is Celery's own: the worker drops an expired message
    before the task body runs, as a revoke. On Redis the attempt was started with
    the delivery of its message (``prestart.py``): it is put back and cancelled,
    never left ``running`` for ever."""
    worker, _ = facade_worker(broker, tmp_path, results=False)
    job = str(uuid.uuid4())
    try:
        async with facade(broker, results=False) as app:
            expired = datetime.now(UTC) - timedelta(minutes=1)
            plain.send_task("interop.multiply", args=[6, 7], task_id=job, expires=expired)
            await until_status(app, job, JobStatus.CANCELLED, worker)
    finally:
        assert worker.stop() == 0, worker.text()[-3000:]

    assert read_records(tmp_path / "rec") == []  # never ran
    assert f"Discarding revoked task: interop.multiply[{job}]" in worker.text()


def test_the_generated_worker_command_is_seen_by_inspect_and_flower(
    broker: Broker, plain: Celery, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What ``lexigram-compat worker`` execs: a node name of its own, replies to
    ``inspect``, and worker heartbeats (Flower shows a worker online while it hears them)."""
    section = facade_section(broker)
    monkeypatch.setenv("FACADE_SECTION", json.dumps(section))
    monkeypatch.setenv("FACADE_RECORD", str(tmp_path / "rec"))
    monkeypatch.delitem(sys.modules, "tests.celery.facade_app", raising=False)
    module = importlib.import_module("tests.celery.facade_app")
    argv = module.app.queue.backend.engine.native_worker_argv(
        "tests.celery.facade_app:app", queues=None, processes=None, concurrency=None
    )
    assert argv is not None
    name = host_format(argv[argv.index("-n") + 1])
    events = EventLog(plain)
    worker = Worker([*argv, "-l", "info"], {}, tmp_path / "worker.log")
    try:
        wait_for(lambda: "worker-heartbeat" in events.from_worker(name), "a heartbeat of the worker", 30)
        ping = run_celery_command(broker, "inspect", "ping", "-d", name, "--timeout", "10")
    finally:
        events.stop()
        assert worker.stop() == 0, worker.text()[-3000:]

    assert ping.returncode == 0, ping.stdout + ping.stderr
    assert f"{name}: OK" in ping.stdout
    assert name.startswith(f"lexigram-{os.getpid()}@")


async def test_an_unreachable_result_backend_leaves_the_ledgers_answer(broker: Broker) -> None:
    section = facade_section(broker)
    section["extra"]["celery"]["settings"] = {"result_backend": f"redis://127.0.0.1:{free_port()}/0"}
    app = TasksApp.from_dict({"tasks": section}, environ={}, registry=interop_tasks.registry)
    async with app:
        job = (await app.queue.enqueue(interop_tasks.add(2, 3))).unwrap()
        info = await app.queue.get_job(job)
        waiting = await app.queue.count(broker.queue)

    assert info is not None
    assert info.status is JobStatus.PENDING
    assert waiting == 1


async def _finished(app: TasksApp, job_id: str) -> bool:
    info = await app.queue.get_job(job_id)
    return info is not None and info.status is not JobStatus.RUNNING
