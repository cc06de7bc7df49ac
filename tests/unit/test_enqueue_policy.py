"""The enqueue policy on the memory engine: validation, typed ``Err``s (never raises) and sync twins."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from lexigram_compat import (
    JobStatus,
    PayloadTooLargeError,
    Priority,
    SerializationError,
    TaskCall,
    TaskNotFoundError,
    TaskQueueError,
    TaskRegistry,
    TasksApp,
    TaskValidationError,
    UnsupportedOptionError,
    UnwrapError,
    task,
)
from lexigram_compat.testing import drain, memory_app

REGISTRY = TaskRegistry()


@task(name="policy.add", registry=REGISTRY)
async def add(a: int, b: int = 0) -> int:
    return a + b


@task(name="policy.stamp", queue="reports", priority=Priority.HIGH, registry=REGISTRY)
def stamp(when: datetime) -> str:
    return when.isoformat()


@task(name="policy.scale", registry=REGISTRY)
async def scale(ratio: float) -> float:
    return ratio * 2


@pytest.fixture
async def app() -> AsyncIterator[TasksApp]:
    async with memory_app(registry=REGISTRY, max_payload_bytes=2048) as started:
        yield started


async def error_of(app: TasksApp, call: Any, **options: Any) -> TaskQueueError:
    result = await app.queue.enqueue(call, **options)
    assert result.is_err(), result
    return result.unwrap_err()


async def test_enqueue_returns_the_job_id_and_the_worker_runs_it(app: TasksApp) -> None:
    job_id = (await app.queue.enqueue(add(2, b=3))).unwrap()
    assert (await app.queue.count()) == 1
    await drain(app, fail_fast=True)
    info = await app.queue.get_job(job_id)
    assert info is not None
    assert (info.status, info.result, info.attempts, info.max_attempts) == (JobStatus.COMPLETED, 5, 1, 3)


async def test_delay_and_eta_together_are_refused(app: TasksApp) -> None:
    error = await error_of(app, add(1), delay=5, eta=datetime.now(UTC))
    assert isinstance(error, TaskValidationError)
    assert "delay=5" in error.message
    assert error.hint == "give either delay (seconds from now) or eta (a datetime), not both"
    merged = await error_of(app, add(1).options(delay=5), eta=datetime.now(UTC))
    assert "both delay" in merged.message


@pytest.mark.parametrize("delay", [-1, -0.5, float("nan"), float("inf"), "5", True, 1e300])
async def test_bad_delays_are_refused(app: TasksApp, delay: Any) -> None:
    error = await error_of(app, add(1), delay=delay)
    assert isinstance(error, TaskValidationError)
    assert f"delay={delay!r}" in error.message


async def test_delay_schedules_the_job(app: TasksApp) -> None:
    before = datetime.now(UTC)
    job_id = (await app.queue.enqueue(add(1), delay=60)).unwrap()
    info = await app.queue.get_job(job_id)
    assert info is not None
    assert info.status is JobStatus.SCHEDULED
    assert info.run_at is not None
    assert before + timedelta(seconds=59) < info.run_at < datetime.now(UTC) + timedelta(seconds=61)
    assert await drain(app) == 0


async def test_naive_eta_is_read_as_utc(app: TasksApp) -> None:
    eta = datetime(2099, 1, 2, 3, 4, 5)
    job_id = (await app.queue.enqueue(add(1), eta=eta)).unwrap()
    info = await app.queue.get_job(job_id)
    assert info is not None
    assert info.run_at == eta.replace(tzinfo=UTC)
    assert info.status is JobStatus.SCHEDULED


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ({"priority": 256}, "priority=256"),
        ({"priority": -3}, "priority=-3"),
        ({"queue": "no spaces"}, "queue='no spaces'"),
        ({"queue": "q" * 64}, "queue='qqq"),
        ({"job_id": ""}, "job_id=''"),
        ({"job_id": "j" * 256}, "job_id='jjj"),
        ({"job_id": 42}, "job_id=42"),
        ({"eta": "tomorrow"}, "eta='tomorrow'"),
        ({"idempotency_key": 7}, "idempotency_key=7"),
    ],
)
async def test_bad_options_are_refused_naming_the_value(
    app: TasksApp, options: dict[str, Any], fragment: str
) -> None:
    error = await error_of(app, add(1), **options)
    assert isinstance(error, TaskValidationError)
    assert fragment in error.message
    error_via_call = await error_of(app, add(1).options(**options))
    assert fragment in error_via_call.message


async def test_argument_values_are_validated_at_enqueue(app: TasksApp) -> None:
    error = await error_of(app, add("not a number"))  # type: ignore[arg-type]
    assert isinstance(error, TaskValidationError)
    assert "argument 'a'" in error.message
    nan = await error_of(app, scale(float("nan")))
    assert isinstance(nan, SerializationError)
    assert "argument 'ratio'" in nan.message


async def test_unregistered_task_is_not_found_with_a_hint(app: TasksApp) -> None:
    error = await error_of(app, TaskCall("billing.charge", kwargs={"amount": 3}))
    assert isinstance(error, TaskNotFoundError)
    assert "'billing.charge'" in error.message
    assert error.hint is not None
    assert "send_task" in error.hint


async def test_send_task_skips_the_registry_but_checks_options(app: TasksApp) -> None:
    job_id = (await app.queue.send_task("billing.charge", (1,), {"amount": 3}, priority=7)).unwrap()
    info = await app.queue.get_job(job_id)
    assert info is not None
    assert (info.task_name, info.priority) == ("billing.charge", 7)
    typo = (await app.queue.send_task("billing.charge", dealy=3)).unwrap_err()
    assert isinstance(typo, UnsupportedOptionError)
    assert "'dealy'" in typo.message
    assert "did you mean 'delay'?" in (typo.hint or "")
    plain = (await app.queue.send_task("billing.charge", (object(),))).unwrap_err()
    assert isinstance(plain, SerializationError)


async def test_enqueue_never_raises_for_expected_failures(app: TasksApp) -> None:
    for bad in ("policy.add", None, add, 42):
        error = await error_of(app, bad)
        assert isinstance(error, TaskValidationError)
        assert "takes a TaskCall" in error.message
    many = await app.queue.enqueue_many([add(1), "oops"])  # type: ignore[list-item]
    assert isinstance(many.unwrap_err(), TaskValidationError)
    assert await app.queue.count() == 0


async def test_task_options_apply_and_call_options_win(app: TasksApp) -> None:
    when = datetime(2026, 1, 1, tzinfo=UTC)
    default_id = (await app.queue.enqueue(stamp(when))).unwrap()
    chosen_id = (
        await app.queue.enqueue(stamp(when).options(priority=1), queue="other", job_id="mine")
    ).unwrap()
    default, chosen = await app.queue.get_job(default_id), await app.queue.get_job(chosen_id)
    assert default is not None
    assert chosen is not None
    assert (default.queue, default.priority) == ("reports", 10)
    assert (chosen.job_id, chosen.queue, chosen.priority) == ("mine", "other", 1)


async def test_idempotency_key_returns_the_first_job(app: TasksApp) -> None:
    first = (await app.queue.enqueue(add(1), idempotency_key="k")).unwrap()
    second = (await app.queue.enqueue(add(2), idempotency_key="k")).unwrap()
    assert first == second
    assert await app.queue.count() == 1


async def test_payload_limit_and_unsupported_options(app: TasksApp) -> None:
    too_large = (await app.queue.send_task("blob", ("x" * 4096,))).unwrap_err()
    assert isinstance(too_large, PayloadTooLargeError)
    assert "max_payload_bytes=2048" in too_large.message
    transactional = await error_of(app, add(1), connection=object())
    assert isinstance(transactional, UnsupportedOptionError)
    assert "connection=" in transactional.message


async def test_unwrap_on_an_err_raises_chained_to_the_cause(app: TasksApp) -> None:
    result = await app.queue.enqueue(TaskCall("nowhere"))
    with pytest.raises(UnwrapError) as info:
        result.unwrap()
    assert isinstance(info.value.__cause__, TaskNotFoundError)
    assert info.value.__cause__ is result.unwrap_err()


async def test_enqueue_before_start_is_an_err_with_a_hint() -> None:
    app = TasksApp.from_dict({"tasks": {"backend": {"type": "memory"}}}, registry=REGISTRY)
    error = (await app.queue.enqueue(add(1))).unwrap_err()
    assert "not started" in error.message
    assert "async with app" in (error.hint or "")
    assert (await app.queue.enqueue_many([add(1)])).is_err()
    assert (await app.queue.cancel("x")).is_err()
    assert await app.queue.get_job("x") is None


async def test_disabled_tasks_refuse_to_enqueue() -> None:
    async with memory_app(registry=REGISTRY, enabled=False) as app:
        error = (await app.queue.enqueue(add(1))).unwrap_err()
        assert "tasks.enabled is false" in error.message
        assert error.hint == "set tasks.enabled: true"
        assert (await app.queue.send_task("policy.add", (1,))).is_err()


# --- sync twins -----------------------------------------------------------------------


def test_sync_twins_from_sync_code() -> None:
    app = TasksApp.from_dict(
        {"tasks": {"backend": {"type": "memory"}, "scheduler": {"enabled": False}}}, registry=REGISTRY
    )
    with pytest.raises(RuntimeError, match=r"not started; call app.start_sync\(\)"):
        app.queue.enqueue_sync(add(1))
    assert app.start_sync() is app
    try:
        queue = app.queue
        job_id = queue.enqueue_sync(add(1), delay=30).unwrap()
        info = queue.get_job_sync(job_id)
        assert info is not None
        assert info.status is JobStatus.SCHEDULED
        assert len(queue.enqueue_many_sync([add(2), add(3)]).unwrap()) == 2
        assert queue.send_task_sync("elsewhere", kwargs={"x": 1}).is_ok()
        assert queue.enqueue_sync(TaskCall("missing")).is_err()
        assert queue.count_sync() == 4
        assert queue.count_sync(status=JobStatus.SCHEDULED) == 1
        assert queue.cancel_sync(job_id).unwrap() is True
        assert queue.clear_sync() == 3
        assert queue.count_sync() == 0
    finally:
        app.close_sync()
    assert not app.is_started


async def test_sync_twin_inside_the_app_loop_is_refused(app: TasksApp) -> None:
    with pytest.raises(RuntimeError, match="called from the app's own event loop; use the async method"):
        app.queue.enqueue_sync(add(1))
    job_id = (await asyncio.to_thread(app.queue.enqueue_sync, add(1))).unwrap()
    assert (await app.queue.get_job(job_id)) is not None


async def test_headers_must_be_a_str_keyed_json_mapping(app: TasksApp) -> None:
    error = (await app.queue.enqueue(add(1), headers={1: "x"})).unwrap_err()  # type: ignore[dict-item]
    assert "headers={1: 'x'} must be a mapping with str keys" in error.message
    error = (await app.queue.enqueue(add(1), headers={"when": object()})).unwrap_err()
    assert "headers cannot be serialised to JSON" in error.message
    assert await app.queue.count() == 0
