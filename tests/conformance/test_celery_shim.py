"""Celery-style task modules (``tests/celery_shim``, only the import swapped to
``lexigram_compat.celery``) run by each engine's native worker: results, attempts,
``self.request``, ``self.retry``, autoretry, options and call sites inside a task."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from lexigram_compat import JobStatus, TaskTimeoutError
from lexigram_compat.celery import Celery
from lexigram_compat.celery.exceptions import MaxRetriesExceededError, TaskFailedError
from tests.celery_shim.proj import (
    tasks_autoretry,
    tasks_basic,
    tasks_bound,
    tasks_calls,
    tasks_options,
    tasks_stacked,
)

from .harness import LATENESS, EngineHarness, qualified
from .shim_jobs import shim_app


@pytest.fixture
def shim(engine: EngineHarness) -> Celery:
    shim_app.use(engine.app)
    return shim_app


async def call(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Sync Celery-style code (``.delay()``, ``.get()``) from the test's event loop."""
    return await asyncio.to_thread(fn, *args, **kwargs)


async def test_plain_stacked_and_named_tasks_return_their_results(
    engine: EngineHarness, shim: Celery
) -> None:
    added = await call(tasks_basic.add.delay, 2, 3)
    multiplied = await call(tasks_basic.mul.delay, 4, 5)
    described = await call(tasks_basic.describe.apply_async, ("x",), {"tags": ["a"]})
    audited = await call(tasks_stacked.audited.delay, 5)

    await engine.drain()

    assert [await call(r.get, timeout=5) for r in (added, multiplied, described, audited)] == [
        5, 20, {"label": "x", "tags": ["a"]}, {"tag": "audit", "value": "5 EUR"},
    ]  # fmt: skip
    assert all([await call(lambda r=r: r.state) == "SUCCESS" for r in (added, multiplied)])
    assert (await engine.info(described.id)).task_name == "shim.explicit_name"
    assert await call(lambda: shim.AsyncResult(added.id).ready()) is True


async def test_a_bound_task_reads_its_request(engine: EngineHarness, shim: Celery) -> None:
    result = await call(tasks_bound.whoami.apply_async, ("n",), headers={"h": "v"}, task_id="shim-whoami-1")

    await engine.drain()

    assert result.id == "shim-whoami-1"
    assert await call(result.get, timeout=5) == {
        "id": "shim-whoami-1", "retries": 0, "args": ["n"], "kwargs": {}, "headers": {"h": "v"},
        "queue": engine.default_queue, "name": "tests.celery_shim.proj.tasks_bound.whoami",
    }  # fmt: skip


async def test_self_retry_runs_the_job_again_until_it_succeeds(engine: EngineHarness, shim: Celery) -> None:
    result = await call(tasks_bound.flaky.delay, 2)

    await engine.drain()

    info = await engine.info(result.id)
    assert (info.status, info.attempts, info.result) == (JobStatus.COMPLETED, 3, 2)


async def test_retries_run_out_with_the_real_cause_in_the_dead_letter(
    engine: EngineHarness, shim: Celery
) -> None:
    result = await call(tasks_bound.gives_up.delay, "k")
    bare = await call(tasks_bound.retries_without_exc.delay)

    await engine.drain()

    info = await engine.info(result.id)
    assert (info.status, info.attempts) == (JobStatus.FAILED, 3)
    letter = await engine.app.dead_letters.get(result.id)
    assert letter is not None
    assert (letter.error_type, letter.error_message) == (
        qualified(tasks_bound.UpstreamError),
        "k: still down",
    )
    assert await call(lambda: result.state) == "FAILURE"
    with pytest.raises(TaskFailedError, match="k: still down") as raised:
        await call(result.get, timeout=5)
    assert raised.value.error_type == qualified(tasks_bound.UpstreamError)
    bare_letter = await engine.app.dead_letters.get(bare.id)
    assert bare_letter is not None
    assert (bare_letter.error_type, bare_letter.attempts) == (qualified(MaxRetriesExceededError), 2)


async def test_autoretry_for_retries_listed_errors_only(engine: EngineHarness, shim: Celery) -> None:
    recovers = await call(tasks_autoretry.fetch.delay, 2)
    exhausted = await call(tasks_autoretry.fetch.delay, 5)
    excluded = await call(tasks_autoretry.guarded.delay, "permission")
    listed = await call(tasks_autoretry.guarded.delay, "os")

    await engine.drain()

    assert (await engine.info(recovers.id)).result == 3
    seen = {name: await engine.info(r.id) for name, r in
            (("exhausted", exhausted), ("excluded", excluded), ("listed", listed))}  # fmt: skip
    assert {name: (i.status, i.attempts) for name, i in seen.items()} == {
        "exhausted": (JobStatus.FAILED, 3),  # retry_kwargs max_retries=2
        "excluded": (JobStatus.FAILED, 1),  # dont_autoretry_for wins
        "listed": (JobStatus.FAILED, 4),  # the default max_retries=3
    }
    letter = await engine.app.dead_letters.get(exhausted.id)
    assert letter is not None
    assert (letter.error_type, letter.error_message) == (
        qualified(ConnectionError),
        "attempt 3: connection refused",
    )


async def test_retry_backoff_waits_celerys_countdown(engine: EngineHarness, shim: Celery) -> None:
    await engine.start_worker()  # its start-up is not the delay measured
    result = await call(tasks_autoretry.backs_off.delay)

    done = await engine.wait_for(result.id, JobStatus.COMPLETED)
    await engine.stop_worker()

    assert (done.attempts, done.result) == (2, 1)
    assert done.finished_at is not None
    # retry_backoff=True, no jitter: Celery's countdown after the first failure is 1 s.
    waited = (done.finished_at - done.enqueued_at).total_seconds()
    assert 1.0 <= waited <= 1.0 + LATENESS


async def test_declaration_options_queue_ignore_result_time_limit_throws(
    engine: EngineHarness, shim: Celery
) -> None:
    named = await call(tasks_options.on_named_queue.delay, 1)
    ignored = await call(tasks_options.fire_and_forget.delay, 7)
    slow = await call(tasks_options.too_slow.delay, 5.0)
    thrown = await call(tasks_options.expected_failure.delay, "v")

    await engine.drain()

    info = await engine.info(named.id)
    assert (info.queue, info.result) == (tasks_options.NAMED_QUEUE, 101)
    assert (await engine.info(ignored.id)).status is JobStatus.COMPLETED
    assert await call(ignored.get, timeout=5) is None
    for job, error in ((slow, TaskTimeoutError), (thrown, ValueError)):
        failed = await engine.info(job.id)
        letter = await engine.app.dead_letters.get(job.id)
        assert letter is not None
        assert (failed.status, failed.attempts, letter.error_type) == (JobStatus.FAILED, 1, qualified(error))


async def test_call_sites_inside_a_task_enqueue_through_the_workers_app(
    engine: EngineHarness, shim: Celery
) -> None:
    await engine.start_worker()
    parent = await call(tasks_calls.fan_out.delay, 3)

    done = await engine.wait_for(parent.id, JobStatus.COMPLETED)
    children = [await engine.wait_for(child, JobStatus.COMPLETED) for child in done.result]
    await engine.stop_worker()

    assert [c.result for c in children] == [0, 2, 4, 12, 3, 30]
