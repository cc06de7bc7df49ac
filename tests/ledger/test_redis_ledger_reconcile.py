"""The ledger's ``reconcile``: a waiting job's message that no broker structure holds
is pushed back from the record's copy, once, and never a message that is still
there (issue 14, finding 2: kombu's Redis BRPOP and its unacknowledged bookkeeping
are two commands). Against the real Redis."""

from __future__ import annotations

import asyncio
import json
import uuid

import redis.asyncio

from lexigram_compat.adapters.redis_ledger import RedisLedger, RedisPush

from .test_redis_ledger import job, ledger_of

CONFIRM = 0.3


def message(tag: str) -> str:
    return json.dumps({"body": "e30=", "properties": {"delivery_tag": tag, "delivery_info": {}}})


async def created(ledger: RedisLedger, prefix: str, job_id: str, tag: str) -> tuple[str, str]:
    """A job whose message was pushed with it, its copy kept: (list key, item)."""
    list_key, item = f"{prefix}list:q", message(tag)
    push = RedisPush(list_key, item, left=True, keep_copy=True)
    assert await ledger.create([job(job_id)], [push]) == [(job_id, True)]
    return list_key, item


async def reconcile(ledger: RedisLedger, prefix: str, *, scan: int = 100) -> list[str]:
    call = ledger.calls.reconcile(
        ["q"], unacked_key=f"{prefix}unacked", lease=0.0, batch=10, scan=scan, confirm=CONFIRM
    )
    return await ledger.run(call)


async def test_a_message_on_no_structure_is_pushed_back_once_after_two_passes(
    client: redis.asyncio.Redis, prefix: str
) -> None:
    ledger = ledger_of(client, prefix)
    list_key, item = await created(ledger, prefix, "lost", str(uuid.uuid4()))
    assert await client.rpop(list_key) == item.encode()  # a worker took it, then died

    assert await reconcile(ledger, prefix) == [], "the first pass only marks it missing"
    assert await reconcile(ledger, prefix) == [], f"not before {CONFIRM}s: it may be a delivery in flight"
    await asyncio.sleep(CONFIRM + 0.05)
    assert await reconcile(ledger, prefix) == ["lost"]
    assert await client.lrange(list_key, 0, -1) == [item.encode()]
    assert await reconcile(ledger, prefix) == [], "pushed back once: it is on its list again"


async def test_a_message_on_its_list_or_unacknowledged_is_never_pushed_again(
    client: redis.asyncio.Redis, prefix: str
) -> None:
    ledger = ledger_of(client, prefix)
    list_key, _ = await created(ledger, prefix, "queued", str(uuid.uuid4()))
    tag = str(uuid.uuid4())
    taken_key, taken = await created(ledger, prefix, "delivered", tag)
    await client.lrem(taken_key, 1, taken)
    await client.hset(f"{prefix}unacked", tag, json.dumps([json.loads(taken), "q", "q"]))
    for _ in range(3):
        assert await reconcile(ledger, prefix) == []
        await asyncio.sleep(CONFIRM / 2 + 0.05)
    assert await client.llen(list_key) == 1


async def test_a_started_job_drops_its_copy_and_is_never_pushed_back(
    client: redis.asyncio.Redis, prefix: str
) -> None:
    ledger = ledger_of(client, prefix)
    list_key, _ = await created(ledger, prefix, "ran", str(uuid.uuid4()))
    await client.rpop(list_key)
    verdict = await ledger.run(ledger.calls.start(job("ran")))
    assert verdict.run
    assert await client.hmget(ledger.calls.job_key("ran"), "wire_list", "wire_item") == [None, None]
    for _ in range(2):
        assert await reconcile(ledger, prefix) == []
        await asyncio.sleep(CONFIRM + 0.05)
    assert await client.llen(list_key) == 0


async def test_a_list_longer_than_the_scan_is_left_for_a_later_pass(
    client: redis.asyncio.Redis, prefix: str
) -> None:
    ledger = ledger_of(client, prefix)
    list_key, item = await created(ledger, prefix, "deep", str(uuid.uuid4()))
    await client.rpop(list_key)
    for filler in range(3):
        await created(ledger, prefix, f"later-{filler}", str(uuid.uuid4()))
    for _ in range(2):
        assert await reconcile(ledger, prefix, scan=2) == [], "3 items, only 2 searched: not known missing"
        await asyncio.sleep(CONFIRM + 0.05)
    for filler in range(2):  # the backlog drains to one item: workers take and start two
        await client.rpop(list_key)
        assert (await ledger.run(ledger.calls.start(job(f"later-{filler}")))).run
    assert await reconcile(ledger, prefix, scan=2) == []
    await asyncio.sleep(CONFIRM + 0.05)
    assert await reconcile(ledger, prefix, scan=2) == ["deep"]
    assert item.encode() in await client.lrange(list_key, 0, -1)
