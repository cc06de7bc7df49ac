"""The Dramatiq engine's own behaviour: broker building, message ids, errors,
retention, refusals without a state store, and the schedulers' guard.

The conformance suite runs every job through the real ``dramatiq`` CLI on both
brokers (bad input, SIGKILL recovery, retries, dead letters); these tests check
what is specific to this engine, mostly without a worker.
"""

from __future__ import annotations

import asyncio
import logging
import subprocess
from datetime import UTC, datetime, timedelta

import dramatiq
import pika  # type: ignore[import-untyped]
import pytest
import redis.asyncio
from dramatiq import Message
from dramatiq.broker import MessageProxy
from dramatiq.errors import ActorNotFound
from dramatiq.middleware import AsyncIO, CurrentMessage, Retries, TimeLimit

from lexigram_compat import (
    BrokerUnavailableError,
    ConfigurationError,
    TaskRegistry,
    TasksApp,
    UnsupportedOptionError,
    scheduled,
    task,
)
from lexigram_compat.adapters.dramatiq import DramatiqEngine, StatelessRabbitmqEngine
from lexigram_compat.adapters.dramatiq.dead_letters import DeadLetterWriter
from lexigram_compat.adapters.dramatiq.messages import META_OPTION, message_of
from lexigram_compat.adapters.dramatiq.middleware import LexigramMiddleware
from lexigram_compat.adapters.publishing import PIPELINED_RUN
from lexigram_compat.envelope import JobEnvelope
from lexigram_compat.ledger import Delivery
from lexigram_compat.letters import dead_letter_of
from lexigram_compat.outcomes import FailureInfo
from lexigram_compat.queue import JobStatus
from lexigram_compat.scheduling import Scheduler

from .conftest import AppFactory

registry = TaskRegistry()


@task(name="dq.add", registry=registry)
async def add(a: int, b: int) -> int:
    return a + b


@task(name="dq.reports", registry=registry, queue="dq-reports")
def build_report(report_id: int) -> None:
    return None


schedules = TaskRegistry()


@scheduled("*/5 * * * *", name="dq.every_five", timezone="UTC", registry=schedules)
async def every_five() -> None:
    return None


def as_bytes(value: object) -> bytes:
    assert isinstance(value, bytes), value
    return value


def engine_of(app: object) -> DramatiqEngine:
    engine = app.queue.backend.engine  # type: ignore[attr-defined]
    assert isinstance(engine, DramatiqEngine)
    return engine


# -- the broker, built with the app ------------------------------------------------------
def test_building_the_app_declares_real_actors_on_a_broker_with_all_middleware(
    redis_app: AppFactory,
) -> None:
    app = redis_app(registry)

    broker = app.native
    assert dramatiq.get_broker() is broker
    assert set(broker.get_declared_actors()) == {"dq.add", "dq.reports"}
    assert broker.get_actor("dq.reports").queue_name == "dq-reports"
    kinds = {type(m) for m in broker.middleware}
    assert {AsyncIO, CurrentMessage} <= kinds
    # The facade's retry policy and timeouts replace these (no double policy).
    assert not kinds & {Retries, TimeLimit}


def test_settings_map_onto_dramatiq(redis_app: AppFactory, rabbitmq_app: AppFactory) -> None:
    section = {
        "worker": {"lease_seconds": 1.5, "worker_count": 3, "max_concurrent_tasks": 7, "shutdown_timeout": 2},
        "retention": {"dead_letter_seconds": 60},
    }
    app = redis_app(registry, **section)
    broker = app.native
    assert (broker.heartbeat_timeout, broker.dead_message_ttl) == (1500, 60_000)
    argv = engine_of(app).native_worker_argv("proj.jobs:app", queues=None, processes=None, concurrency=None)
    assert argv is not None
    assert argv[1:4] == ["-m", "dramatiq", "proj.jobs"]
    assert argv[argv.index("--processes") + 1] == "3"
    assert argv[argv.index("--threads") + 1] == "7"
    explicit = engine_of(app).native_worker_argv(
        "proj.jobs:app", queues=["a", "b"], processes=1, concurrency=2
    )
    assert explicit is not None
    assert explicit[explicit.index("--processes") + 1 :][:1] == ["1"]
    assert explicit[-3:] == ["--queues", "a", "b"]
    assert rabbitmq_app(registry, **section).native.dead_message_ttl == 60_000
    assert rabbitmq_app(registry).native.dead_message_ttl is None  # kept until purged


