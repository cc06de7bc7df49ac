"""Celery on RabbitMQ: the publishes of one enqueue_many (and of concurrent
producers) are confirmed at once, and a failed one withdraws the rest."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from lexigram_compat import BrokerUnavailableError, JobStatus, TaskRegistry, TasksApp, task
from lexigram_compat.adapters.publishing import PIPELINED_RUN
from tests.publish_probe import PublishProbe

from .conftest import Broker

registry = TaskRegistry()


@task(name="cpub.add", registry=registry)
async def add(a: int, b: int) -> int:
    return a + b


def _app(broker: Broker) -> TasksApp:
    return TasksApp.from_dict({"tasks": broker.section()}, environ={}, registry=registry)


def _with_channel(app: TasksApp, action: Any) -> Any:
    with app.native.connection_for_write() as conn:
        return action(conn.default_channel)


@pytest.mark.parametrize("broker", ["amqp"], indirect=True)
async def test_enqueue_many_and_concurrent_producers_publish_every_job_once(broker: Broker) -> None:
    app = _app(broker)
    try:
        async with app:
            many = (await app.queue.enqueue_many([add(i, 1) for i in range(40)])).unwrap()
            single = await asyncio.gather(*(app.queue.enqueue(add(i, 2)) for i in range(40)))
            ids = [*many, *(r.unwrap() for r in single)]
            assert len(set(ids)) == 80
            for job_id in ids:
                info = await app.queue.get_job(job_id)
                assert info is not None
                assert info.status is JobStatus.PENDING
            ready = _with_channel(app, lambda ch: ch.queue_declare(broker.queue, passive=True)[1])
            assert ready == 80
    finally:
        _with_channel(app, lambda ch: ch.queue_delete(broker.queue))


@pytest.mark.parametrize("broker", ["amqp"], indirect=True)
async def test_a_failed_publish_in_enqueue_many_withdraws_the_jobs_it_published(broker: Broker) -> None:
    app = _app(broker)
    refused = f"{broker.queue}-refused"
    # A queue RabbitMQ holds with other arguments than the engine declares it with:
    # publishing to it fails (PRECONDITION_FAILED on the declare).
    _with_channel(app, lambda ch: ch.queue_declare(refused, durable=True, arguments={"x-max-length": 3}))
    try:
        async with app:
            # Two pipelined runs (jobs i::2): the refused declare fails the second before
            # any of it is published; the first is published, confirmed, then withdrawn.
            good = [add(i, 2).options(job_id=f"good{i}") for i in range(PIPELINED_RUN + 10)]
            calls = [good[0], add(3, 4).options(job_id="refused", queue=refused), *good[1:]]
            error = (await app.queue.enqueue_many(calls)).unwrap_err()
            assert isinstance(error, BrokerUnavailableError), error
            assert await app.queue.get_job("refused") is None
            infos = [await app.queue.get_job(f"good{i}") for i in range(len(good))]
            cancelled = [i for i in infos if i is not None and i.status is JobStatus.CANCELLED]
            assert all(i is None or i.status is JobStatus.CANCELLED for i in infos), infos
            assert cancelled, "the jobs the call had published are withdrawn, not undone"
            ready = _with_channel(app, lambda ch: ch.queue_declare(broker.queue, passive=True)[1])
            assert ready == len(cancelled)
    finally:
        for name in (broker.queue, refused):
            _with_channel(app, lambda ch, n=name: ch.queue_delete(n))


@pytest.mark.parametrize("broker", ["amqp"], indirect=True)
async def test_after_a_fork_the_engine_publishes_on_threads_of_its_own(broker: Broker) -> None:
    # A forked process (a prefork child) inherits the executor but not its threads:
    # one it counted idle would never run a publish. forget_connections drops it.
    app = _app(broker)
    try:
        async with app:
            engine: Any = app.queue.backend.engine
            (await app.queue.enqueue_many([add(1, 1), add(2, 2)])).unwrap()
            inherited = engine._publishers
        engine.forget_connections()  # what the Celery worker does in a forked child
        async with app:
            assert engine._publishers is not inherited
            assert len((await app.queue.enqueue_many([add(3, 3), add(4, 4)])).unwrap()) == 2
    finally:
        _with_channel(app, lambda ch: ch.queue_delete(broker.queue))


@pytest.mark.parametrize("broker", ["amqp"], indirect=True)
async def test_a_single_enqueue_records_and_publishes_on_one_publishing_thread(
    broker: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = _app(broker)
    refused = f"{broker.queue}-refused"
    _with_channel(app, lambda ch: ch.queue_declare(refused, durable=True, arguments={"x-max-length": 3}))
    try:
        async with app:
            engine: Any = app.queue.backend.engine
            probe = PublishProbe(monkeypatch, engine._publishers, engine.ledger)
            job_id = (await app.queue.enqueue(add(1, 2))).unwrap()
            probe.assert_one_hop_and_no_loop_record()
            info = await app.queue.get_job(job_id)
            assert info is not None
            assert info.status is JobStatus.PENDING
            assert _with_channel(app, lambda ch: ch.queue_declare(broker.queue, passive=True)[1]) == 1
            # A failed publish: an Err, and the record it wrote undone.
            error = (await app.queue.enqueue(add(3, 4).options(job_id="refused", queue=refused))).unwrap_err()
            assert isinstance(error, BrokerUnavailableError), error
            assert await app.queue.get_job("refused") is None
    finally:
        for name in (broker.queue, refused):
            _with_channel(app, lambda ch, n=name: ch.queue_delete(n))


@pytest.mark.parametrize("broker", ["amqp"], indirect=True)
async def test_concurrent_single_enqueues_are_grouped_and_each_caller_gets_its_own_outcome(
    broker: Broker,
) -> None:
    app = _app(broker)
    refused = f"{broker.queue}-refused"
    _with_channel(app, lambda ch: ch.queue_declare(refused, durable=True, arguments={"x-max-length": 3}))
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
            assert isinstance(error, BrokerUnavailableError), error
            assert await app.queue.get_job("refused") is None
            assert [r.unwrap() for r in results] == [f"good{i}" for i in range(30)]
            for i in range(30):
                info = await app.queue.get_job(f"good{i}")
                assert info is not None
                assert info.status is JobStatus.PENDING
            assert _with_channel(app, lambda ch: ch.queue_declare(broker.queue, passive=True)[1]) == 30
    finally:
        for name in (broker.queue, refused):
            _with_channel(app, lambda ch, n=name: ch.queue_delete(n))
