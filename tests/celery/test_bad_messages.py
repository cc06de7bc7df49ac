"""Malformed messages on a Celery queue are dead-lettered and the worker keeps
consuming (a bad message must never take a worker down); on RabbitMQ every dead
letter is also on the library's dead-letter queue (issue 5, point 3)."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

from amqp.exceptions import NotFound  # type: ignore[import-untyped]
from kombu import Connection, Exchange, Queue

from lexigram_compat import JobStatus, TasksApp, TaskValidationError
from lexigram_compat.adapters.celery.engine import DEAD_LETTER_SUFFIX

from . import interop_tasks
from .conftest import Broker, Worker, celery_worker_argv

EMBED = {"callbacks": None, "errbacks": None, "chain": None, "chord": None}


def publish(broker: Broker, body: Any, headers: dict[str, Any]) -> None:
    """Publish as a broken producer would, JSON-typed, to the broker's queue."""
    with Connection(broker.url, transport_options=broker.transport) as conn:
        queue = Queue(broker.queue, Exchange(broker.queue), routing_key=broker.queue)
        conn.Producer().publish(
            body if isinstance(body, bytes) else json.dumps(body).encode(),
            exchange=Exchange(broker.queue),
            routing_key=broker.queue,
            content_type="application/json",
            content_encoding="utf-8",
            headers=headers,
            declare=[queue],
        )


def dead_queue_depth(broker: Broker) -> int:
    with Connection(broker.url) as conn:
        _, count, _ = conn.default_channel.queue_declare(broker.queue + DEAD_LETTER_SUFFIX, passive=True)
        return int(count)


def dead_queue_depth_or_none(broker: Broker) -> int | None:
    """The dead-letter queue's depth; None while no dead letter has declared it."""
    try:
        return dead_queue_depth(broker)
    except NotFound:
        return None


async def test_malformed_messages_are_dead_lettered_and_the_worker_keeps_consuming(
    broker: Broker, tmp_path: Path
) -> None:
    missing_id = {"lang": "py", "task": "interop.multiply"}
    two_items = {"lang": "py", "task": "interop.multiply", "id": f"two-items-{uuid.uuid4()}"}
    bad_bodies: list[str] = []
    section = json.dumps(broker.section())
    worker = Worker(
        celery_worker_argv("tests.celery.facade_app:celery_app", broker.queue),
        {"FACADE_SECTION": section, "FACADE_RECORD": str(tmp_path / "facade.jsonl")},
        tmp_path / "worker.log",
    )
    app = TasksApp.from_dict({"tasks": broker.section()}, environ={}, registry=interop_tasks.registry)
    try:
        async with app:
            await asyncio.to_thread(publish, broker, [[1, 2], {}, EMBED], missing_id)
            await asyncio.to_thread(publish, broker, [[1, 2], {}], two_items)
            await asyncio.to_thread(publish, broker, b"\x00\xff not json", {})
            for body in ([5, {}, EMBED], [[1, 2], "x", EMBED]):  # known task, broken body
                headers = {"lang": "py", "task": "interop.multiply", "id": f"body-{uuid.uuid4()}"}
                await asyncio.to_thread(publish, broker, body, headers)
                bad_bodies.append(headers["id"])
            rejected = (await app.queue.enqueue(interop_tasks.rejects("dlx"))).unwrap()
            good = (await app.queue.enqueue(interop_tasks.multiply(6, 7))).unwrap()

            async def settled() -> bool:
                info = await app.queue.get_job(good)
                done = info is not None and info.status is JobStatus.COMPLETED
                return done and await app.dead_letters.count() == 6

            deadline = asyncio.get_running_loop().time() + 20
            while not await settled():
                assert worker.alive(), worker.text()[-3000:]
                assert asyncio.get_running_loop().time() < deadline, worker.text()[-3000:]
                await asyncio.sleep(0.02)
            letters = await app.dead_letters.list()
    finally:
        assert worker.stop() == 0, worker.text()[-3000:]

    malformed = [d for d in letters if d.job_id != rejected]
    assert len(malformed) == 5
    assert {d.error_type for d in malformed} == {f"{TaskValidationError.__module__}.TaskValidationError"}
    assert all("could not be decoded" in d.error_message for d in malformed)
    assert any(d.raw == b"\x00\xff not json" for d in malformed)
    assert two_items["id"] in {d.job_id for d in malformed}
    assert set(bad_bodies) <= {d.job_id for d in malformed}
    if broker.kind == "amqp":
        assert await asyncio.to_thread(dead_queue_depth, broker) == 6


async def test_rabbitmq_dead_letter_queue_is_bounded_and_purged_with_the_dead_letters(
    broker: Broker, tmp_path: Path
) -> None:
    """``<queue>.dead`` carries the retention limits and empties with purge_all (finding 16)."""
    if broker.kind != "amqp":
        return  # Redis keeps no broker-side copy of dead letters
    section = broker.section(retention={"dead_letter_seconds": 600, "dead_letter_max": 50})
    worker = Worker(
        celery_worker_argv("tests.celery.facade_app:celery_app", broker.queue),
        {"FACADE_SECTION": json.dumps(section), "FACADE_RECORD": str(tmp_path / "facade.jsonl")},
        tmp_path / "worker.log",
    )
    app = TasksApp.from_dict({"tasks": section}, environ={}, registry=interop_tasks.registry)
    try:
        async with app:
            (await app.queue.enqueue(interop_tasks.rejects("dlq"))).unwrap()
            deadline = asyncio.get_running_loop().time() + 20
            while await asyncio.to_thread(dead_queue_depth_or_none, broker) in (None, 0):
                assert asyncio.get_running_loop().time() < deadline, worker.text()[-3000:]
                await asyncio.sleep(0.02)

            def declare_with_the_limits() -> None:
                # RabbitMQ refuses a redeclare whose x-arguments differ (PRECONDITION_FAILED).
                with Connection(broker.url) as conn:
                    channel = conn.default_channel
                    channel.queue_declare(
                        broker.queue + DEAD_LETTER_SUFFIX,
                        durable=True,
                        auto_delete=False,
                        arguments={"x-message-ttl": 600_000, "x-max-length": 50},
                    )

            await asyncio.to_thread(declare_with_the_limits)
            assert await app.dead_letters.purge_all() == 1
            assert await asyncio.to_thread(dead_queue_depth, broker) == 0
    finally:
        assert worker.stop() == 0, worker.text()[-3000:]
