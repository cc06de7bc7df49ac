"""Worker ledger calls of concurrent jobs share round trips (``adapters/redis_batch.py``),
against the real Redis: every call still gets its own atomic answer."""

from __future__ import annotations

import asyncio
import uuid

import redis.asyncio

from lexigram_compat.adapters.redis_ledger import RedisLedger, RedisLedgerCalls
from lexigram_compat.envelope import JobEnvelope
from lexigram_compat.ledger import Delivery
from lexigram_compat.queue import JobStatus


def _job(job_id: str) -> JobEnvelope:
    return JobEnvelope(job_id, "tests.task", "q", max_attempts=3)


class _Counting(RedisLedger):
    """The real ledger, recording how many script calls each round trip carried."""

    def __init__(self, client: redis.asyncio.Redis, prefix: str) -> None:
        super().__init__(client, RedisLedgerCalls(prefix))
        self.round_trips: list[int] = []

    async def _batch(self, arguments):  # type: ignore[no-untyped-def]
        self.round_trips.append(len(arguments))
        return await super()._batch(arguments)


async def test_concurrent_starts_share_round_trips_and_each_gets_its_own_verdict(
    client: redis.asyncio.Redis, prefix: str
) -> None:
    ledger = _Counting(client, prefix)
    ids = [uuid.uuid4().hex for _ in range(30)]
    await ledger.create([_job(i) for i in ids])
    ledger.round_trips.clear()
    verdicts = await asyncio.gather(*(ledger.start(Delivery(i), _job(i)) for i in ids))
    assert all(v.run and v.attempt == 1 for v in verdicts)
    assert sum(ledger.round_trips) == 30
    assert len(ledger.round_trips) < 30, ledger.round_trips  # calls made meanwhile went together
    # Started again at once: the ledger finds each one running (a lost attempt), never twice "run".
    again = await asyncio.gather(*(ledger.start(Delivery(i), _job(i)) for i in ids))
    assert all(v.lost and not v.run for v in again)
    done = await asyncio.gather(*(ledger.complete(Delivery(i), n) for n, i in enumerate(ids)))
    assert done == [True] * 30
    info = await ledger.get_job(ids[7])
    assert info is not None
    assert (info.status, info.result) == (JobStatus.COMPLETED, 7)


async def test_a_lone_call_leaves_at_once_alone(client: redis.asyncio.Redis, prefix: str) -> None:
    ledger = _Counting(client, prefix)
    await ledger.create([_job("solo")])
    ledger.round_trips.clear()
    assert (await ledger.start(Delivery("solo"), _job("solo"))).run
    assert ledger.round_trips == [1]


async def test_a_failed_call_fails_only_its_caller(client: redis.asyncio.Redis, prefix: str) -> None:
    ledger = _Counting(client, prefix)
    await ledger.create([_job("good")])
    bad_call = ledger.calls.start(_job("bad"))
    broken = type(bad_call)(("no-such-command", prefix, "0"), bad_call.decode)
    results = await asyncio.gather(
        ledger.run_batched(ledger.calls.start(_job("warm-up"))),
        ledger.run_batched(broken),
        ledger.start(Delivery("good"), _job("good")),
        return_exceptions=True,
    )
    assert isinstance(results[1], redis.exceptions.ResponseError), results
    assert results[2].run  # type: ignore[union-attr]
    assert ledger.round_trips[-1] == 3  # the three went together


async def test_a_batch_is_one_script_call_whose_failed_calls_fail_alone(
    client: redis.asyncio.Redis, prefix: str
) -> None:
    # The batch goes as one call of the script's "many" (one command for the client to
    # send and parse); a call whose Redis command fails inside it (WRONGTYPE here) or
    # that the script refuses fails only its caller, and the calls after it still run.
    ledger = RedisLedger(client, RedisLedgerCalls(prefix))
    await ledger.create([_job("first"), _job("last")])
    await client.set(f"{prefix}job:wrong", "not a hash")
    commands: list[str] = []
    held = ledger._held
    call = held.call

    async def counting(*args):  # type: ignore[no-untyped-def]
        commands.append(args[3])
        return await call(*args)

    held.call = counting  # type: ignore[method-assign]
    try:
        bad_call = ledger.calls.start(_job("bad"))
        results = await ledger._batch(
            [
                ledger.calls.start(_job("first")).args,
                ledger.calls.get("wrong").args,
                ("no-such-command", prefix, "0"),
                ledger.calls.get("unknown").args,
                ledger.calls.start(_job("last")).args,
            ]
        )
    finally:
        del held.call
    assert commands == ["many"]
    assert [type(r) for r in results[1:3]] == [redis.exceptions.ResponseError] * 2
    assert "WRONGTYPE" in str(results[1])
    assert results[3] == []
    assert [bad_call.decode(results[i]).run for i in (0, 4)] == [True, True]


async def test_batches_keep_one_connection_and_take_a_new_one_when_the_server_closed_it(
    client: redis.asyncio.Redis, prefix: str
) -> None:
    ledger = RedisLedger(client, RedisLedgerCalls(prefix))
    ids = [uuid.uuid4().hex for _ in range(6)]
    await ledger.create([_job(i) for i in ids])
    await ledger.start(Delivery(ids[0]), _job(ids[0]))
    first = await ledger._held.call("CLIENT", "ID")
    await asyncio.gather(*(ledger.start(Delivery(i), _job(i)) for i in ids[1:3]))
    assert await ledger._held.call("CLIENT", "ID") == first  # the same connection throughout
    await client.execute_command("CLIENT", "KILL", "ID", first)  # type: ignore[no-untyped-call]
    await asyncio.sleep(0.1)  # the loop reads the server's close
    verdicts = await asyncio.gather(*(ledger.start(Delivery(i), _job(i)) for i in ids[3:]))
    assert all(v.run and v.attempt == 1 for v in verdicts)  # reconnected, each started once
    assert await ledger._held.call("CLIENT", "ID") != first
