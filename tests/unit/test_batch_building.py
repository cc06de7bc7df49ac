"""``enqueue_many`` builds its jobs with one plan per task: the envelopes are the ones
``build`` makes alone (every field, the same wire bytes), their ids uuid4 strings."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator

import pytest

from lexigram_compat import Priority, TaskNotFoundError, TaskRegistry, TasksApp, TaskValidationError, task
from lexigram_compat.calls import NO_OPTIONS, CallOptions, TaskCall
from lexigram_compat.enqueueing import _new_job_id, _new_job_ids
from lexigram_compat.envelope import JobEnvelope
from lexigram_compat.serialization import dumps
from lexigram_compat.testing import memory_app

REGISTRY = TaskRegistry()


@task(name="batch.add", registry=REGISTRY, priority=Priority.HIGH, timeout=30, expires=600)
async def add(a: int, b: int = 0) -> int:
    return a + b


@task(name="batch.ping", queue="pings", registry=REGISTRY, max_retries=4)
async def ping() -> None:
    pass


@task(name="batch.keyed", registry=REGISTRY, idempotency_key=lambda order, note="": order)
async def keyed(order: str, note: str = "") -> None:
    pass


@pytest.fixture
async def app() -> AsyncIterator[TasksApp]:
    async with memory_app(registry=REGISTRY) as started:
        yield started


def test_batch_ids_are_distinct_version_4_uuids() -> None:
    ids = [*_new_job_ids(2000), *(_new_job_id() for _ in range(2000))]

    assert len(set(ids)) == 4000
    for job_id in ids:
        parsed = uuid.UUID(job_id)
        assert (parsed.version, parsed.variant, str(parsed)) == (4, uuid.RFC_4122, job_id)


async def test_batch_envelopes_are_those_build_makes_alone(app: TasksApp) -> None:
    calls = [add(1, b=2), ping(), add(3), ping(), keyed("o-1", note="é\n"), keyed("o-2")]
    origin = app.queue.backend

    batch = [job.envelope for job in app.builder.build_many(calls, origin=origin)]
    alone = [app.builder.build(call, CallOptions(), origin=origin).envelope for call in calls]

    # The plain jobs' wire bytes were written by their plan's stencil, checked below.
    assert all("_wire" in vars(batch[i]) for i in (1, 3, 4, 5))
    fields = {f.name for f in dataclasses.fields(JobEnvelope)}
    for made, single in zip(batch, alone, strict=True):
        assert fields <= set(vars(made))
        assert made.to_bytes() == dumps(made.to_dict())
        skip = {"job_id", "enqueued_at", "expires_at"}
        assert {k: getattr(made, k) for k in fields - skip} == {k: getattr(single, k) for k in fields - skip}
    assert [e.queue for e in batch][:4] == [origin.queue_name, "pings", origin.queue_name, "pings"]
    assert [e.unique_key for e in batch][4:] == ["idem:batch.keyed:o-1", "idem:batch.keyed:o-2"]
    # One plan per task: the jobs of one task share their clock reading.
    assert batch[0].enqueued_at == batch[2].enqueued_at
    assert batch[0].expires_at == batch[2].expires_at is not None


async def test_calls_with_options_of_their_own_get_them_in_a_batch(app: TasksApp) -> None:
    calls = [ping().options(priority=9, job_id="mine"), ping()]

    batch = [job.envelope for job in app.builder.build_many(calls, origin=app.queue.backend)]

    assert (batch[0].priority, batch[0].job_id) == (9, "mine")
    assert batch[1].priority == Priority.NORMAL
    assert batch[1].job_id != "mine"
    assert ping().call_options is NO_OPTIONS


async def test_the_first_bad_call_of_a_batch_is_reported_as_alone(app: TasksApp) -> None:
    wrong = add("x")  # type: ignore[arg-type]  # the bad input under test
    bad_argument = (await app.queue.enqueue_many([add(1), wrong, TaskCall("nowhere")])).unwrap_err()
    unknown = (await app.queue.enqueue_many([add(1), TaskCall("nowhere"), wrong])).unwrap_err()

    assert isinstance(bad_argument, TaskValidationError)
    assert bad_argument.message == (await app.queue.enqueue(wrong)).unwrap_err().message
    assert isinstance(unknown, TaskNotFoundError)
    assert await app.queue.count() == 0