def test_redis_workers_heartbeat_every_heartbeat_interval(redis_app: AppFactory) -> None:
    # The period of each worker's heartbeat and forced maintenance pass (crash recovery).
    default = engine_of(redis_app(registry, worker={"lease_seconds": 1.5})).settings
    assert default.heartbeat_interval == 0.5
    chosen = redis_app(registry, worker={"lease_seconds": 3, "heartbeat_interval": 0.25})
    assert engine_of(chosen).settings.heartbeat_interval == 0.25


def test_the_settings_repr_shows_no_url(redis_app: AppFactory, redis_url: str) -> None:
    secret = redis_url.replace("redis://", "redis://:hunter2@", 1)
    settings = engine_of(redis_app(registry, backend={"type": "redis", "redis_url": secret})).settings
    assert "hunter2" not in repr(settings)
    assert settings.url == secret


def test_bad_engine_settings_are_refused_naming_the_value(
    redis_app: AppFactory, rabbitmq_app: AppFactory
) -> None:
    with pytest.raises(ConfigurationError, match="unknown keys \\['namspace'\\]"):
        redis_app(registry, extra={"dramatiq": {"namspace": "x"}})
    with pytest.raises(ConfigurationError, match="maintenance_chance=0"):
        redis_app(registry, extra={"dramatiq": {"maintenance_chance": 0}})
    with pytest.raises(ConfigurationError, match="dead_letter_seconds=1e\\+07 is over RabbitMQ"):
        rabbitmq_app(registry, retention={"dead_letter_seconds": 10_000_000})


async def test_the_dead_letter_ttl_is_reported_at_start(
    redis_app: AppFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="lexigram_compat.dramatiq")
    async with redis_app(registry, retention={"dead_letter_seconds": 60}):
        pass
    async with redis_app(registry):
        pass
    assert "dead letters kept 60s (retention.dead_letter_seconds)" in caplog.text
    assert "dead letters kept until purged" in caplog.text


# -- producing --------------------------------------------------------------------------
async def test_the_job_id_is_the_dramatiq_message_id(redis_app: AppFactory, namespace: str) -> None:
    async with redis_app(registry) as app:
        job_id = (await app.queue.enqueue(add(2, 3))).unwrap()
        client = redis.asyncio.Redis.from_url(engine_of(app).settings.url)
        [raw] = await client.hvals(f"{namespace}:tasks.msgs")
        await client.aclose()
    message = Message.decode(as_bytes(raw))
    assert (message.message_id, message.actor_name, message.args) == (job_id, "dq.add", (2, 3))
    assert message.options[META_OPTION]["max_attempts"] == app.default_policy.max_attempts


async def test_an_unreachable_redis_is_err_without_the_password(redis_app: AppFactory) -> None:
    app = redis_app(registry, backend={"type": "redis", "redis_url": "redis://:hunter2@127.0.0.1:1/3"})
    async with app:
        error = (await app.queue.enqueue(add(1, 2))).unwrap_err()
    assert isinstance(error, BrokerUnavailableError)
    assert "hunter2" not in str(error)


async def test_an_unreachable_rabbitmq_is_err_and_leaves_no_record(
    rabbitmq_app: AppFactory, redis_url: str
) -> None:
    down = {"type": "amqp", "amqp_url": "amqp://guest:hunter2@127.0.0.1:1/%2f", "state_url": redis_url}
    app = rabbitmq_app(registry, backend=down)
    async with app:
        error = (await app.queue.enqueue(add(1, 2), job_id="never-published")).unwrap_err()
        assert isinstance(error, BrokerUnavailableError)
        assert "hunter2" not in str(error)
        # Not reported Ok, and not recorded either.
        assert await app.queue.get_job("never-published") is None


async def test_rabbitmq_publishes_with_confirms(rabbitmq_app: AppFactory, amqp_url: str) -> None:
    app = rabbitmq_app(registry)
    assert app.native.confirm_delivery is True
    queue = app.config.backend.queue_name
    async with app:
        (await app.queue.enqueue(add(1, 2))).unwrap()

        def drop_queue() -> None:
            connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
            connection.channel().queue_delete(queue=queue)
            connection.close()

        # Without confirms this publish would vanish unnoticed (no queue to route
        # to); with them, the broker's "unroutable" answer makes it redeclare
        # the queue and publish again.
        await asyncio.to_thread(drop_queue)
        (await app.queue.enqueue(add(3, 4))).unwrap()

        def ready() -> int:
            connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
            count = connection.channel().queue_declare(queue=queue, passive=True).method.message_count
            connection.close()
            return int(count)

        assert await asyncio.to_thread(ready) == 1


