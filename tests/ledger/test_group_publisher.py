"""Single enqueues made at once are written and published in groups
(``adapters/publishing.GroupPublisher``), against the real Redis ledger: each caller gets
its own job's outcome. The "publish" is a plain function here (the engines' RabbitMQ
publishers are tested in tests/dramatiq and tests/celery)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
import redis.asyncio
from redis.backoff import NoBackoff
from redis.retry import Retry

from lexigram_compat.adapters.publishing import GroupPublisher
from lexigram_compat.adapters.redis_ledger import RedisLedger, RedisLedgerCalls, SyncRedisLedger
from lexigram_compat.envelope import JobEnvelope
from tests.services import Service


def _job(job_id: str, queue: str = "q") -> JobEnvelope:
    return JobEnvelope(job_id, "tests.task", queue, max_attempts=3)


class _Publisher:
    """Records each run it is given; refuses the jobs named in ``refuse``."""

    def __init__(self, refuse: set[str] | None = None, gate: threading.Event | None = None) -> None:
        self.runs: list[list[str]] = []
        self.refuse = refuse or set()
        self.gate = gate

    def __call__(self, run: Sequence[JobEnvelope]) -> list[BaseException | None]:
        if self.gate is not None:
            self.gate.wait(10)  # held: the callers that come meanwhile wait together
        self.runs.append([e.job_id for e in run])
        return [ConnectionError("nacked") if e.job_id in self.refuse else None for e in run]


@pytest.fixture
def ledgers(
    client: redis.asyncio.Redis, prefix: str, redis_service: Service
) -> Iterator[tuple[RedisLedger, SyncRedisLedger]]:
    """The ledger on the loop and the publishing thread's blocking one, one prefix."""
    calls = RedisLedgerCalls(prefix)
    blocking = redis.Redis.from_url(redis_service.url)
    yield RedisLedger(client, calls), SyncRedisLedger(blocking, calls)
    blocking.close()


async def test_callers_waiting_at_once_share_one_record_write_and_one_run(
    ledgers: tuple[RedisLedger, SyncRedisLedger],
) -> None:
    ledger, sync = ledgers
    gate = threading.Event()
    publisher = _Publisher(refuse={"j7"}, gate=gate)
    with ThreadPoolExecutor(4) as pool:
        group = GroupPublisher(pool, lambda: sync, publisher, lanes=1)
        first = asyncio.ensure_future(group.enqueue(ledger, _job("j0")))
        await asyncio.sleep(0.2)  # j0's lane is publishing, held at the gate
        rest = [asyncio.ensure_future(group.enqueue(ledger, _job(f"j{i}"))) for i in range(1, 10)]
        await asyncio.sleep(0.2)
        gate.set()
        done = [await first, *[await r for r in rest]]
    assert publisher.runs == [["j0"], [f"j{i}" for i in range(1, 10)]], "the nine waiting went as one run"
    assert group.groups == 2
    assert [d.job_id for d in done] == [f"j{i}" for i in range(10)]
    assert all(d.created for d in done)
    errors = {d.job_id: d.publish_error for d in done if d.publish_error is not None}
    assert list(errors) == ["j7"], "only the refused job's caller gets an error"
    for i in range(10):  # every record written (the engine undoes j7's: its own call)
        assert await ledger.get_job(f"j{i}") is not None


async def test_a_job_that_exists_is_not_published_again_and_a_lone_caller_goes_at_once(
    ledgers: tuple[RedisLedger, SyncRedisLedger],
) -> None:
    ledger, sync = ledgers
    publisher = _Publisher()
    with ThreadPoolExecutor(2) as pool:
        group = GroupPublisher(pool, lambda: sync, publisher)
        again = await asyncio.gather(group.enqueue(ledger, _job("a")), group.enqueue(ledger, _job("a")))
        alone = await group.enqueue(ledger, _job("b", queue="other"))
    assert sorted(d.created for d in again) == [False, True]
    assert [d.job_id for d in again] == ["a", "a"]
    assert sum(run.count("a") for run in publisher.runs) == 1, "published once"
    assert alone.created
    assert alone.publish_error is None
    assert publisher.runs[-1] == ["b"]


async def test_a_record_write_that_fails_is_each_callers_error(
    client: redis.asyncio.Redis, prefix: str
) -> None:
    calls = RedisLedgerCalls(prefix)
    ledger = RedisLedger(client, calls)
    nothing_listens = redis.Redis(port=1, socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0))
    unreachable = SyncRedisLedger(nothing_listens, calls)
    publisher = _Publisher()
    with ThreadPoolExecutor(2) as pool:
        group = GroupPublisher(pool, lambda: unreachable, publisher)
        outcomes = await asyncio.gather(
            *(group.enqueue(ledger, _job(f"x{i}")) for i in range(5)), return_exceptions=True
        )
    assert all(isinstance(o, redis.exceptions.ConnectionError) for o in outcomes), outcomes
    assert publisher.runs == [], "nothing is published without its record"


async def test_callers_answered_together_come_back_as_one_group_with_those_waiting(
    ledgers: tuple[RedisLedger, SyncRedisLedger],
) -> None:
    ledger, sync = ledgers
    gate = threading.Event()
    publisher = _Publisher(gate=gate)

    async def producer(name: str) -> None:  # awaits each enqueue, as a producer loop does
        for step in "ab":
            await group.enqueue(ledger, _job(f"{name}{step}"))

    with ThreadPoolExecutor(2) as pool:
        # Patient enough that only the callers' return (not a clock) ends each wait.
        group = GroupPublisher(pool, lambda: sync, publisher, lanes=1, gather_share=1e6, gather_max=2.0)
        first = asyncio.ensure_future(producer("p1"))
        await asyncio.sleep(0.2)  # p1a's lane is publishing, held at the gate
        rest = [asyncio.ensure_future(producer(f"p{i}")) for i in (2, 3, 4)]
        await asyncio.sleep(0.2)
        gate.set()
        await asyncio.gather(first, *rest)
    assert publisher.runs[0] == ["p1a"]
    assert publisher.runs[1] == ["p2a", "p3a", "p4a", "p1b"], (
        "p1, answered while three waited, came back in time to go with them"
    )
    assert sorted(publisher.runs[2]) == ["p2b", "p3b", "p4b"]
    assert group.groups == 3


async def test_a_lane_does_not_wait_after_a_caller_alone(
    ledgers: tuple[RedisLedger, SyncRedisLedger],
) -> None:
    ledger, sync = ledgers
    publisher = _Publisher()
    with ThreadPoolExecutor(2) as pool:
        group = GroupPublisher(pool, lambda: sync, publisher, lanes=1, gather_share=1e6, gather_max=60.0)
        await group.enqueue(ledger, _job("alone"))
        for _ in range(500):  # the lane ends once its caller is answered (not in a minute)
            if not group._running:
                break
            await asyncio.sleep(0.01)
        assert not group._running, "the lane waited for company after a caller alone"

        async def one_after_another() -> None:  # each back at once, often while being answered
            for i in range(100):
                await group.enqueue(ledger, _job(f"next{i}"))

        await asyncio.wait_for(one_after_another(), 30)  # a minute's wait for company fails it
    assert publisher.runs == [["alone"], *([f"next{i}"] for i in range(100))]
