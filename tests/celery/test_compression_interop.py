"""Compressed messages between the facade and plain Celery, both ways, on Redis and
RabbitMQ: the facade's ``compression=`` is kombu's own (a plain ``celery worker``
reads it), and a plain ``apply_async(compression=...)`` runs on the facade's worker."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import redis
from celery import Celery
from kombu import Connection, Queue

from lexigram_compat import JobStatus

from . import interop_tasks as facade_app
from .conftest import Broker, Worker, celery_worker_argv, read_records, wait_for
from .test_interop import facade, facade_env, plain_env


def _compression_headers(broker: Broker, count: int) -> list[Any]:
    """The ``compression`` header of the first ``count`` messages on the queue, as a
    consumer receives them: Redis, the list items read in place; RabbitMQ, fetched and
    given back unacknowledged."""
    if broker.kind == "redis":
        client = redis.Redis.from_url(broker.redis_url)
        try:
            items = client.lrange(f"{broker.prefix}{broker.queue}", 0, -1)
        finally:
            client.close()
        return [json.loads(item)["headers"].get("compression") for item in items[:count]]
    with Connection(broker.url) as connection:
        queue = Queue(broker.queue, no_declare=True, channel=connection.channel())
        messages = [queue.get(no_ack=False) for _ in range(count)]
        try:
            return [None if m is None else m.headers.get("compression") for m in messages]
        finally:
            for message in messages:
                if message is not None:
                    message.requeue()


async def test_a_compressed_facade_job_runs_on_an_unmodified_celery_worker(
    broker: Broker, tmp_path: Path
) -> None:
    record = tmp_path / "plain.jsonl"
    async with facade(broker) as app:
        zlib_id = (await app.queue.enqueue(facade_app.add(2, 3), compression="zlib")).unwrap()
        bzip2_id = (await app.queue.enqueue(facade_app.add(40, 2), compression="bzip2")).unwrap()
        headers = await asyncio.to_thread(_compression_headers, broker, 2)
        assert sorted(headers) == ["application/x-bz2", "application/x-gzip"]

        worker = Worker(
            celery_worker_argv("tests.celery.plain_app:app", broker.queue),
            plain_env(broker, record),
            tmp_path / "plain-worker.log",
        )
        try:
            await asyncio.to_thread(wait_for, lambda: len(read_records(record)) == 2, "both jobs ran")
        finally:
            assert worker.stop() == 0, worker.text()[-3000:]

    runs = {entry["id"]: entry["args"] for entry in read_records(record)}
    assert runs == {zlib_id: [2, 3], bzip2_id: [40, 2]}


async def test_a_compressed_plain_celery_call_runs_on_the_facade_worker(
    broker: Broker, tmp_path: Path
) -> None:
    record = tmp_path / "facade.jsonl"
    plain = Celery("plain-producer", broker=broker.url, set_as_current=False)
    plain.conf.update(broker_transport_options=broker.transport, task_default_queue=broker.queue)

    @plain.task(name="interop.multiply", shared=False)  # type: ignore[untyped-decorator]
    def multiply(a: int, b: int) -> None:
        """Only the declaration matters: the facade's worker runs the job."""

    job_id = multiply.apply_async((6, 7), compression="zlib").id
    worker = Worker(
        celery_worker_argv("tests.celery.facade_app:celery_app", broker.queue),
        facade_env(broker, record),
        tmp_path / "facade-worker.log",
    )
    try:
        async with facade(broker) as app:
            deadline = asyncio.get_running_loop().time() + 20
            while (info := await app.queue.get_job(job_id)) is None or info.status is not JobStatus.COMPLETED:
                assert asyncio.get_running_loop().time() < deadline, worker.text()[-3000:]
                await asyncio.sleep(0.02)
    finally:
        assert worker.stop() == 0, worker.text()[-3000:]

    assert info.result == 42
    assert {"task": "interop.multiply", "args": [6, 7]} in read_records(record)
