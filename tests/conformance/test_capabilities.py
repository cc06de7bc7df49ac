"""Each engine's capability table matches its behaviour (SPEC §3).

Every yes/no capability has a probe for "declared yes" (the behaviour is
there) and one for "declared no" (the option is refused with
``Err(UnsupportedOptionError)``, or the behaviour is visibly absent). The
conftest generates one test per (engine, capability) pair, so a refusal test
exists only for engines that lack the capability, and a capability without a
probe fails collection instead of going unchecked.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from lexigram_compat import (
    ConfigurationError,
    JobStatus,
    Priority,
    TaskQueueError,
    TaskRegistry,
    UnsupportedOptionError,
)
from lexigram_compat.engine_contract import Capabilities
from lexigram_compat.result import Result

from . import jobs
from .crash import assert_recovered, kill_mid_job_and_recover
from .harness import BASELINE, EngineHarness, err, ok

Probe = Callable[[EngineHarness], Awaitable[None]]


async def refused(engine: EngineHarness, result: Result[Any, TaskQueueError]) -> None:
    assert isinstance(err(result), UnsupportedOptionError)
    assert await engine.app.queue.count() == 0


async def refused_at_start(engine: EngineHarness, declared: Any, option: str) -> None:
    """Binding a task that declares an option the engine cannot honour fails the start."""
    tasks = TaskRegistry()
    tasks.add(declared)
    app = engine.new_app(tasks)
    with pytest.raises(ConfigurationError, match=option):
        await app.start()
    assert not app.is_started


# -- declared yes ----------------------------------------------------------------------
async def delay_honoured(engine: EngineHarness) -> None:
    job_id = ok(await engine.app.queue.enqueue(jobs.noop("later"), delay=3600))
    await engine.drain()
    assert (await engine.info(job_id)).status is JobStatus.SCHEDULED
    assert engine.recorder.entries("noop") == []


async def priority_honoured(engine: EngineHarness) -> None:
    ok(await engine.app.queue.enqueue(jobs.ordered("low"), priority=Priority.LOW))
    ok(await engine.app.queue.enqueue(jobs.ordered("high"), priority=Priority.HIGH))
    await engine.drain()
    assert [e.data["label"] for e in engine.recorder.entries("ordered")] == ["high", "low"]


async def idempotency_keys_honoured(engine: EngineHarness) -> None:
    first = ok(await engine.app.queue.enqueue(jobs.noop("a"), idempotency_key="probe"))
    assert ok(await engine.app.queue.enqueue(jobs.noop("b"), idempotency_key="probe")) == first
    assert await engine.app.queue.count() == 1


async def cancel_honoured(engine: EngineHarness) -> None:
    job_id = ok(await engine.app.queue.enqueue(jobs.noop("cancelled")))
    assert ok(await engine.app.queue.cancel(job_id)) is True
    await engine.drain()
    assert engine.recorder.entries("noop") == []


async def job_status_honoured(engine: EngineHarness) -> None:
    job_id = ok(await engine.app.queue.enqueue(jobs.noop("status")))
    assert (await engine.info(job_id)).status is JobStatus.PENDING
    await engine.drain()
    assert (await engine.info(job_id)).status is JobStatus.COMPLETED


async def results_honoured(engine: EngineHarness) -> None:
    job_id = ok(await engine.app.queue.enqueue(jobs.add(20, 22)))
    await engine.drain()
    assert (await engine.info(job_id)).result == 42


async def dead_letters_honoured(engine: EngineHarness) -> None:
    job_id = ok(await engine.app.queue.enqueue(jobs.rejects("probe")))
    await engine.drain()
    assert [d.job_id for d in await engine.app.dead_letters.list()] == [job_id]
    ok(await engine.app.dead_letters.replay(job_id))
    assert await engine.app.dead_letters.count() == 0


async def crash_safe_honoured(engine: EngineHarness) -> None:
    await assert_recovered(engine, await kill_mid_job_and_recover(engine))


async def transactional_enqueue_honoured(engine: EngineHarness) -> None:
    """Jobs enqueued on the caller's psycopg connection commit or roll back with it."""
    import psycopg

    dsn = engine.app.config.backend.postgres_dsn
    assert dsn is not None, "transactional enqueue is psycopg's: the backend needs a postgres_dsn"
    queue = engine.app.queue
    async with await psycopg.AsyncConnection.connect(dsn.get_secret_value()) as conn:
        rolled_back = ok(await queue.enqueue(jobs.noop("rolled-back"), connection=conn))
        await conn.rollback()
        committed = ok(await queue.enqueue(jobs.noop("committed"), connection=conn))
        assert await queue.get_job(committed) is None, "visible before the caller's commit"
        await conn.commit()
    assert await queue.get_job(rolled_back) is None
    assert (await engine.info(committed)).status is JobStatus.PENDING
    await engine.drain()
    assert [e.data["tag"] for e in engine.recorder.entries("noop")] == ["committed"]


