"""Bad input never kills a worker or loses other jobs: it is dead-lettered with the reason (SPEC §3).

``test_bad_input_ends_as_a_dead_letter_or_an_err_and_the_worker_keeps_consuming``
is the catalogue (issue 13), on every engine with its real native worker.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import pytest

from lexigram_compat import (
    JobStatus,
    PayloadTooLargeError,
    TaskNotFoundError,
    TaskQueueError,
    TaskValidationError,
)
from lexigram_compat.envelope import JobEnvelope

from . import jobs
from .harness import EngineHarness, err, ok, qualified

UNKNOWN_TASK = "conformance.known_to_no_worker"
GARBAGE_FLOOD = 120
"""More undecodable letters than one page of ``replay_all``'s listing."""


@dataclass(frozen=True)
class BadInput:
    """One kind of bad input: how to send it, and the cause its dead letter (or Err) names."""

    inject: Callable[[EngineHarness], Awaitable[TaskQueueError | None]]
    error_type: str
    message_part: str


async def garbage(engine: EngineHarness) -> None:
    await engine.push_raw(engine.default_queue, b"\x00\xff\xfe not json {")


async def garbage_on_the_wire(engine: EngineHarness) -> None:
    await engine.push_on_wire(engine.default_queue, b"\x00\xff\xfe raw on the list {")


async def foreign_json_on_the_wire(engine: EngineHarness) -> None:
    await engine.push_on_wire(engine.default_queue, b'{"hello": "world"}')


async def wrong_envelope(engine: EngineHarness) -> None:
    await engine.push_raw(engine.default_queue, b'{"hello": "world", "args": [1]}')


async def json_not_an_object(engine: EngineHarness) -> None:
    await engine.push_raw(engine.default_queue, b"[1, 2, 3]")


def _message_shaped(engine: EngineHarness, **fields: object) -> bytes:
    """JSON with a Dramatiq message's fields (what a foreign producer might send), overridden."""
    message: dict[str, object] = {
        "queue_name": engine.default_queue,
        "actor_name": "conformance.noop",
        "args": ["wrong-shape"],
        "kwargs": {},
        "options": {},
        "message_id": "conformance-wrong-shape",
        "message_timestamp": 0,
    }
    return json.dumps({**message, **fields}).encode()


# Message-shaped JSON whose field types are wrong: Dramatiq's Message.decode accepts it,
# and its consumer then broke on it (issue 14, finding 4); on the other engines it is
# bytes that are no job like any other.
async def options_not_an_object(engine: EngineHarness) -> None:
    await engine.push_raw(engine.default_queue, _message_shaped(engine, options="oops"))


async def kwargs_not_an_object(engine: EngineHarness) -> None:
    await engine.push_raw(engine.default_queue, _message_shaped(engine, kwargs=["oops"]))


async def wrong_version(engine: EngineHarness) -> None:
    # A well-formed envelope of a version this library does not know (a newer producer).
    envelope = {"v": 99, "id": "conformance-v99", "task": "conformance.noop", "queue": engine.default_queue}
    await engine.push_raw(engine.default_queue, json.dumps({**envelope, "args": ["v99"]}).encode())


async def unknown_task(engine: EngineHarness) -> None:
    ok(await engine.app.queue.send_task(UNKNOWN_TASK, args=[1], kwargs={"x": "y"}))


async def invalid_arguments(engine: EngineHarness) -> None:
    envelope = JobEnvelope(
        job_id="conformance-invalid-arguments",
        task_name="conformance.add",
        queue=engine.default_queue,
        args=["two", 3],
        max_attempts=3,
    )
    await engine.push_envelope(envelope)


async def oversized(engine: EngineHarness) -> TaskQueueError:
    return err(await engine.app.queue.enqueue(jobs.noop("x" * (engine.app.config.max_payload_bytes + 1))))


# The one catalogue: each kind is dead-lettered with its cause, or refused with an Err.
BAD_INPUTS = {
    "garbage-bytes": BadInput(garbage, qualified(TaskValidationError), "could not be decoded"),
    "wrong-envelope": BadInput(wrong_envelope, qualified(TaskValidationError), "could not be decoded"),
    "garbage-on-the-wire": BadInput(
        garbage_on_the_wire, qualified(TaskValidationError), "could not be decoded"
    ),
    "foreign-json-on-the-wire": BadInput(
        foreign_json_on_the_wire, qualified(TaskValidationError), "could not be decoded"
    ),
    "json-not-an-object": BadInput(
        json_not_an_object, qualified(TaskValidationError), "could not be decoded"
    ),
    "options-not-an-object": BadInput(
        options_not_an_object, qualified(TaskValidationError), "could not be decoded"
    ),
    "kwargs-not-an-object": BadInput(
        kwargs_not_an_object, qualified(TaskValidationError), "could not be decoded"
    ),
    "wrong-envelope-version": BadInput(wrong_version, qualified(TaskValidationError), "version 99"),
    "unknown-task": BadInput(unknown_task, qualified(TaskNotFoundError), UNKNOWN_TASK),
    "invalid-arguments": BadInput(invalid_arguments, qualified(TaskValidationError), "'a'"),
    "oversized-payload": BadInput(oversized, qualified(PayloadTooLargeError), "max_payload_bytes"),
}
DEAD_LETTERED = {k: v for k, v in BAD_INPUTS.items() if k != "oversized-payload"}
ON_TIME = 15.0
"""Seconds a good job sent right after the bad input may take to complete (polling
workers wait up to worker.poll_interval; a stuck consumer waits for ever)."""


async def dead_letter_count_is(engine: EngineHarness, expected: int) -> None:
    async def reached() -> bool:
        return await engine.app.dead_letters.count() >= expected

    await engine.wait_until(reached, f"{expected} dead letters exist")
    assert await engine.app.dead_letters.count() == expected


