"""Publishing on RabbitMQ: priority levels, queues declared by earlier versions, and
confirmed publishes in flight at once (enqueue_many, concurrent producers)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pika  # type: ignore[import-untyped]
import pytest

from lexigram_compat import Priority, TaskRegistry, task
from lexigram_compat.adapters.dramatiq.broker import RABBITMQ_MAX_PRIORITY, rabbitmq_priority
from lexigram_compat.tasks import MAX_PRIORITY
from tests.publish_probe import PublishProbe

from .conftest import AppFactory

registry = TaskRegistry()


@task(name="dqp.add", registry=registry)
async def add(a: int, b: int) -> int:
    return a + b


def test_priorities_keep_their_order_in_at_most_ten_levels() -> None:
    levels = [rabbitmq_priority(p) for p in range(MAX_PRIORITY + 1)]
    assert levels == sorted(levels)  # never a higher priority after a lower one
    assert (min(levels), max(levels)) == (0, RABBITMQ_MAX_PRIORITY) == (0, 10)
    named = [rabbitmq_priority(p) for p in (Priority.LOW, Priority.NORMAL, Priority.HIGH, Priority.CRITICAL)]
    assert named == sorted(set(named))  # the named priorities stay apart
    assert [rabbitmq_priority(p) for p in range(6)] == list(range(6))


def _queue_messages(amqp_url: str, queue: str) -> list[int]:
    """The priorities of the ready messages of ``queue`` (got and requeued)."""
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        channel = connection.channel()
        seen: list[int] = []
        while True:
            method, properties, _ = channel.basic_get(queue=queue, auto_ack=False)
            if method is None:
                break
            seen.append(properties.priority)
        return seen
    finally:
        connection.close()


def _declare(amqp_url: str, queue: str, max_priority: int) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        channel = connection.channel()
        for name in (queue, f"{queue}.DQ"):
            arguments = {
                "x-dead-letter-exchange": "",
                "x-dead-letter-routing-key": f"{queue}.XQ",
                "x-max-priority": max_priority,
            }
            channel.queue_declare(queue=name, durable=True, arguments=arguments)
    finally:
        connection.close()


def _delete(amqp_url: str, queue: str) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        channel = connection.channel()
        for name in (queue, f"{queue}.DQ", f"{queue}.XQ"):
            channel.queue_delete(queue=name)
    finally:
        connection.close()


async def test_new_queues_have_ten_levels_and_messages_carry_the_mapped_priority(
    rabbitmq_app: AppFactory, amqp_url: str
) -> None:
    app = rabbitmq_app(registry)
    queue = app.config.backend.queue_name
    try:
        async with app:
            (await app.queue.enqueue(add(1, 2), priority=Priority.HIGH)).unwrap()
            (await app.queue.enqueue(add(1, 2), priority=200)).unwrap()
        # Declaring the queue again with 10 levels is accepted only if it has 10.
        await asyncio.to_thread(_declare, amqp_url, queue, 10)
        assert sorted(await asyncio.to_thread(_queue_messages, amqp_url, queue)) == [7, 10]
    finally:
        await asyncio.to_thread(_delete, amqp_url, queue)


async def test_a_queue_an_earlier_version_declared_with_255_levels_is_used_as_it_is(
    rabbitmq_app: AppFactory, amqp_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    app = rabbitmq_app(registry)
    queue = app.config.backend.queue_name
    await asyncio.to_thread(_declare, amqp_url, queue, 255)
    try:
        with caplog.at_level(logging.WARNING, logger="lexigram_compat.dramatiq"):
            async with app:
                job_id = (await app.queue.enqueue(add(1, 2), priority=Priority.CRITICAL)).unwrap()
                assert (await app.queue.get_job(job_id)) is not None
        assert f"RabbitMQ queue {queue} exists with another x-max-priority" in caplog.text
        assert await asyncio.to_thread(_queue_messages, amqp_url, queue) == [9]
    finally:
        await asyncio.to_thread(_delete, amqp_url, queue)


async def test_enqueue_many_and_concurrent_producers_publish_every_job_once(
    rabbitmq_app: AppFactory, amqp_url: str
) -> None:
    app = rabbitmq_app(registry)
    queue = app.config.backend.queue_name
    try:
        async with app:
            many = (await app.queue.enqueue_many([add(i, 1) for i in range(40)])).unwrap()
            single = await asyncio.gather(*(app.queue.enqueue(add(i, 2)) for i in range(40)))
            ids = [*many, *(r.unwrap() for r in single)]
            assert len(set(ids)) == 80
            infos = [await app.queue.get_job(job_id) for job_id in ids]
            assert all(info is not None and info.status.value == "pending" for info in infos)
        assert len(await asyncio.to_thread(_queue_messages, amqp_url, queue)) == 80
    finally:
        await asyncio.to_thread(_delete, amqp_url, queue)


async def test_a_queue_declared_without_priorities_is_still_a_configuration_error(
    rabbitmq_app: AppFactory, amqp_url: str
) -> None:
    from lexigram_compat import ConfigurationError

    app = rabbitmq_app(registry)
    queue = app.config.backend.queue_name

    def declare_plain() -> None:
        connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
        try:
            # As plain Dramatiq declares it without max_priority.
            arguments = {"x-dead-letter-exchange": "", "x-dead-letter-routing-key": f"{queue}.XQ"}
            connection.channel().queue_declare(queue=queue, durable=True, arguments=arguments)
        finally:
            connection.close()

    await asyncio.to_thread(declare_plain)
    try:
        async with app:
            error = (await app.queue.enqueue(add(1, 2), job_id="refused")).unwrap_err()
            assert isinstance(error, ConfigurationError), error
            assert "x-max-priority" in error.message
            assert await app.queue.get_job("refused") is None
    finally:
        await asyncio.to_thread(_delete, amqp_url, queue)


async def test_a_single_enqueue_records_and_publishes_on_one_publishing_thread(
    rabbitmq_app: AppFactory, amqp_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = rabbitmq_app(registry)
    queue = app.config.backend.queue_name
    try:
        async with app:
            engine: Any = app.queue.backend.engine
            probe = PublishProbe(monkeypatch, engine._publisher, engine.ledger)
            job_id = (await app.queue.enqueue(add(1, 2))).unwrap()
            probe.assert_one_hop_and_no_loop_record()
            info = await app.queue.get_job(job_id)
            assert info is not None
            assert info.status.value == "pending"
        assert len(await asyncio.to_thread(_queue_messages, amqp_url, queue)) == 1
    finally:
        await asyncio.to_thread(_delete, amqp_url, queue)


def _declare_plain(amqp_url: str, queue: str) -> None:
    """``queue`` as plain Dramatiq declares it, without priorities: the engine's declare is refused."""
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        arguments = {"x-dead-letter-exchange": "", "x-dead-letter-routing-key": f"{queue}.XQ"}
        connection.channel().queue_declare(queue=queue, durable=True, arguments=arguments)
    finally:
        connection.close()


