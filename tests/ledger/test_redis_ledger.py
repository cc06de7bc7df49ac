"""The Redis job ledger (``adapters/redis_ledger.py`` and its Lua script), operation
by operation, against the real Redis: what Dramatiq and Celery both rely on."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import pytest
import redis
import redis.asyncio

from lexigram_compat.adapters.redis_effects import RedisReserve
from lexigram_compat.adapters.redis_ledger import RedisAck, RedisLedger, RedisLedgerCalls, RedisPush
from lexigram_compat.envelope import JobEnvelope
from lexigram_compat.ledger import Delivery, fire_key
from lexigram_compat.outcomes import FailureInfo
from lexigram_compat.queue import JobStatus
from tests.services import Service

T = TypeVar("T")
FAILURE = FailureInfo("builtins.RuntimeError", "boom")


def ledger_of(client: redis.asyncio.Redis, prefix: str, **calls: float) -> RedisLedger:
    return RedisLedger(client, RedisLedgerCalls(prefix, **calls))


def job(job_id: str | None = None, **fields: object) -> JobEnvelope:
    values: dict[str, object] = {"max_attempts": 3, **fields}
    return JobEnvelope(job_id or uuid.uuid4().hex, "tests.task", "q", **values)  # type: ignore[arg-type]


async def test_create_records_a_job_once_and_reports_the_holder(
    client: redis.asyncio.Redis, prefix: str
) -> None:
    ledger = ledger_of(client, prefix)
    first = job("a")
    assert await ledger.create([first]) == [("a", True)]
    assert await ledger.create([first]) == [("a", False)], "the same id is not created twice"
    info = await ledger.get_job("a")
    assert info is not None
    assert (info.status, info.attempts, info.max_attempts, info.task_name) == (
        JobStatus.PENDING, 0, 3, "tests.task",
    )  # fmt: skip
    later = job("b", run_at=datetime.now(UTC) + timedelta(hours=1))
    await ledger.create([later])
    assert (await ledger.get_job("b")).status is JobStatus.SCHEDULED  # type: ignore[union-attr]


async def test_an_idempotency_key_belongs_to_the_live_job_only(
    client: redis.asyncio.Redis, prefix: str
) -> None:
    ledger = ledger_of(client, prefix, ttl=0)
    assert await ledger.create([job("a", unique_key="k")]) == [("a", True)]
    assert await ledger.create([job("b", unique_key="k")]) == [("a", False)]
    assert (await ledger.start(Delivery("a"), job("a"))).run
    assert await ledger.complete(Delivery("a"), None)
    # Finished with no retention: the record and its key are gone.
    assert await ledger.get_job("a") is None
    assert await ledger.create([job("c", unique_key="k")]) == [("c", True)]


async def test_a_fire_key_yields_one_job_even_after_the_record_expired(
    client: redis.asyncio.Redis, prefix: str
) -> None:
    ledger = ledger_of(client, prefix, ttl=0, fire_hold=60)
    key = fire_key("nightly", datetime(2031, 1, 1, tzinfo=UTC))
    assert await ledger.create([job("a", fire_key=key)]) == [("a", True)]
    assert (await ledger.start(Delivery("a"), job("a"))).run
    assert await ledger.complete(Delivery("a"), None)
    assert await ledger.get_job("a") is None
    assert await ledger.create([job("a", fire_key=key)]) == [("a", False)]
    assert await ledger.create([job("other", fire_key=key)]) == [("a", False)]
    ttl_ms = await client.pttl(f"{prefix}fire:{key}")
    assert 50_000 < ttl_ms <= 60_000, "the fire guard lives fire_hold seconds, apart from the record"


async def test_create_pushes_the_message_only_for_a_new_job(client: redis.asyncio.Redis, prefix: str) -> None:
    ledger = ledger_of(client, prefix)
    push = RedisPush(f"{prefix}list", "m1", hash_key=f"{prefix}msgs", hash_field="a", payload="body")
    assert await ledger.create([job("a")], publish=[push]) == [("a", True)]
    assert await ledger.create([job("a")], publish=[push]) == [("a", False)]
    assert await client.lrange(f"{prefix}list", 0, -1) == [b"m1"]
    assert await client.hget(f"{prefix}msgs", "a") == b"body"
    many = await ledger.create([job("b"), job("c")], publish=[None, push])
    assert many == [("b", True), ("c", True)]
    assert await client.llen(f"{prefix}list") == 2


async def test_create_sends_the_job_as_one_json_argument_and_keeps_every_field(
    client: redis.asyncio.Redis, prefix: str
) -> None:
    calls = RedisLedgerCalls(prefix)
    ledger = RedisLedger(client, calls)
    push = RedisPush(
        f"{prefix}list", b"\xff\x00item", hash_key=f"{prefix}msgs", hash_field="r1", payload=b"\x80body"
    )
    at = datetime.now(UTC) + timedelta(hours=1)
    envelope = JobEnvelope("é-1", "tests.tâche", "q-ü", max_attempts=3, run_at=at, unique_key="k", priority=7)
    call = calls.create(envelope, publish=push, token="t")
    # command, prefix, time, the job's JSON, then the payload and the list value as they are
    assert len(call.args) == 6, "redis-py packs each argument in Python: the record's fields travel as one"
    assert await ledger.run(call) == ("é-1", True)
    info = await ledger.get_job("é-1")
    assert info is not None
    expected = ("tests.tâche", "q-ü", JobStatus.SCHEDULED, 7, 3)
    assert (info.task_name, info.queue, info.status, info.priority, info.max_attempts) == expected
    assert info.run_at is not None
    assert abs((info.run_at - at).total_seconds()) < 1e-3
    assert await client.hget(f"{prefix}job:é-1", "create_token") == b"t"
    assert await client.hget(f"{prefix}msgs", "r1") == b"\x80body", "the payload's bytes, unchanged"
    assert await client.lrange(f"{prefix}list", 0, -1) == [b"\xff\x00item"]
    assert await ledger.create([job("other", unique_key="k")]) == [("é-1", False)]


async def test_start_counts_attempts_and_reports_a_lost_one(client: redis.asyncio.Redis, prefix: str) -> None:
    ledger = ledger_of(client, prefix)
    await ledger.create([job("a")])
    verdict = await ledger.start(Delivery("a"), job("a"))
    assert (verdict.run, verdict.attempt, verdict.max_attempts, verdict.lost) == (True, 1, 3, False)
    # Delivered again while the record says running: its worker died.
    again = await ledger.start(Delivery("a"), job("a"))
    assert (again.run, again.lost, again.attempt, again.status) == (False, True, 1, JobStatus.RUNNING)
    assert (await ledger.get_job("a")).status is JobStatus.RUNNING  # type: ignore[union-attr]
    assert await ledger.retry(Delivery("a"), datetime.now(UTC), FAILURE)
    # A message counting more attempts than the record (foreign retries) wins.
    counted = await ledger.start(Delivery("a"), job("a", attempts=4))
    assert (counted.run, counted.attempt) == (True, 5)


async def test_start_creates_the_record_of_a_job_sent_by_foreign_code(
    client: redis.asyncio.Redis, prefix: str
) -> None:
    ledger = ledger_of(client, prefix)
    verdict = await ledger.start(Delivery("x"), job("x", max_attempts=2))
    assert (verdict.run, verdict.attempt, verdict.max_attempts) == (True, 1, 2)
    info = await ledger.get_job("x")
    assert info is not None
    assert (info.status, info.task_name, info.queue) == (
        JobStatus.RUNNING,
        "tests.task",
        "q",
    )


async def test_start_refuses_a_finished_job(client: redis.asyncio.Redis, prefix: str) -> None:
    ledger = ledger_of(client, prefix)
    await ledger.create([job("a")])
    await ledger.start(Delivery("a"), job("a"))
    assert await ledger.complete(Delivery("a"), {"n": 1})
    verdict = await ledger.start(Delivery("a"), job("a"))
    assert (verdict.run, verdict.lost, verdict.status, verdict.attempt) == (
        False,
        False,
        JobStatus.COMPLETED,
        1,
    )
    assert not await ledger.complete(Delivery("a"), 2), "a finished job's outcome is not written twice"
    assert (await ledger.get_job("a")).result == {"n": 1}  # type: ignore[union-attr]


async def test_complete_acknowledges_a_delivery_in_the_same_step(
    client: redis.asyncio.Redis, prefix: str
) -> None:
    ledger = ledger_of(client, prefix)
    await ledger.create([job("a")])
    await ledger.start(Delivery("a"), job("a"))
    await client.sadd(f"{prefix}acks", "rid")
    await client.hset(f"{prefix}msgs", "rid", "body")
    ack = RedisAck(f"{prefix}acks", "rid", f"{prefix}msgs")
    assert await ledger.run(ledger.calls.complete("a", 7, ack=ack))
    assert await client.smembers(f"{prefix}acks") == set()
    assert await client.hget(f"{prefix}msgs", "rid") is None
    info = await ledger.get_job("a")
    assert info is not None
    assert (info.status, info.result) == (JobStatus.COMPLETED, 7)
    assert info.finished_at is not None


async def test_complete_acknowledges_a_kombu_delivery_in_the_same_step(
    client: redis.asyncio.Redis, prefix: str
) -> None:
    # kombu's Redis ack: the tag leaves the unacked index (a sorted set) and hash.
    ledger = ledger_of(client, prefix)
    await ledger.create([job("a")])
    await ledger.start(Delivery("a"), job("a"))
    await client.zadd(f"{prefix}unacked_index", {"tag": 1.0, "other": 2.0})
    await client.hset(f"{prefix}unacked", mapping={"tag": "message", "other": "message"})
    ack = RedisAck(f"{prefix}unacked_index", "tag", f"{prefix}unacked", sorted=True)
    assert await ledger.run(ledger.calls.complete("a", None, ack=ack))
    assert await client.zrange(f"{prefix}unacked_index", 0, -1) == [b"other"]
    assert await client.hkeys(f"{prefix}unacked") == [b"other"]
    assert (await ledger.get_job("a")).status is JobStatus.COMPLETED  # type: ignore[union-attr]
    # A stale outcome (the job finished already) still acknowledges its delivery.
    await client.zadd(f"{prefix}unacked_index", {"again": 3.0})
    await client.hset(f"{prefix}unacked", "again", "message")
    again = RedisAck(f"{prefix}unacked_index", "again", f"{prefix}unacked", sorted=True)
    assert not await ledger.run(ledger.calls.complete("a", None, ack=again))
    assert await client.zrange(f"{prefix}unacked_index", 0, -1) == [b"other"]
    assert await client.hkeys(f"{prefix}unacked") == [b"other"]


async def test_start_records_a_kombu_delivery_in_the_same_step_whatever_the_verdict(
    client: redis.asyncio.Redis, prefix: str
) -> None:
    # kombu's record of a delivered message: ZADD to its unacked index, HSET to its hash.
    ledger = ledger_of(client, prefix)
    await ledger.create([job("a")])

    def reserve(tag: str) -> RedisReserve:
        return RedisReserve(f"{prefix}unacked_index", tag, f"{prefix}unacked", f"message {tag}")

    verdict = await ledger.run(ledger.calls.start(job("a"), reserve=reserve("t1")))
    assert (verdict.run, verdict.attempt) == (True, 1)
    assert (await ledger.get_job("a")).status is JobStatus.RUNNING  # type: ignore[union-attr]
    # Found running (a lost attempt), then finished: recorded as delivered all the same,
    # so the message is acked or comes back, as any delivery of kombu's.
    lost = await ledger.run(ledger.calls.start(job("a"), reserve=reserve("t2")))
    assert (lost.run, lost.lost) == (False, True)
    assert await ledger.complete(Delivery("a"), None)
    finished = await ledger.run(ledger.calls.start(job("a"), reserve=reserve("t3")))
    assert (finished.run, finished.status) == (False, JobStatus.COMPLETED)
    assert await client.zrange(f"{prefix}unacked_index", 0, -1) == [b"t1", b"t2", b"t3"]
    assert await client.hgetall(f"{prefix}unacked") == {
        b"t1": b"message t1", b"t2": b"message t2", b"t3": b"message t3",
    }  # fmt: skip


@pytest.mark.parametrize("kombu", [False, True], ids=["dramatiq", "kombu"])
async def test_an_outcome_that_cannot_be_written_leaves_its_delivery_unacked(
    client: redis.asyncio.Redis, prefix: str, kombu: bool
) -> None:
    # A script that fails midway keeps what it wrote: the ack must not come first.
    ledger = ledger_of(client, prefix)
    await client.set(f"{prefix}job:a", "not a hash")
    if kombu:
        await client.zadd(f"{prefix}acks", {"tag": 1.0})
    else:
        await client.sadd(f"{prefix}acks", "tag")
    await client.hset(f"{prefix}msgs", "tag", "message")
    ack = RedisAck(f"{prefix}acks", "tag", f"{prefix}msgs", sorted=kombu)
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        await ledger.run(ledger.calls.complete("a", None, ack=ack))
    assert await client.hget(f"{prefix}msgs", "tag") == b"message"
    assert await client.exists(f"{prefix}acks") == 1


async def test_retry_fail_and_release_move_only_a_running_job(
    client: redis.asyncio.Redis, prefix: str
) -> None:
    ledger = ledger_of(client, prefix)
    await ledger.create([job("a"), job("b"), job("c")])
    assert not await ledger.retry(Delivery("a"), datetime.now(UTC), FAILURE), "not running yet"
    assert not await ledger.release(Delivery("a"))
    for job_id in "abc":
        await ledger.start(Delivery(job_id), job(job_id))
    run_at = datetime.now(UTC) + timedelta(minutes=5)
    assert await ledger.retry(Delivery("a"), run_at, FAILURE)
    retrying = await ledger.get_job("a")
    assert retrying is not None
    assert (retrying.status, retrying.last_error) == (JobStatus.RETRYING, "builtins.RuntimeError: boom")
    assert abs(retrying.run_at.timestamp() - run_at.timestamp()) < 1e-3  # type: ignore[union-attr]
    assert await ledger.dead_letter(Delivery("b"), FAILURE)
    failed = await ledger.get_job("b")
    assert failed is not None
    assert (failed.status, failed.last_error) == (JobStatus.FAILED, FAILURE.summary())
    assert not await ledger.dead_letter(Delivery("b"), FAILURE), "already finished"
    assert await ledger.release(Delivery("c"))
    released = await ledger.get_job("c")
    assert released is not None
    assert (released.status, released.attempts) == (JobStatus.PENDING, 0)
    assert await ledger.count("q", JobStatus.RETRYING) == 1
    assert await ledger.count("q", JobStatus.FAILED) == 1
    assert await ledger.count("q", None) == 2  # retrying a, pending c


async def test_a_cancelled_job_is_never_started_even_after_its_record_expired(
    client: redis.asyncio.Redis, prefix: str
) -> None:
    ledger = ledger_of(client, prefix, ttl=0, gone_hold=60)
    await ledger.create([job("a", unique_key="k")])
    assert await ledger.cancel("a")
    assert await ledger.get_job("a") is None, "no retention: the record went at once"
    verdict = await ledger.start(Delivery("a"), job("a"))
    assert (verdict.run, verdict.status) == (False, JobStatus.CANCELLED)
    assert await ledger.create([job("b", unique_key="k")]) == [("b", True)], "its key is free again"
    await ledger.start(Delivery("b"), job("b"))
    assert not await ledger.cancel("b"), "a started job cannot be cancelled"
    assert not await ledger.cancel("unknown")


async def test_forget_undoes_a_create_and_refuses_a_late_message(
    client: redis.asyncio.Redis, prefix: str
) -> None:
    ledger = ledger_of(client, prefix, gone_hold=60)
    key = fire_key("s", datetime(2031, 1, 1, tzinfo=UTC))
    await ledger.create([job("a", unique_key="k", fire_key=key)])
    assert await ledger.forget("a")
    assert await ledger.get_job("a") is None
    assert not (await ledger.start(Delivery("a"), job("a"))).run, "a publish that landed late never runs"
    assert await ledger.create([job("b", unique_key="k", fire_key=key)]) == [("b", True)], "keys given back"


async def test_clear_forgets_the_waiting_jobs_of_one_queue(client: redis.asyncio.Redis, prefix: str) -> None:
    ledger = ledger_of(client, prefix)
    await ledger.create([job("a"), job("b"), job("c"), JobEnvelope("d", "tests.task", "other")])
    await ledger.start(Delivery("c"), job("c"))
    assert await ledger.clear("q") == 2
    assert await ledger.get_job("a") is None
    assert not (await ledger.start(Delivery("a"), job("a"))).run
    assert (await ledger.get_job("c")).status is JobStatus.RUNNING  # type: ignore[union-attr]
    assert await ledger.count("other", None) == 1


async def test_finished_jobs_leave_the_counts_after_their_retention(
    client: redis.asyncio.Redis, prefix: str
) -> None:
    ledger = ledger_of(client, prefix, ttl=0.3)
    await ledger.create([job("a")])
    await ledger.start(Delivery("a"), job("a"))
    await ledger.complete(Delivery("a"), None)
    assert await ledger.count("q", JobStatus.COMPLETED) == 1
    await asyncio.sleep(0.5)
    assert await ledger.count("q", JobStatus.COMPLETED) == 0
    assert await ledger.get_job("a") is None


async def test_concurrent_cancel_and_start_never_both_win(redis_service: Service, prefix: str) -> None:
    """Cancels and starts race on separate connections: for every job exactly one wins."""
    producer = redis.asyncio.Redis.from_url(redis_service.url)
    worker = redis.asyncio.Redis.from_url(redis_service.url)
    try:
        cancels, starts = ledger_of(producer, prefix), ledger_of(worker, prefix)
        ids = [f"race-{n}" for n in range(200)]
        await cancels.create([job(i) for i in ids])
        # Bounded, so each side keeps within its connection pool.
        room = asyncio.Semaphore(40)

        async def bounded(call: Awaitable[T]) -> T:
            async with room:
                return await call

        cancelled, verdicts = await asyncio.gather(
            asyncio.gather(*(bounded(cancels.cancel(i)) for i in ids)),
            asyncio.gather(*(bounded(starts.start(Delivery(i), job(i))) for i in ids)),
        )
        for job_id, was_cancelled, verdict in zip(ids, cancelled, verdicts, strict=True):
            assert was_cancelled != verdict.run, f"{job_id}: cancel={was_cancelled}, start={verdict}"
            info = await cancels.get_job(job_id)
            assert info is not None
            assert info.status is (JobStatus.CANCELLED if was_cancelled else JobStatus.RUNNING)
    finally:
        await producer.aclose()
        await worker.aclose()


async def test_forget_with_a_token_undoes_only_the_create_of_that_token(
    client: redis.asyncio.Redis, prefix: str
) -> None:
    ledger = ledger_of(client, prefix)
    assert await ledger.run(ledger.calls.create(job("kept"), token="first")) == ("kept", True)
    # A second create under the same id (a retried enqueue) finds the job; undoing
    # that second call must not remove the job the first one wrote.
    assert await ledger.run(ledger.calls.create(job("kept"), token="second")) == ("kept", False)
    assert await ledger.run(ledger.calls.forget("kept", "second")) is False
    assert await ledger.get_job("kept") is not None
    assert await ledger.run(ledger.calls.forget("kept", "first")) is True
    assert await ledger.get_job("kept") is None
