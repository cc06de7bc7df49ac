"""A running job whose worker stopped heartbeating is settled by the settle
step's poison-pill rule, not by SQL: its next attempt waits the retry policy's
delay, it is dead-lettered as ``WorkerLostError`` after exactly
``max_attempts`` lost attempts, and the lost worker's late outcome is refused."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

import pytest

from lexigram_compat import JobStatus
from lexigram_compat.engine_contract import ClaimedJob
from lexigram_compat.envelope import utcnow
from tests.conformance import jobs
from tests.conformance.harness import ok

from .conftest import MakeApp
from .test_job_source import FAILURE, LOST_WORKER, dead_letter, source_of
from .workers import wait_until

DELAY = 1.5
"""The policy's delay before attempt 2 (longer than one upkeep period)."""
SLACK = 1.0
"""How late a poll of claims may see a job that became ready (a loaded machine)."""


async def test_a_rescued_job_waits_the_policy_delay_and_the_lost_outcome_is_refused(
    make_app: MakeApp, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="lexigram_compat.jobs")
    app = await make_app(retry={"base_delay": DELAY, "backoff_factor": 1.0, "max_delay": DELAY})
    job_id = ok(await app.queue.enqueue(jobs.noop("lost")))
    source = source_of(app)
    queue = app.queue.backend.queue_name
    [lost] = await source.claim([queue], 1)
    window: list[datetime] = []

    async def rescued() -> bool:
        before = utcnow()
        await source.maintain()
        info = await app.queue.get_job(job_id)
        window[:] = [before, utcnow()]
        return info is not None and info.status is JobStatus.RETRYING

    await wait_until(rescued, "the job is rescued")
    before, after = window
    info = await app.queue.get_job(job_id)
    assert info is not None
    assert info.attempts == 1
    assert info.last_error is not None
    assert info.last_error.startswith(LOST_WORKER)
    assert info.run_at is not None
    assert before + timedelta(seconds=DELAY) <= info.run_at <= after + timedelta(seconds=DELAY)
    assert f"retried conformance.noop job={job_id}" in caplog.text
    assert "in=1.50s" in caplog.text

    # The lost worker comes back: none of its outcomes, nor its heartbeat, counts.
    await source.heartbeat([lost])
    assert await source.complete(lost, None) is False
    assert await source.retry(lost, utcnow(), FAILURE) is False
    assert await dead_letter(source, lost, FAILURE) is False
    assert await source.claim([queue], 1) == [], "attempt 2 must wait the policy's delay"
    still = await app.queue.get_job(job_id)
    assert still is not None
    assert (still.status, still.run_at) == (JobStatus.RETRYING, info.run_at)

    claimed_jobs: list[ClaimedJob] = []

    async def claimed() -> bool:
        claimed_jobs.extend(await source.claim([queue], 1))
        return bool(claimed_jobs)

    await wait_until(claimed, "attempt 2 is claimed")
    claimed_at = utcnow()
    [again] = claimed_jobs
    assert before + timedelta(seconds=DELAY) <= claimed_at
    assert claimed_at <= after + timedelta(seconds=DELAY + SLACK)
    assert again.envelope is not None
    assert again.envelope.attempts == 2
    assert again.token != lost.token
    assert await source.complete(lost, None) is False, "the lost attempt's ack must be rejected"
    assert await source.complete(again, 7) is True
    done = await app.queue.get_job(job_id)
    assert done is not None
    assert (done.status, done.attempts) == (JobStatus.COMPLETED, 2)


async def test_a_job_whose_worker_is_lost_every_time_is_dead_lettered_after_max_attempts(
    make_app: MakeApp, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="lexigram_compat.jobs")
    app = await make_app()  # retry.max_attempts=3, delays 0.05 s and 0.1 s
    job_id = ok(await app.queue.enqueue(jobs.noop("poison")))
    source = source_of(app)
    queue = app.queue.backend.queue_name

    for attempt in (1, 2, 3):
        got: list[ClaimedJob] = []

        async def claimed(got: list[ClaimedJob] = got) -> bool:
            got.extend(await source.claim([queue], 1))
            return bool(got)

        await wait_until(claimed, f"attempt {attempt} is claimed")
        assert got[0].envelope is not None
        assert got[0].envelope.attempts == attempt

        async def settled() -> bool:
            await source.maintain()
            info = await app.queue.get_job(job_id)
            return info is not None and info.status is not JobStatus.RUNNING

        await wait_until(settled, f"lost attempt {attempt} is settled")

    letter = await app.dead_letters.get(job_id)
    assert letter is not None
    assert (letter.error_type, letter.attempts) == (LOST_WORKER, 3)
    assert "lost during attempt 3 of 3; not run again" in letter.error_message
    assert letter.args == ["poison"]
    assert await source.claim([queue], 1) == [], "never an attempt max+1"
    assert caplog.text.count(f"retried conformance.noop job={job_id}") == 2
    assert caplog.text.count(f"dead_lettered conformance.noop job={job_id}") == 1


async def test_a_lost_job_whose_payload_is_not_a_job_is_dead_lettered_with_its_bytes(
    make_app: MakeApp,
) -> None:
    app = await make_app()
    source = source_of(app)
    queue = app.queue.backend.queue_name
    engine = source.engine
    await engine.push_raw(queue, b"\xff not json", "raw-lost")
    [lost] = await source.claim([queue], 1)
    assert lost.envelope is None

    async def dead() -> bool:
        await source.maintain()
        return await app.dead_letters.get("raw-lost") is not None

    await wait_until(dead, "the undecodable job is dead-lettered")
    letter = await app.dead_letters.get("raw-lost")
    assert letter is not None
    assert letter.raw == b"\xff not json"
    assert letter.task_name == "<undecodable>"
    assert await source.claim([queue], 1) == []


async def test_two_workers_upkeep_settle_a_lost_job_once(
    make_app: MakeApp, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="lexigram_compat.jobs")
    app = await make_app(retry={"base_delay": DELAY, "backoff_factor": 1.0, "max_delay": DELAY})
    job_id = ok(await app.queue.enqueue(jobs.noop("contended")))
    sources = [source_of(app), source_of(await make_app()), source_of(await make_app())]
    queue = app.queue.backend.queue_name
    await sources[0].claim([queue], 1)
    await asyncio.sleep(1.3)  # past lease_seconds=1.0

    for _ in range(3):
        await asyncio.gather(*(source.maintain() for source in sources))

    info = await app.queue.get_job(job_id)
    assert info is not None
    assert (info.status, info.attempts) == (JobStatus.RETRYING, 1)
    assert caplog.text.count(f"retried conformance.noop job={job_id}") == 1