@pytest.mark.parametrize("kind", list(BAD_INPUTS))
async def test_bad_input_ends_as_a_dead_letter_or_an_err_and_the_worker_keeps_consuming(
    engine: EngineHarness, kind: str
) -> None:
    bad = BAD_INPUTS[kind]
    before = ok(await engine.app.queue.enqueue(jobs.noop(f"before-{kind}")))
    await engine.start_worker()

    refused = await bad.inject(engine)
    sent = time.monotonic()
    after = ok(await engine.app.queue.enqueue(jobs.noop(f"after-{kind}")))
    await engine.wait_for(after, JobStatus.COMPLETED)
    took = time.monotonic() - sent
    await engine.wait_for(before, JobStatus.COMPLETED)
    if refused is None:
        await dead_letter_count_is(engine, 1)
    await engine.stop_worker()  # fails if the worker exited on its own

    assert took < ON_TIME, f"the job after the bad input took {took:.1f}s"
    letters = await engine.app.dead_letters.list()
    if refused is not None:
        assert (qualified(type(refused)), letters) == (bad.error_type, [])
        assert bad.message_part in str(refused)
    else:
        [letter] = letters
        assert letter.error_type == bad.error_type
        assert bad.message_part in letter.error_message
        assert letter.attempts == 1
    tags = sorted(e.data["tag"] for e in engine.recorder.entries("noop"))
    assert tags == [f"after-{kind}", f"before-{kind}"]


async def test_the_dead_letter_of_an_unknown_task_keeps_its_name_and_arguments(
    engine: EngineHarness,
) -> None:
    await unknown_task(engine)
    await engine.drain()

    [letter] = await engine.app.dead_letters.list()

    assert letter.task_name == UNKNOWN_TASK
    assert (letter.args, letter.kwargs) == ([1], {"x": "y"})


async def test_arguments_failing_validation_in_the_worker_are_not_retried(engine: EngineHarness) -> None:
    await invalid_arguments(engine)
    await engine.drain()

    [letter] = await engine.app.dead_letters.list()

    assert (letter.task_name, letter.args, letter.attempts) == ("conformance.add", ["two", 3], 1)
    assert engine.recorder.entries("add") == []


async def test_a_running_worker_keeps_consuming_through_a_stream_of_bad_input(engine: EngineHarness) -> None:
    await engine.start_worker()
    for count, bad in enumerate(DEAD_LETTERED.values(), start=1):
        await bad.inject(engine)
        await dead_letter_count_is(engine, count)
        good = ok(await engine.app.queue.enqueue(jobs.noop(f"good-{count}")))
        await engine.wait_for(good, JobStatus.COMPLETED)
    await engine.stop_worker()

    tags = [e.data["tag"] for e in engine.recorder.entries("noop")]
    assert tags == [f"good-{n}" for n in range(1, len(DEAD_LETTERED) + 1)]
    assert sorted(d.error_type for d in await engine.app.dead_letters.list()) == sorted(
        b.error_type for b in DEAD_LETTERED.values()
    )


async def test_an_undecodable_dead_letter_cannot_be_replayed_and_stays(engine: EngineHarness) -> None:
    await garbage(engine)
    await engine.drain()
    [letter] = await engine.app.dead_letters.list()

    error = err(await engine.app.dead_letters.replay(letter.job_id))

    assert isinstance(error, TaskValidationError)
    assert await engine.app.dead_letters.count() == 1
    assert ok(await engine.app.dead_letters.replay_all()) == []
    assert await engine.app.dead_letters.purge(letter.job_id) is True


async def test_replay_all_reaches_past_a_page_of_undecodable_letters(engine: EngineHarness) -> None:
    replayable = ok(await engine.app.queue.enqueue(jobs.rejects("under-the-garbage")))
    await engine.drain()
    for _ in range(GARBAGE_FLOOD):  # newer than the replayable letter, so listed first
        await garbage(engine)
    await engine.drain()
    assert await engine.app.dead_letters.count() == GARBAGE_FLOOD + 1

    [new_id] = ok(await engine.app.dead_letters.replay_all())

    assert await engine.app.dead_letters.get(replayable) is None
    assert (await engine.info(new_id)).task_name == "conformance.rejects"
    assert await engine.app.dead_letters.count() == GARBAGE_FLOOD


UNCONSUMED = "conformance-unconsumed"
"""An ad-hoc queue (SPEC §2.4) that no running worker consumes."""


async def test_a_job_for_a_queue_nobody_consumes_waits_visibly_and_delays_no_other(
    engine: EngineHarness,
) -> None:
    """Not bad input to dead-letter: ad-hoc queues are legal, and a worker for the queue may
    start later (``worker --queues``). The job waits, visible to ``count``/``get_job``
    (``lexigram-compat queues``), and holds up nothing else."""
    await engine.start_worker()
    stray = ok(await engine.app.queue.enqueue(jobs.noop("stray").options(queue=UNCONSUMED)))
    sent = time.monotonic()
    good = ok(await engine.app.queue.enqueue(jobs.noop("good")))
    await engine.wait_for(good, JobStatus.COMPLETED)
    took = time.monotonic() - sent
    await engine.stop_worker()

    assert took < ON_TIME, f"the job after the stray one took {took:.1f}s"
    info = await engine.info(stray)
    assert (info.status, info.queue, info.attempts) == (JobStatus.PENDING, UNCONSUMED, 0)
    assert await engine.app.queue.count(UNCONSUMED) == 1
    assert await engine.app.dead_letters.count() == 0
    assert [e.data["tag"] for e in engine.recorder.entries("noop")] == ["good"]