async def test_a_changed_dead_letter_ttl_on_an_existing_rabbitmq_queue_is_a_configuration_error(
    rabbitmq_app: AppFactory,
) -> None:
    async with rabbitmq_app(registry, retention={"dead_letter_seconds": 60}) as app:
        (await app.queue.enqueue(add(1, 2))).unwrap()
    async with rabbitmq_app(registry, retention={"dead_letter_seconds": 120}) as changed:
        error = (await changed.queue.enqueue(add(1, 2), job_id="refused")).unwrap_err()
        assert isinstance(error, ConfigurationError), error
        assert "retention.dead_letter_seconds" in error.message
        assert ".XQ" in error.message  # the queue to delete is named
        assert await changed.queue.get_job("refused") is None


async def test_a_failed_enqueue_many_on_rabbitmq_withdraws_the_jobs_it_published(
    rabbitmq_app: AppFactory, amqp_url: str
) -> None:
    # The named queue's .XQ exists with another TTL: publishing to that queue fails.
    def redeclare(ttl: int | None) -> None:
        connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
        try:
            channel = connection.channel()
            for name in ("dq-reports", "dq-reports.DQ", "dq-reports.XQ"):
                channel.queue_delete(queue=name)
            if ttl is not None:
                channel.queue_declare(queue="dq-reports.XQ", durable=True, arguments={"x-message-ttl": ttl})
        finally:
            connection.close()

    await asyncio.to_thread(redeclare, 1234)
    try:
        async with rabbitmq_app(registry) as app:
            # Two pipelined runs (jobs i::2): the refused declare fails the second before any
            # of it is published; the first is published, confirmed, then withdrawn.
            good = [add(i, 2).options(job_id=f"good{i}") for i in range(PIPELINED_RUN + 10)]
            calls = [good[0], build_report(7).options(job_id="refused"), *good[1:]]
            assert isinstance((await app.queue.enqueue_many(calls)).unwrap_err(), ConfigurationError)
            infos = [await app.queue.get_job(f"good{i}") for i in range(len(good))]
            assert all(i is None or i.status is JobStatus.CANCELLED for i in infos), infos
            # Their messages stay, but no worker runs them.
            assert any(i is not None for i in infos), "the jobs the call had published are withdrawn"
            assert await app.queue.get_job("refused") is None
    finally:
        await asyncio.to_thread(redeclare, None)


# -- RabbitMQ without a state store ------------------------------------------------------
async def test_rabbitmq_without_a_state_store_refuses_what_needs_one(rabbitmq_app: AppFactory) -> None:
    app = rabbitmq_app(registry, state=False)
    engine = app.queue.backend.engine
    assert isinstance(engine, StatelessRabbitmqEngine)
    caps = engine.capabilities
    assert (caps.job_status, caps.cancel, caps.idempotency_keys, caps.results) == (False,) * 4
    async with app:
        job_id = (await app.queue.enqueue(add(1, 2))).unwrap()
        assert isinstance((await app.queue.cancel(job_id)).unwrap_err(), UnsupportedOptionError)
        keyed = (await app.queue.enqueue(add(1, 2), idempotency_key="k")).unwrap_err()
        assert isinstance(keyed, UnsupportedOptionError)
        assert "idempotency keys are not supported" in keyed.message
        assert await app.queue.get_job(job_id) is None
        assert await app.queue.count() == 1  # the broker's own count still works


async def test_a_second_scheduler_is_refused_on_rabbitmq_without_a_state_store(
    rabbitmq_app: AppFactory,
) -> None:
    start = datetime(2031, 3, 1, 0, 1, tzinfo=UTC)
    async with rabbitmq_app(schedules, state=False) as first, rabbitmq_app(schedules, state=False) as second:
        fired = await Scheduler(first, start=start).tick(start + timedelta(minutes=10))
        assert len(fired) == 2
        [schedule] = schedules.schedules()
        refused = (await second.enqueue_fire_time(schedule, start + timedelta(minutes=14))).unwrap_err()
        assert isinstance(refused, ConfigurationError)
        assert "another scheduler already fires" in refused.message
        assert await Scheduler(second, start=start).tick(start + timedelta(minutes=10)) == []
        assert await first.queue.count() == 2


