"""Idempotency keys: a second enqueue returns the first job's id and creates no job (SPEC §3)."""

from __future__ import annotations

import pytest

from lexigram_compat import JobStatus

from . import jobs
from .harness import EngineHarness, ok

pytestmark = pytest.mark.requires("idempotency_keys")


async def test_the_same_key_returns_the_first_job_id_and_creates_no_job(engine: EngineHarness) -> None:
    queue = engine.app.queue
    first = ok(await queue.enqueue(jobs.noop("first"), idempotency_key="k1"))

    again = ok(await queue.enqueue(jobs.noop("second"), idempotency_key="k1"))
    via_options = ok(await queue.enqueue(jobs.noop("third").options(idempotency_key="k1")))
    other = ok(await queue.enqueue(jobs.noop("other"), idempotency_key="k2"))

    assert again == first
    assert via_options == first
    assert other != first
    assert await queue.count() == 2

    await engine.drain()

    assert sorted(e.data["tag"] for e in engine.recorder.entries("noop")) == ["first", "other"]
    assert (await engine.info(first)).status is JobStatus.COMPLETED


async def test_a_task_idempotency_key_function_deduplicates(engine: EngineHarness) -> None:
    queue = engine.app.queue
    first = ok(await queue.enqueue(jobs.charge("o-1", 5)))

    same_order = ok(await queue.enqueue(jobs.charge("o-1", amount=7)))
    other_order = ok(await queue.enqueue(jobs.charge(order_id="o-2", amount=5)))

    assert same_order == first
    assert other_order != first
    assert await queue.count() == 2

    await engine.drain()

    charged = sorted((e.data["order_id"], e.data["amount"]) for e in engine.recorder.entries("charge"))
    assert charged == [("o-1", 5), ("o-2", 5)]


async def test_a_call_key_overrides_the_task_key_function(engine: EngineHarness) -> None:
    queue = engine.app.queue
    first = ok(await queue.enqueue(jobs.charge("o-1", 5)))

    # Same order, but the call names its own key: a different job.
    explicit = ok(await queue.enqueue(jobs.charge("o-1", 5), idempotency_key="retry-of-o-1"))

    assert explicit != first
    assert ok(await queue.enqueue(jobs.charge("o-9", 1), idempotency_key="retry-of-o-1")) == explicit
    assert await queue.count() == 2