async def multi_process_honoured(engine: EngineHarness) -> None:
    job_id = ok(await engine.app.queue.enqueue(jobs.noop("shared")))
    async with engine.new_app() as other:
        assert await other.queue.get_job(job_id) is not None


# -- declared no -------------------------------------------------------------------------
async def delay_refused(engine: EngineHarness) -> None:
    await refused(engine, await engine.app.queue.enqueue(jobs.noop("x"), delay=5))
    eta = datetime.now(UTC) + timedelta(seconds=5)
    await refused(engine, await engine.app.queue.enqueue(jobs.noop("x").options(eta=eta)))


async def priority_refused(engine: EngineHarness) -> None:
    await refused(engine, await engine.app.queue.enqueue(jobs.ordered("x"), priority=Priority.HIGH))
    await refused_at_start(engine, jobs.urgent, "priority")


async def idempotency_keys_refused(engine: EngineHarness) -> None:
    await refused(engine, await engine.app.queue.enqueue(jobs.noop("x"), idempotency_key="k"))
    await refused_at_start(engine, jobs.charge, "idempotency_key")


async def cancel_refused(engine: EngineHarness) -> None:
    job_id = ok(await engine.app.queue.enqueue(jobs.noop("x")))
    assert isinstance(err(await engine.app.queue.cancel(job_id)), UnsupportedOptionError)


async def results_refused(engine: EngineHarness) -> None:
    job_id = ok(await engine.app.queue.enqueue(jobs.add(20, 22)))
    await engine.drain()
    info = await engine.info(job_id)
    assert (info.status, info.result) == (JobStatus.COMPLETED, None)


async def transactional_enqueue_refused(engine: EngineHarness) -> None:
    connection = object()  # never used: the option is refused before anything is written
    await refused(engine, await engine.app.queue.enqueue(jobs.noop("x"), connection=connection))


async def multi_process_refused(engine: EngineHarness) -> None:
    """Jobs live in the producing app's process: another app never sees them."""
    job_id = ok(await engine.app.queue.enqueue(jobs.noop("private")))
    async with engine.new_app() as other:
        assert await other.queue.get_job(job_id) is None
        assert await other.queue.count() == 0
    assert await engine.app.queue.count() == 1


async def crash_safe_refused(engine: EngineHarness) -> None:
    """Without another process to take over, a job cannot outlive its worker."""
    assert not engine.capabilities.multi_process, (
        "crash_safe=False on a multi-process engine needs its own probe here"
    )
    await multi_process_refused(engine)


HONOURED: dict[str, Probe] = {
    "delay": delay_honoured,
    "priority": priority_honoured,
    "idempotency_keys": idempotency_keys_honoured,
    "cancel": cancel_honoured,
    "job_status": job_status_honoured,
    "results": results_honoured,
    "dead_letters": dead_letters_honoured,
    "multi_process": multi_process_honoured,
    "crash_safe": crash_safe_honoured,
    "transactional_enqueue": transactional_enqueue_honoured,
}
NOT_PROBED_YET: set[str] = set()
"""No engine today can show these; see the note in conftest.py."""
REFUSED: dict[str, Probe] = {
    "delay": delay_refused,
    "priority": priority_refused,
    "idempotency_keys": idempotency_keys_refused,
    "cancel": cancel_refused,
    "results": results_refused,
    "transactional_enqueue": transactional_enqueue_refused,
    "multi_process": multi_process_refused,
    "crash_safe": crash_safe_refused,
    # BASELINE (job_status, dead_letters): every engine must have them.
}


@pytest.mark.each_capability(declared=True, probed=HONOURED)
@pytest.mark.tasks_config({"worker": {"max_concurrent_tasks": 1}})
async def test_a_declared_capability_is_honoured(engine: EngineHarness, capability: str) -> None:
    assert getattr(engine.capabilities, capability) is True
    await HONOURED[capability](engine)


@pytest.mark.each_capability(declared=False, probed=REFUSED)
async def test_a_missing_capability_is_refused_or_visibly_absent(
    engine: EngineHarness, capability: str
) -> None:
    assert getattr(engine.capabilities, capability) is False
    await REFUSED[capability](engine)


async def test_the_declared_worker_is_the_one_that_runs_jobs(engine: EngineHarness) -> None:
    command = engine.capabilities.worker
    assert command.strip()
    if engine.app.queue.backend.engine.job_source() is None:
        # Jobs are run by the engine's own worker (the harness starts it): the
        # in-process worker refuses, naming that command.
        with pytest.raises(ConfigurationError) as refusal:
            await engine.app.run_worker(until_idle=True)
        assert command in refusal.value.message
    else:
        job_id = ok(await engine.app.queue.enqueue(jobs.noop("in-process")))
        assert await engine.app.run_worker(until_idle=True, scheduler=False) == 1
        assert (await engine.info(job_id)).status is JobStatus.COMPLETED


def test_every_capability_has_probes() -> None:
    flags = {f.name for f in fields(Capabilities) if f.type in (bool, "bool")}
    assert set(HONOURED) | NOT_PROBED_YET == flags
    assert set(REFUSED) | set(BASELINE) == flags