def _close_connections_named(name: str) -> int:
    """Close, broker side, the RabbitMQ connections whose connection_name contains ``name``."""
    listing = subprocess.run(
        ["rabbitmqctl", "-q", "list_connections", "pid", "client_properties"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    pids = [line.split("\t", 1)[0] for line in listing.splitlines() if name in line]
    for pid in pids:
        argv = ["rabbitmqctl", "-q", "close_connection", pid, "closed by a lexigram test"]
        subprocess.run(argv, check=True, capture_output=True, timeout=60)
    return len(pids)


async def test_a_scheduler_lock_the_broker_closed_is_lost_and_another_may_take_it(
    rabbitmq_app: AppFactory,
) -> None:
    async with rabbitmq_app(schedules, state=False) as first, rabbitmq_app(schedules, state=False) as second:
        one, two = engine_of(first), engine_of(second)
        assert isinstance(one, StatelessRabbitmqEngine)
        assert await one.may_schedule()
        assert not await two.may_schedule()
        assert await asyncio.to_thread(_close_connections_named, one.scheduler_lock_queue) == 1

        async def second_holds_it() -> bool:
            return await two.may_schedule()

        for _ in range(100):  # the broker drops the exclusive queue with its connection
            if await second_holds_it():
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the second scheduler never took the freed lock")
        assert not await one.may_schedule()  # checked with a round trip: not held any more
    # Both closed cleanly (close() of a lock the broker closed raises nothing).


async def test_several_schedulers_on_redis_enqueue_one_job_per_fire_time(redis_app: AppFactory) -> None:
    start = datetime(2031, 3, 2, 0, 1, tzinfo=UTC)
    apps = [redis_app(schedules) for _ in range(3)]
    for app in apps:
        await app.start()
    try:
        ticks = await asyncio.gather(
            *(Scheduler(app, start=start).tick(start + timedelta(minutes=16)) for app in apps)
        )
        assert all(len(ids) == 3 for ids in ticks)
        assert len({job_id for ids in ticks for job_id in ids}) == 3
        assert await apps[0].queue.count() == 3
    finally:
        for app in apps:
            await app.close()


async def test_a_fire_time_is_enqueued_once_even_after_its_job_record_expired(
    redis_app: AppFactory,
) -> None:
    start = datetime(2031, 3, 2, 0, 1, tzinfo=UTC)
    first, second = (redis_app(schedules, retention={"completed_seconds": 0}) for _ in range(2))
    async with first, second:
        [job_id] = await Scheduler(first, start=start).tick(start + timedelta(minutes=5))
        ledger = engine_of(first).ledger
        assert ledger is not None
        envelope = JobEnvelope(job_id=job_id, task_name="dq.every_five", queue="tasks")
        assert (await ledger.start(Delivery(job_id), envelope)).run
        assert await ledger.complete(Delivery(job_id), None)
        assert await first.queue.get_job(job_id) is None  # finished and forgotten at once

        # A scheduler ticking the same fire time later enqueues nothing.
        await Scheduler(second, start=start).tick(start + timedelta(minutes=5))
        assert await second.queue.count() == 0
        assert await second.queue.get_job(job_id) is None


async def test_a_cancelled_job_is_not_started_once_its_record_expired(redis_app: AppFactory) -> None:
    async with redis_app(registry, retention={"completed_seconds": 0}) as app:
        job_id = (await app.queue.enqueue(add(1, 2), delay=60)).unwrap()
        assert (await app.queue.cancel(job_id)).unwrap() is True
        assert await app.queue.get_job(job_id) is None  # the record went at once
        ledger = engine_of(app).ledger
        assert ledger is not None
        # Its message is still on the broker: when a worker gets it, it is refused.
        envelope = JobEnvelope(job_id=job_id, task_name="dq.add", queue="tasks", args=[1, 2])
        verdict = await ledger.start(Delivery(job_id), envelope)
        assert (verdict.run, verdict.status) == (False, JobStatus.CANCELLED)
        assert await app.queue.get_job(job_id) is None


async def test_a_cleared_job_is_not_started_when_its_message_arrives(redis_app: AppFactory) -> None:
    async with redis_app(registry) as app:
        job_id = (await app.queue.enqueue(add(1, 2), delay=60)).unwrap()
        assert await app.queue.clear() == 1
        ledger = engine_of(app).ledger
        assert ledger is not None
        envelope = JobEnvelope(job_id=job_id, task_name="dq.add", queue="tasks", args=[1, 2])
        verdict = await ledger.start(Delivery(job_id), envelope)
        assert (verdict.run, verdict.status) == (False, JobStatus.CANCELLED)
        # A job the ledger never knew (pushed by other code) still runs.
        other = JobEnvelope(job_id="pushed-elsewhere", task_name="dq.add", queue="tasks", args=[1, 2])
        assert (await ledger.start(Delivery(other.job_id), other)).run


# -- dead letters --------------------------------------------------------------------------
def _write_dead_letter(app: TasksApp, attempts: int, error: str) -> None:
    """What the worker does with a job that failed for good: its message to ``tasks.XQ``."""
    envelope = JobEnvelope(job_id="dead-1", task_name="dq.add", queue="tasks", args=[1, 2], attempts=attempts)
    failure = FailureInfo("RuntimeError", error)
    writer = DeadLetterWriter(app.native, "redis")
    writer.write(message_of(envelope), dead_letter_of(envelope, failure), failure)


async def test_replaying_an_xq_letter_enqueues_a_fresh_message_with_attempts_reset(
    redis_app: AppFactory, namespace: str
) -> None:
    async with redis_app(registry) as app:
        await asyncio.to_thread(_write_dead_letter, app, 3, "boom")
        [letter] = await app.dead_letters.list()
        assert (letter.job_id, letter.attempts, letter.error_message) == ("dead-1", 3, "boom")

        new_id = (await app.dead_letters.replay("dead-1")).unwrap()

        assert await app.dead_letters.count() == 0
        client = redis.asyncio.Redis.from_url(engine_of(app).settings.url)
        [raw] = await client.hvals(f"{namespace}:tasks.msgs")
        await client.aclose()
        replayed = Message.decode(as_bytes(raw))
        assert replayed.message_id == new_id
        assert replayed.options[META_OPTION]["attempts"] == 0
        assert "lexigram_failure" not in replayed.options
        info = await app.queue.get_job(new_id)
        assert info is not None
        assert info.attempts == 0


async def test_dead_letters_past_their_ttl_are_dropped_and_logged(
    redis_app: AppFactory, namespace: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with redis_app(registry, retention={"dead_letter_seconds": 60}) as app:
        await asyncio.to_thread(_write_dead_letter, app, 1, "old")
        client = redis.asyncio.Redis.from_url(engine_of(app).settings.url)
        [rid] = [as_bytes(r).decode() for r in await client.zrange(f"{namespace}:tasks.XQ", 0, -1)]
        two_minutes_ago = (datetime.now(UTC) - timedelta(minutes=2)).timestamp() * 1000
        await client.zadd(f"{namespace}:tasks.XQ", {rid: two_minutes_ago})
        await client.aclose()

        assert await app.dead_letters.count() == 0

    assert "dropped 1 dead letter(s) older than retention.dead_letter_seconds=60" in caplog.text


# -- nacks -----------------------------------------------------------------------------------
async def test_a_nack_is_recorded_as_task_not_found_only_when_the_actor_was_unknown(
    redis_app: AppFactory,
) -> None:
    async with redis_app(registry) as app:
        ledger = engine_of(app).ledger
        assert ledger is not None
        [middleware] = [m for m in app.native.middleware if isinstance(m, LexigramMiddleware)]
        ids = []
        unknown_actor = ActorNotFound("dq.gone")  # type: ignore[no-untyped-call]
        for error in (unknown_actor, ConnectionError("consumer lost")):
            job_id = (await app.queue.enqueue(add(1, 2))).unwrap()
            envelope = JobEnvelope(job_id=job_id, task_name="dq.add", queue="tasks", args=[1, 2])
            assert (await ledger.start(Delivery(job_id), envelope)).run
            # What Dramatiq's worker hands its nack middleware.
            proxy = MessageProxy(message_of(envelope))
            proxy.fail()
            proxy.stuff_exception(error)
            await asyncio.to_thread(middleware.after_nack, app.native, proxy)
            ids.append(job_id)
        unknown, other = [await app.queue.get_job(job_id) for job_id in ids]
    assert unknown is not None
    assert other is not None
    assert (unknown.status, other.status) == (JobStatus.FAILED, JobStatus.FAILED)
    assert (unknown.last_error or "").startswith("lexigram_compat.errors.TaskNotFoundError: no task named")
    assert other.last_error == "ConnectionError: consumer lost"
