"""The dead-letter queue: fields, listing, replay and purge (SPEC §1.7)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from lexigram_compat import JobNotFoundError, JobStatus, Reject

from . import jobs
from .harness import EngineHarness, err, ok, qualified


async def fail(engine: EngineHarness, *keys: str) -> list[str]:
    """Dead-letter one ``always_fails`` job per key; return their ids."""
    ids = [ok(await engine.app.queue.enqueue(jobs.always_fails(key))) for key in keys]
    await engine.drain()
    return ids


async def test_a_dead_letter_carries_the_job_and_its_failure(engine: EngineHarness) -> None:
    before = datetime.now(UTC)
    [job_id] = await fail(engine, "fields")
    after = datetime.now(UTC)

    letter = await engine.app.dead_letters.get(job_id)

    assert letter is not None
    assert letter.job_id == job_id
    assert letter.task_name == "conformance.always_fails"
    assert (letter.args, letter.kwargs) == (["fields"], {})
    assert letter.queue == engine.default_queue
    assert letter.attempts == 3
    assert letter.error_type == qualified(RuntimeError)
    assert letter.error_message == "always fails: fields"
    assert letter.traceback is not None
    assert "RuntimeError: always fails: fields" in letter.traceback
    assert "always_fails" in letter.traceback
    assert before <= letter.failed_at <= after
    assert await engine.app.dead_letters.count() == 1


async def test_keyword_arguments_are_kept_as_given(engine: EngineHarness) -> None:
    job_id = ok(await engine.app.queue.enqueue(jobs.rejects(key="by-keyword")))
    await engine.drain()

    letter = await engine.app.dead_letters.get(job_id)

    assert letter is not None
    assert (letter.args, letter.kwargs) == ([], {"key": "by-keyword"})
    assert (letter.error_type, letter.attempts) == (qualified(Reject), 1)


async def test_list_pages_newest_first_and_filters_by_task_name(engine: EngineHarness) -> None:
    failed = await fail(engine, "one", "two", "three")
    rejected = ok(await engine.app.queue.enqueue(jobs.rejects("four")))
    await engine.drain()
    dlq = engine.app.dead_letters

    everything = await dlq.list()
    assert sorted(d.job_id for d in everything) == sorted([*failed, rejected])
    assert everything[0].job_id == rejected
    stamps = [d.failed_at for d in everything]
    assert stamps == sorted(stamps, reverse=True)

    pages = [await dlq.list(limit=2, offset=0), await dlq.list(limit=2, offset=2), await dlq.list(2, 4)]
    assert [len(p) for p in pages] == [2, 2, 0]
    assert [d.job_id for p in pages for d in p] == [d.job_id for d in everything]

    only_failed = await dlq.list(task_name="conformance.always_fails")
    assert sorted(d.job_id for d in only_failed) == sorted(failed)
    assert [d.job_id for d in await dlq.list(limit=1, task_name="conformance.rejects")] == [rejected]
    assert await dlq.list(task_name="conformance.noop") == []
    assert await dlq.count() == 4


async def test_get_and_replay_of_an_unknown_id(engine: EngineHarness) -> None:
    dlq = engine.app.dead_letters

    assert await dlq.get("conformance-no-such-job") is None
    assert isinstance(err(await dlq.replay("conformance-no-such-job")), JobNotFoundError)


async def test_replay_makes_a_new_job_that_completes_once_the_cause_is_gone(engine: EngineHarness) -> None:
    # flaky fails its first three runs: the first job exhausts its 3 attempts,
    # the replayed one succeeds at its first attempt.
    job_id = ok(await engine.app.queue.enqueue(jobs.flaky("k", succeed_on=4)))
    await engine.drain()
    assert (await engine.info(job_id)).status is JobStatus.FAILED

    new_id = ok(await engine.app.dead_letters.replay(job_id))

    assert new_id != job_id
    assert await engine.app.dead_letters.get(job_id) is None
    assert await engine.app.dead_letters.count() == 0
    replayed = await engine.info(new_id)
    assert (replayed.task_name, replayed.attempts, replayed.status) == (
        "conformance.flaky",
        0,
        JobStatus.PENDING,
    )

    await engine.drain()

    done = await engine.info(new_id)
    assert (done.status, done.attempts) == (JobStatus.COMPLETED, 1)
    assert [e.data["run"] for e in engine.recorder.entries("flaky", key="k")] == [1, 2, 3, 4]
    assert await engine.app.dead_letters.count() == 0


async def test_a_replayed_job_goes_back_to_its_own_queue(engine: EngineHarness) -> None:
    job_id = ok(await engine.app.queue.enqueue(jobs.rejects("named").options(queue=jobs.NAMED_QUEUE)))
    await engine.drain()
    letter = await engine.app.dead_letters.get(job_id)
    assert letter is not None
    assert letter.queue == jobs.NAMED_QUEUE

    new_id = ok(await engine.app.dead_letters.replay(job_id))

    assert (await engine.info(new_id)).queue == jobs.NAMED_QUEUE
    assert await engine.app.queue.count(jobs.NAMED_QUEUE) == 1
    await engine.drain()
    assert engine.recorder.runs("rejects", "named") == 2


async def test_replay_all_replays_one_task_or_every_task(engine: EngineHarness) -> None:
    await fail(engine, "a", "b")
    ok(await engine.app.queue.enqueue(jobs.rejects("c")))
    await engine.drain()
    dlq = engine.app.dead_letters

    replayed = ok(await dlq.replay_all(task_name="conformance.rejects"))

    assert len(replayed) == 1
    assert await dlq.count() == 2
    assert (await engine.info(replayed[0])).task_name == "conformance.rejects"
    await engine.drain()
    assert engine.recorder.runs("rejects", "c") == 2
    assert await dlq.count() == 3

    everything = ok(await dlq.replay_all())

    assert len(everything) == 3
    assert len(set(everything)) == 3
    assert await dlq.count() == 0
    for job_id in everything:
        assert (await engine.info(job_id)).status is JobStatus.PENDING
    assert ok(await dlq.replay_all()) == []


async def test_purge_one_and_purge_all_by_age(engine: EngineHarness) -> None:
    dlq = engine.app.dead_letters
    [old] = await fail(engine, "old")
    cutoff = datetime.now(UTC)
    [new, newest] = await fail(engine, "new", "newest")

    assert await dlq.purge(newest) is True
    assert await dlq.purge(newest) is False
    assert await dlq.get(newest) is None
    assert await dlq.count() == 2

    assert await dlq.purge_all(older_than=timedelta(hours=1)) == 0
    assert await dlq.purge_all(older_than=cutoff) == 1
    assert await dlq.get(old) is None
    assert await dlq.get(new) is not None

    assert await dlq.purge_all() == 1
    assert await dlq.count() == 0
    assert await dlq.list() == []
