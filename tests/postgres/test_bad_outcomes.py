"""One outcome PostgreSQL cannot store does not take down the others written
in the same batch: the batch is written again one job at a time, and the
offending job is dead-lettered with the real error."""

from __future__ import annotations

import asyncio

import pytest

from lexigram_compat import JobStatus
from lexigram_compat.engine_contract import FailureInfo
from lexigram_compat.envelope import utcnow
from tests.conformance import jobs
from tests.conformance.harness import ok
from tests.conformance.recorder import Recorder

from .conftest import MakeApp, MakeWorker
from .test_job_source import dead_letter, source_of
from .workers import wait_until


async def test_a_result_jsonb_cannot_store_fails_alone_in_its_batch(make_app: MakeApp) -> None:
    app = await make_app()
    ok(await app.queue.enqueue_many([jobs.add(n, 1) for n in range(10)]))
    source = source_of(app)
    claimed = await source.claim([app.queue.backend.queue_name], 10)
    results: list[object] = [n for n in range(10)]
    results[4] = "nul \x00 inside"

    outcomes = await asyncio.gather(
        *(source.complete(c, r) for c, r in zip(claimed, results, strict=True)), return_exceptions=True
    )

    assert outcomes[:4] + outcomes[5:] == [True] * 9
    assert isinstance(outcomes[4], ValueError)
    assert "jsonb" in str(outcomes[4])
    assert await app.queue.count(status=JobStatus.COMPLETED) == 9


async def test_nul_characters_in_error_text_are_stored_escaped(make_app: MakeApp) -> None:
    app = await make_app()
    ok(await app.queue.enqueue_many([jobs.add(n, 1) for n in range(4)]))
    source = source_of(app)
    a, b, c, d = await source.claim([app.queue.backend.queue_name], 4)
    bad = FailureInfo("Bad\x00Type", "message \x00 with NUL", "Traceback \x00 ...")

    accepted = await asyncio.gather(
        dead_letter(source, a, bad),
        dead_letter(source, b, FailureInfo("RuntimeError", "fine")),
        source.retry(c, utcnow(), bad),
        source.complete(d, 1),
    )

    assert list(accepted) == [True, True, True, True]
    retried = await app.queue.get_job(c.job_id)
    assert retried is not None
    assert retried.last_error == "Bad\\x00Type: message \\x00 with NUL"
    letter = await app.dead_letters.get(a.job_id)
    assert letter is not None
    assert "\x00" not in letter.error_message
    assert "NUL" in letter.error_message


@pytest.mark.parametrize("settings", [{"worker": {"max_concurrent_tasks": 8}}])
async def test_a_worker_dead_letters_a_job_whose_result_cannot_be_stored(
    make_app: MakeApp, make_worker: MakeWorker, recorder: Recorder, settings: dict[str, object]
) -> None:
    app = await make_app(**settings)
    bad = ok(await app.queue.enqueue(jobs.greet("nul \x00 name")))
    good = ok(await app.queue.enqueue_many([jobs.add(n, 1) for n in range(20)]))
    worker = await make_worker(**settings).start()

    async def settled() -> bool:
        return await app.queue.count(status=JobStatus.COMPLETED) == 20 and await app.dead_letters.count() == 1

    await wait_until(settled, "the good jobs completed and the bad one was dead-lettered")
    assert await worker.stop() == 0
    letter = await app.dead_letters.get(bad)
    assert letter is not None
    assert letter.error_type == "ValueError"
    assert "jsonb" in letter.error_message
    assert len(recorder.entries("greet")) == 1
    for job_id in good:
        info = await app.queue.get_job(job_id)
        assert info is not None
        assert info.status is JobStatus.COMPLETED