async def test_concurrent_single_enqueues_are_grouped_and_each_caller_gets_its_own_outcome(
    rabbitmq_app: AppFactory, amqp_url: str
) -> None:
    from lexigram_compat import ConfigurationError

    app = rabbitmq_app(registry)
    queue = app.config.backend.queue_name
    refused = f"{queue}-plain"
    await asyncio.to_thread(_declare_plain, amqp_url, refused)
    try:
        async with app:
            engine: Any = app.queue.backend.engine
            calls = [add(i, 3).options(job_id=f"good{i}") for i in range(30)]
            calls.insert(15, add(0, 0).options(job_id="refused", queue=refused))
            results = await asyncio.gather(*(app.queue.enqueue(c) for c in calls))
            groups = engine._group.groups
            assert groups < len(calls), "callers waiting at once share a record write and a confirm wait"
            assert engine._pipelined.stats.confirm_waits <= groups
            error = results.pop(15).unwrap_err()
            assert isinstance(error, ConfigurationError), error
            assert await app.queue.get_job("refused") is None
            assert [r.unwrap() for r in results] == [f"good{i}" for i in range(30)]
            infos = [await app.queue.get_job(f"good{i}") for i in range(30)]
            assert all(info is not None and info.status.value == "pending" for info in infos)
        assert len(await asyncio.to_thread(_queue_messages, amqp_url, queue)) == 30
    finally:
        await asyncio.to_thread(_delete, amqp_url, queue)
        await asyncio.to_thread(_delete, amqp_url, refused)
