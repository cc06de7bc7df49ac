"""The job envelope's JSON wire form: exact round trips, and every malformed input refused."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from lexigram_compat.envelope import ENVELOPE_VERSION, EnvelopeError, JobEnvelope, utcnow

FULL = JobEnvelope(
    job_id="job-1",
    task_name="billing.charge",
    queue="payments",
    args=[1, "two", None, [3.5]],
    kwargs={"customer": {"id": "c-9", "tags": ["vip"]}, "é": "ü"},
    attempts=2,
    max_attempts=5,
    priority=20,
    run_at=datetime(2026, 3, 29, 1, 0, tzinfo=UTC),
    enqueued_at=datetime(2026, 3, 28, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=1))),
    unique_key="idem:billing.charge:k1",
    timeout=12.5,
)


def valid() -> dict[str, Any]:
    return FULL.to_dict()


def test_full_envelope_round_trips_through_bytes() -> None:
    raw = FULL.to_bytes()
    assert isinstance(raw, bytes)
    assert JobEnvelope.from_bytes(raw) == FULL
    assert JobEnvelope.from_bytes(raw.decode()) == FULL


def test_minimal_envelope_round_trips_with_defaults() -> None:
    minimal = JobEnvelope(job_id="j", task_name="t", queue="q")
    decoded = JobEnvelope.from_bytes(minimal.to_bytes())
    assert decoded == minimal
    assert (decoded.args, decoded.kwargs, decoded.attempts, decoded.max_attempts) == ([], {}, 0, 1)
    assert (decoded.priority, decoded.run_at, decoded.unique_key, decoded.timeout) == (5, None, None, None)


def test_wire_form_field_names() -> None:
    data = json.loads(FULL.to_bytes())
    assert data["v"] == ENVELOPE_VERSION
    assert (data["id"], data["task"], data["queue"]) == ("job-1", "billing.charge", "payments")
    assert data["run_at"] == "2026-03-29T01:00:00+00:00"
    assert data["enqueued_at"] == "2026-03-28T23:59:59.999999+01:00"


def test_optional_fields_may_be_absent() -> None:
    data = {"v": 1, "id": "j", "task": "t", "queue": "q"}
    before = utcnow()
    envelope = JobEnvelope.from_dict(data)
    assert envelope.args == []
    assert envelope.kwargs == {}
    assert envelope.max_attempts == 1
    assert before <= envelope.enqueued_at <= utcnow()


def test_naive_timestamps_are_read_as_utc() -> None:
    data = {**valid(), "run_at": "2026-01-01T10:00:00", "enqueued_at": "2026-01-01T09:00:00"}
    envelope = JobEnvelope.from_dict(data)
    assert envelope.run_at == datetime(2026, 1, 1, 10, tzinfo=UTC)
    assert envelope.enqueued_at.tzinfo is UTC


def test_integer_timeout_is_read_as_float() -> None:
    envelope = JobEnvelope.from_dict({**valid(), "timeout": 3})
    assert envelope.timeout == 3.0
    assert isinstance(envelope.timeout, float)


def test_next_attempt_counts_one_more_and_keeps_the_rest() -> None:
    nxt = FULL.next_attempt()
    assert nxt.attempts == 3
    assert nxt.job_id == FULL.job_id
    assert FULL.attempts == 2


def test_utcnow_is_aware_utc() -> None:
    assert utcnow().tzinfo is UTC


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"garbage",
        b"\xff\xfe\x00garbage",
        b"\x80\x81\x82",
        b'{"v": 1, "id": "j"',
        b'{"v": 1, "id": "j", "task": "t", "queue": "q", "args": [NaN]}',
        b'{"v": 1, "id": "j", "task": "t", "queue": "q", "kwargs": {"x": Infinity}}',
        b"[" * 100_000 + b"]" * 100_000,
    ],
    ids=["empty", "text", "bom-garbage", "bad-utf8", "truncated", "nan", "infinity", "deep"],
)
def test_bytes_that_are_not_json_are_refused(raw: bytes) -> None:
    with pytest.raises(EnvelopeError, match="not JSON"):
        JobEnvelope.from_bytes(raw)


@pytest.mark.parametrize("data", [[], "envelope", 1, None, True, [valid()]])
def test_json_that_is_not_an_object_is_refused(data: Any) -> None:
    with pytest.raises(EnvelopeError, match="JSON object"):
        JobEnvelope.from_bytes(json.dumps(data).encode())


def _without(key: str) -> dict[str, Any]:
    data = valid()
    del data[key]
    return data


MALFORMED: dict[str, tuple[dict[str, Any], str]] = {
    "no-version": (_without("v"), "version"),
    "future-version": ({**valid(), "v": 2}, "version 2"),
    "string-version": ({**valid(), "v": "1"}, "version '1'"),
    "no-id": (_without("id"), "missing field 'id'"),
    "no-task": (_without("task"), "missing field 'task'"),
    "no-queue": (_without("queue"), "missing field 'queue'"),
    "empty-id": ({**valid(), "id": ""}, "'id'"),
    "numeric-id": ({**valid(), "id": 7}, "'id'"),
    "null-task": ({**valid(), "task": None}, "'task'"),
    "list-queue": ({**valid(), "queue": ["q"]}, "'queue'"),
    "args-object": ({**valid(), "args": {"a": 1}}, "'args'"),
    "args-null": ({**valid(), "args": None}, "'args'"),
    "kwargs-list": ({**valid(), "kwargs": [1]}, "'kwargs'"),
    "attempts-string": ({**valid(), "attempts": "1"}, "'attempts'"),
    "attempts-float": ({**valid(), "attempts": 1.0}, "'attempts'"),
    "attempts-negative": ({**valid(), "attempts": -1}, "'attempts'"),
    "max-attempts-bool": ({**valid(), "max_attempts": True}, "'max_attempts'"),
    "max-attempts-zero": ({**valid(), "max_attempts": 0}, "'max_attempts'"),
    "priority-null": ({**valid(), "priority": None}, "'priority'"),
    "timeout-string": ({**valid(), "timeout": "5"}, "'timeout'"),
    "timeout-bool": ({**valid(), "timeout": True}, "'timeout'"),
    "timeout-zero": ({**valid(), "timeout": 0}, "'timeout'"),
    "timeout-negative": ({**valid(), "timeout": -3.5}, "'timeout'"),
    "unique-key-number": ({**valid(), "unique_key": 5}, "'unique_key'"),
    "run-at-number": ({**valid(), "run_at": 1700000000}, "'run_at'"),
    "run-at-garbage": ({**valid(), "run_at": "tomorrow"}, "'run_at'"),
    "enqueued-at-garbage": ({**valid(), "enqueued_at": "2026-13-45"}, "'enqueued_at'"),
    "enqueued-at-object": ({**valid(), "enqueued_at": {}}, "'enqueued_at'"),
    "trace-string": ({**valid(), "trace": "00-abc-01"}, "'trace'"),
    "trace-number-value": ({**valid(), "trace": {"traceparent": 1}}, "'trace'"),
}


@pytest.mark.parametrize(("data", "fragment"), MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_envelopes_are_refused(data: dict[str, Any], fragment: str) -> None:
    with pytest.raises(EnvelopeError) as direct:
        JobEnvelope.from_dict(data)
    assert fragment in str(direct.value)
    with pytest.raises(EnvelopeError):
        JobEnvelope.from_bytes(json.dumps(data).encode())


def test_envelope_error_is_a_value_error() -> None:
    assert issubclass(EnvelopeError, ValueError)


TRACE = {"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "tracestate": "k=v"}


def test_a_trace_context_round_trips_and_is_absent_from_envelopes_without_one() -> None:
    traced = JobEnvelope(job_id="j", task_name="t", queue="q", trace=TRACE)
    data = json.loads(traced.to_bytes())
    assert data["trace"] == TRACE
    assert JobEnvelope.from_bytes(traced.to_bytes()) == traced
    assert JobEnvelope.from_bytes(traced.to_bytes()).next_attempt().trace == TRACE
    # Without one, the wire form is what it was before the field existed.
    assert "trace" not in json.loads(FULL.to_bytes())
    assert FULL.to_bytes() == json.dumps(FULL.to_dict(), separators=(",", ":"), ensure_ascii=False).encode()


def test_headers_round_trip_and_are_absent_from_the_wire_when_unset() -> None:
    with_headers = JobEnvelope("j", "t", "q", headers={"request_id": "r-1", "nested": {"n": [1, 2]}})
    assert JobEnvelope.from_bytes(with_headers.to_bytes()) == with_headers
    assert json.loads(with_headers.to_bytes())["headers"] == {"request_id": "r-1", "nested": {"n": [1, 2]}}
    assert "headers" not in json.loads(FULL.to_bytes())


def test_headers_that_are_not_an_object_are_refused() -> None:
    with pytest.raises(EnvelopeError, match="field 'headers' must be an object or null, got list"):
        JobEnvelope.from_dict({**valid(), "headers": ["a"]})
