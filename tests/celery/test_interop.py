"""Wire compatibility with plain Celery, both ways, on Redis and RabbitMQ (issue 5).

- facade ``enqueue`` → an unmodified Celery app's ``celery worker`` runs the job
  with the same arguments, under the facade's job id as the task id;
- plain ``.delay()`` / ``send_task`` → the facade's task under ``celery worker``,
  arguments decoded with the task's type hints, visible through ``get_job``.
"""

from __future__ import annotations

import asyncio
import json
from datetime import date
from pathlib import Path

from celery import Celery

from lexigram_compat import JobStatus, TasksApp

from . import interop_tasks as facade_app
from .conftest import Broker, Worker, celery_worker_argv, read_records, wait_for


def plain_env(broker: Broker, record: Path) -> dict[str, str]:
    return {
        "PLAIN_BROKER_URL": broker.url,
        "PLAIN_QUEUE": broker.queue,
        "PLAIN_TRANSPORT": json.dumps(broker.transport),
        "PLAIN_RECORD": str(record),
    }


def facade_env(broker: Broker, record: Path) -> dict[str, str]:
    return {"FACADE_SECTION": json.dumps(broker.section()), "FACADE_RECORD": str(record)}


def facade(broker: Broker) -> TasksApp:
    return TasksApp.from_dict({"tasks": broker.section()}, environ={}, registry=facade_app.registry)


async def test_a_facade_job_runs_on_an_unmodified_celery_worker(broker: Broker, tmp_path: Path) -> None:
    record = tmp_path / "plain.jsonl"
    async with facade(broker) as app:
        job_id = (await app.queue.enqueue(facade_app.add(2, 3))).unwrap()
        other_id = (await app.queue.send_task("interop.add", args=[40], kwargs={"b": 2})).unwrap()

        worker = Worker(
            celery_worker_argv("tests.celery.plain_app:app", broker.queue),
            plain_env(broker, record),
            tmp_path / "plain-worker.log",
        )
        try:
            await asyncio.to_thread(wait_for, lambda: len(read_records(record)) == 2, "both jobs ran")
        finally:
            assert worker.stop() == 0, worker.text()[-3000:]

    runs = {entry["id"]: entry for entry in read_records(record)}
    assert runs[job_id] == {"task": "interop.add", "id": job_id, "args": [2, 3], "kwargs": {}}
    assert runs[other_id]["args"] == [40, 2]
    assert "succeeded" in worker.text()


async def test_plain_celery_calls_run_on_the_facade_task_under_celery_worker(
    broker: Broker, tmp_path: Path
) -> None:
    record = tmp_path / "facade.jsonl"
    plain = Celery("plain-producer", broker=broker.url, set_as_current=False)
    plain.conf.update(broker_transport_options=broker.transport, task_default_queue=broker.queue)

    @plain.task(name="interop.multiply", shared=False)  # type: ignore[untyped-decorator]
    def multiply(a: int, b: int) -> None:
        """Only the declaration matters: the facade's worker runs the job."""

    by_delay = multiply.delay(6, 7).id
    by_name = plain.send_task("interop.days_until", args=["2024-02-27", "2024-03-01"]).id

    worker = Worker(
        celery_worker_argv("tests.celery.facade_app:celery_app", broker.queue),
        facade_env(broker, record),
        tmp_path / "facade-worker.log",
    )
    try:
        async with facade(broker) as app:

            async def finished() -> bool:
                infos = [await app.queue.get_job(i) for i in (by_delay, by_name)]
                return all(i is not None and i.status is JobStatus.COMPLETED for i in infos)

            deadline = asyncio.get_running_loop().time() + 20
            while not await finished():
                assert asyncio.get_running_loop().time() < deadline, worker.text()[-3000:]
                await asyncio.sleep(0.02)
            multiplied = await app.queue.get_job(by_delay)
            counted = await app.queue.get_job(by_name)
    finally:
        assert worker.stop() == 0, worker.text()[-3000:]

    assert multiplied is not None
    assert counted is not None
    assert (multiplied.job_id, multiplied.task_name, multiplied.result) == (by_delay, "interop.multiply", 42)
    assert (counted.result, counted.attempts) == ((date(2024, 3, 1) - date(2024, 2, 27)).days, 1)
    records = read_records(record)
    assert {"task": "interop.multiply", "args": [6, 7]} in records
    assert {"task": "interop.days_until", "types": ["date", "date"]} in records
