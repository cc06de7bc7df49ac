"""Celery on RabbitMQ: ``enqueue_many`` publishes a run without waiting and waits once
for all its confirms (.confirms), and a nack or a connection lost mid-run makes the call
an Err with nothing left to run but what it withdrew. A real RabbitMQ, no mocks."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from kombu import Exchange, Queue

from lexigram_compat import BrokerUnavailableError, JobStatus, TaskRegistry, TasksApp, task
from lexigram_compat.adapters.publishing import PIPELINED_RUN, PUBLISH_THREADS

from .conftest import Broker

registry = TaskRegistry()


@task(name="cpipe.add", registry=registry)
async def add(a: int, b: int) -> int:
    return a + b


def _app(broker: Broker, **settings: Any) -> TasksApp:
    section = broker.section()
    section["extra"]["celery"]["settings"] = settings
    return TasksApp.from_dict({"tasks": section}, environ={}, registry=registry)


def _with_channel(app: TasksApp, action: Any) -> Any:
    with app.native.connection_for_write() as conn:
        return action(conn.default_channel)


def _depth(app: TasksApp, queue: str) -> int:
    return int(_with_channel(app, lambda ch: ch.queue_declare(queue, passive=True)[1]))


@pytest.mark.parametrize("broker", ["amqp"], indirect=True)
async def test_enqueue_many_waits_once_per_run_for_its_confirms(broker: Broker) -> None:
    app = _app(broker)
    try:
        async with app:
            engine: Any = app.queue.backend.engine
            stats = engine._pipelined.stats
            ids = (await app.queue.enqueue_many([add(i, 1) for i in range(120)])).unwrap()
            runs = min(PUBLISH_THREADS, -(-120 // PIPELINED_RUN))
            assert stats.confirm_waits == runs, "120 jobs: a confirm wait per run, not per job"
            opened = stats.channels_opened
            assert opened <= runs
            ids += (await app.queue.enqueue_many([add(i, 2) for i in range(120)])).unwrap()
            assert stats.confirm_waits == 2 * runs
            assert len(set(ids)) == 240
            for job_id in ids[::37]:
                info = await app.queue.get_job(job_id)
                assert info is not None
                assert info.status is JobStatus.PENDING
            assert _depth(app, broker.queue) == 240
    finally:
        _with_channel(app, lambda ch: ch.queue_delete(broker.queue))


@pytest.mark.parametrize("broker", ["amqp"], indirect=True)
async def test_a_pipelined_message_is_the_message_a_single_enqueue_sends(broker: Broker) -> None:
    app = _app(broker)
    try:
        async with app:
            (await app.queue.enqueue(add(1, 2).options(job_id="single", headers={"h": "1"}))).unwrap()
            calls = [add(1, 2).options(job_id="many", headers={"h": "1"}), add(5, 6)]
            (await app.queue.enqueue_many(calls)).unwrap()

        def fetch(ch: Any) -> list[Any]:
            return [ch.basic_get(broker.queue, no_ack=True) for _ in range(3)]

        single, many, _ = _with_channel(app, fetch)
        assert many.body == single.body
        ids = {"id": "many", "root_id": "many"}
        assert many.headers == single.headers | ids
        # Every property: content type and encoding, delivery mode, priority, reply_to...
        assert many.properties == single.properties | {
            "correlation_id": "many",
            "application_headers": single.headers | ids,
        }
        assert many.delivery_info["routing_key"] == single.delivery_info["routing_key"] == broker.queue
    finally:
        _with_channel(app, lambda ch: ch.queue_delete(broker.queue))


@pytest.mark.parametrize("broker", ["amqp"], indirect=True)
async def test_nacked_publishes_make_the_call_an_err_and_withdraw_the_acked_ones(broker: Broker) -> None:
    full = f"{broker.queue}-full"
    # The broker itself refuses publishes beyond 3 messages: basic.nack for each.
    arguments = {"x-max-length": 3, "x-overflow": "reject-publish"}
    limited = Queue(full, Exchange(full), routing_key=full, queue_arguments=arguments)
    app = _app(broker, task_queues=[limited])
    try:
        async with app:
            engine: Any = app.queue.backend.engine
            calls = [add(i, 1).options(job_id=f"j{i}", queue=full) for i in range(8)]
            error = (await app.queue.enqueue_many(calls)).unwrap_err()
            assert isinstance(error, BrokerUnavailableError), error
            assert "refused" in str(error)
            assert engine._pipelined.stats.confirm_waits == 1
            statuses = [await app.queue.get_job(f"j{i}") for i in range(8)]
            # The 3 the broker took were withdrawn (workers refuse them); the 5 it refused are undone.
            assert [s.status if s else None for s in statuses] == [JobStatus.CANCELLED] * 3 + [None] * 5
            assert _depth(app, full) == 3
            # The channel got every confirm (nacks included): kept for the next call.
            _with_channel(app, lambda ch: ch.queue_purge(full))
            ids = (await app.queue.enqueue_many([add(i, 2).options(queue=full) for i in range(3)])).unwrap()
            assert len(ids) == 3
    finally:
        for name in (broker.queue, full):
            _with_channel(app, lambda ch, n=name: ch.queue_delete(n))


@pytest.mark.parametrize("broker", ["amqp"], indirect=True)
async def test_a_connection_lost_mid_run_makes_the_call_an_err_and_the_next_call_publishes(
    broker: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = _app(broker)
    try:
        async with app:
            engine: Any = app.queue.backend.engine
            publish = engine.publish_message
            sent: list[str] = []

            def cut_after_four(envelope: Any, producer: Any = None) -> None:
                if len(sent) == 4 and producer is not None:
                    producer.channel.connection.transport.sock.shutdown(socket.SHUT_RDWR)
                sent.append(envelope.job_id)
                publish(envelope, producer)

            monkeypatch.setattr(engine, "publish_message", cut_after_four)
            calls = [add(i, 1).options(job_id=f"c{i}") for i in range(10)]
            error = (await app.queue.enqueue_many(calls)).unwrap_err()
            assert isinstance(error, BrokerUnavailableError), error
            infos = [await app.queue.get_job(f"c{i}") for i in range(10)]
            # Acked before the cut: withdrawn; the rest: undone. Nothing is left to run.
            assert all(i is None or i.status is JobStatus.CANCELLED for i in infos), infos
            assert all(i is None for i in infos[4:])
            monkeypatch.setattr(engine, "publish_message", publish)
            assert engine._pipelined.stats.channels_opened == 1
            ids = (await app.queue.enqueue_many([add(i, 2) for i in range(10)])).unwrap()
            # The channel that was owed confirms was not used again: a new one published.
            assert engine._pipelined.stats.channels_opened == 2
            for job_id in ids:
                info = await app.queue.get_job(job_id)
                assert info is not None
                assert info.status is JobStatus.PENDING
    finally:
        _with_channel(app, lambda ch: ch.queue_delete(broker.queue))
