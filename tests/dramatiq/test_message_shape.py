"""What the dead letter of a body that is no Dramatiq message says (issue 14, finding 4),
and of a message the worker handed to Dramatiq's nack (finding 5)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from lexigram_compat.adapters.dramatiq.messages import letter_of, message_of, message_problem, with_failure
from lexigram_compat.envelope import JobEnvelope
from lexigram_compat.outcomes import FailureInfo

MESSAGE = {
    "queue_name": "tasks",
    "actor_name": "conformance.noop",
    "args": ["x"],
    "kwargs": {},
    "options": {},
    "message_id": "m-1",
    "message_timestamp": 0,
}


@pytest.mark.parametrize(
    ("raw", "named"),
    [
        (json.dumps({**MESSAGE, "options": "oops"}).encode(), "'options' is a string, not an object"),
        (json.dumps({**MESSAGE, "kwargs": ["oops"]}).encode(), "'kwargs' is an array, not an object"),
        (json.dumps({**MESSAGE, "args": {"a": 1}}).encode(), "'args' is an object, not an array"),
        (json.dumps({**MESSAGE, "actor_name": 7}).encode(), "'actor_name' is a number, not a string"),
        (json.dumps({**MESSAGE, "message_id": None}).encode(), "'message_id' is null, not a string"),
        (json.dumps({**MESSAGE, "extra": 1}).encode(), "field(s) a Dramatiq message has not: 'extra'"),
        (b"[1, 2, 3]", "a JSON value that is an array"),
        (b'{"hello": "world"}', "without the Dramatiq message field(s) 'queue_name'"),
        (b"\x00\xff raw", "not JSON"),
    ],
)
def test_the_dead_letter_names_what_is_wrong_with_the_body(raw: bytes, named: str) -> None:
    assert named in (message_problem(raw) or "")

    letter = letter_of(raw, "rid-1", "tasks", datetime.now(UTC))

    assert letter.error_type == "lexigram_compat.errors.TaskValidationError"
    assert "could not be decoded" in letter.error_message
    assert named in letter.error_message


def test_a_well_formed_message_has_no_problem() -> None:
    assert message_problem(json.dumps(MESSAGE).encode()) is None


def test_a_message_the_worker_nacked_keeps_its_reason_not_task_not_found() -> None:
    # What the Redis consumer's nack stores for a delivery the worker gave up on (issue 14,
    # finding 5: such a letter used to be read as TaskNotFoundError).
    envelope = JobEnvelope("job-1", "conformance.noop", "tasks", args=["x"], attempts=1, max_attempts=3)
    message = message_of(envelope, options={"redis_message_id": "rid-1"})
    failure = FailureInfo("redis.exceptions.ConnectionError", "the worker could neither record nor put back")

    letter = letter_of(with_failure(message, failure, datetime.now(UTC)), "rid-1", "tasks", datetime.now(UTC))

    assert (letter.job_id, letter.task_name, letter.args) == ("job-1", "conformance.noop", ["x"])
    assert (letter.error_type, letter.error_message) == (failure.error_type, failure.message)
    assert letter.attempts == 2
