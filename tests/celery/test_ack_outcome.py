"""On a Redis broker holding the job ledger, a ``celery worker -P threads`` records a
job's success with the ack of its message: the ledger's ``complete`` script call
removes the delivery from kombu's unacked index and hash itself, so kombu sends
no ack of its own (one Redis call per success instead of two); and it starts an
attempt with the record of its delivery: the ledger's ``start`` script call adds
the delivery to kombu's unacked index and hash itself (one Redis call instead of
two per delivery, :mod:`lexigram_compat.adapters.celery.prestart`)."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
import redis

from lexigram_compat import JobStatus, TasksApp

from . import interop_tasks
from .conftest import Broker, Worker, celery_worker_argv
from .test_delivery import poll

# Redis only: on RabbitMQ the ack is a RabbitMQ frame and the ledger records the
# success itself (tests/celery/test_delivery.py covers that path on both brokers).
ON_REDIS = pytest.mark.parametrize("broker", ["redis"], indirect=True)


@ON_REDIS
async def test_a_success_is_recorded_by_the_ack_of_its_message(broker: Broker, tmp_path: Path) -> None:
    worker = Worker(
        celery_worker_argv("tests.celery.facade_app:celery_app", broker.queue),
        {"FACADE_SECTION": json.dumps(broker.section()), "FACADE_RECORD": str(tmp_path / "facade.jsonl")},
        tmp_path / "worker.log",
    )
    app = TasksApp.from_dict({"tasks": broker.section()}, environ={}, registry=interop_tasks.registry)
    client = redis.Redis.from_url(broker.redis_url)
    monitor = client.monitor()  # type: ignore[no-untyped-call]
    monitor.__enter__()
    seen: list[dict[str, Any]] = []
    stop_key = f"{broker.prefix}monitor-stop"

    def collect() -> None:
        while True:
            command = monitor.next_command()
            text = str(command.get("command", ""))
            if stop_key in text:
                return
            if broker.prefix in text:
                seen.append(command)

    collector = threading.Thread(target=collect, daemon=True)
    collector.start()
    try:
        async with app:
            jobs = [
                (await app.queue.enqueue(interop_tasks.multiply(3, 4))).unwrap(),
                (await app.queue.enqueue(interop_tasks.add(2, 5))).unwrap(),
                # Held by Celery until its eta: started on its pool thread when it runs.
                (await app.queue.enqueue(interop_tasks.add(1, 1), delay=0.3)).unwrap(),
            ]

            async def finished() -> bool:
                infos = [await app.queue.get_job(job) for job in jobs]
                return all(i is not None and i.status is JobStatus.COMPLETED for i in infos)

            await poll(finished, "completed the jobs", worker)
            results = [(await app.queue.get_job(job)).result for job in jobs]  # type: ignore[union-attr]
        with redis.Redis.from_url(broker.redis_url) as other:
            other.get(stop_key)
        collector.join(timeout=10)
        unacked = client.hlen(f"{broker.prefix}unacked"), client.zcard(f"{broker.prefix}unacked_index")
    finally:
        monitor.__exit__(None, None, None)
        client.close()
        assert worker.stop() == 0, worker.text()[-3000:]

    assert results == [12, 7, 2]
    assert unacked == (0, 0), "every message was acknowledged"
    sent = [c["command"] for c in seen if c.get("client_type") != "lua"]
    index = f"{broker.prefix}unacked_index"
    assert not [c for c in sent if c.upper().startswith("ZREM") and index in c], "kombu acked on its own"
    kombu_records = [c for c in sent if c.upper().startswith("ZADD") and index in c]
    assert len(kombu_records) == 1, kombu_records  # the delayed job's delivery only
    for job in jobs:
        starts = [c for c in sent if " start " in f" {c} " and job in c]
        assert len(starts) == 1, sent  # once: with the delivery's record (prestart.py) or on its thread
        assert (index in starts[0]) == (job != jobs[2]), starts[0]
        completes = [c for c in sent if " complete " in f" {c} " and job in c]
        assert len(completes) == 1, sent
        assert index in completes[0], completes[0]
        assert completes[0].endswith(" z"), completes[0]


@ON_REDIS
async def test_a_protocol_1_message_of_old_code_is_recorded_with_its_ack(
    broker: Broker, tmp_path: Path
) -> None:
    """Old Celery code may send protocol-1 messages (the task id in the body, not in a
    header): the ack still finds the job's success and records it."""
    from celery import Celery

    worker = Worker(
        celery_worker_argv("tests.celery.facade_app:celery_app", broker.queue),
        {"FACADE_SECTION": json.dumps(broker.section()), "FACADE_RECORD": str(tmp_path / "facade.jsonl")},
        tmp_path / "worker.log",
    )
    old = Celery("old", broker=broker.url, set_as_current=False)
    old.conf.update(task_protocol=1, broker_transport_options=broker.transport)
    app = TasksApp.from_dict({"tasks": broker.section()}, environ={}, registry=interop_tasks.registry)
    client = redis.Redis.from_url(broker.redis_url)
    try:
        async with app:
            job = old.send_task("interop.multiply", args=[6, 7], queue=broker.queue).id

            async def finished() -> bool:
                info = await app.queue.get_job(job)
                return info is not None and info.status is JobStatus.COMPLETED

            await poll(finished, "completed the protocol-1 job", worker)
            info = await app.queue.get_job(job)
        unacked = client.hlen(f"{broker.prefix}unacked"), client.zcard(f"{broker.prefix}unacked_index")
    finally:
        client.close()
        assert worker.stop() == 0, worker.text()[-3000:]

    assert info is not None
    assert (info.result, info.attempts) == (42, 1)
    assert unacked == (0, 0)
