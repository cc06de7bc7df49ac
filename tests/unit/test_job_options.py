"""The parts of ``expires``, ``compression`` and ``rate_limit`` below the engines: the
envelope's wire form, each engine's translation of it, the rate and expiry rules."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from celery import Celery as NativeCelery
from kombu.compression import decompress

from lexigram_compat import JobExpiredError, task
from lexigram_compat.adapters.celery.redis_wire import EXPIRES_KEY, RedisWire, request_expires_at
from lexigram_compat.adapters.dramatiq.messages import envelope_of, message_of
from lexigram_compat.envelope import EnvelopeError, JobEnvelope, utcnow
from lexigram_compat.rate_limits import RateLimiter, parse_rate_limit
from lexigram_compat.registry import TaskRegistry
from lexigram_compat.worker.settle import expired

ARGS = ["x" * 5000, {"nested": list(range(100))}]
KWARGS = {"note": "y" * 5000}
EXPIRES_AT = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)


def _envelope(compression: str | None) -> JobEnvelope:
    return JobEnvelope("job-1", "t.big", "q", list(ARGS), dict(KWARGS), compression=compression,
                       expires_at=EXPIRES_AT)  # fmt: skip


@pytest.mark.parametrize("codec", ["zlib", "gzip", "bzip2", "lzma"])
def test_the_envelope_packs_compressed_arguments_and_reads_them_back(codec: str) -> None:
    plain, packed = _envelope(None), _envelope(codec)
    wire = json.loads(packed.to_bytes())
    assert (wire["args"], wire["kwargs"], wire["compression"]) == ([], {}, codec)
    assert len(packed.to_bytes()) < len(plain.to_bytes()) / 5
    back = JobEnvelope.from_bytes(packed.to_bytes())
    assert (back.args, back.kwargs, back.compression, back.expires_at) == (ARGS, KWARGS, codec, EXPIRES_AT)
    assert JobEnvelope.from_bytes(plain.to_bytes()).expires_at == EXPIRES_AT


def test_packed_arguments_that_cannot_be_read_are_not_an_envelope() -> None:
    wire = json.loads(_envelope("zlib").to_bytes())
    for packed, compression, message in (
        ("not base64!", "zlib", "cannot be read"),
        (base64.b64encode(b"plain").decode(), "zlib", "cannot be read"),
        (wire["packed"], "snappy", "unknown compression 'snappy'"),
        (None, "zlib", "must be base64 text"),
    ):
        with pytest.raises(EnvelopeError, match=message):
            JobEnvelope.from_dict({**wire, "packed": packed, "compression": compression})


def test_dramatiq_messages_carry_the_packed_arguments_and_the_expiry() -> None:
    message = message_of(_envelope("zlib"))
    assert (message.args, message.kwargs) == ((), {})
    assert message.options["lexigram"]["compression"] == "zlib"
    back = envelope_of(message)
    assert (back.args, back.kwargs, back.expires_at) == (ARGS, KWARGS, EXPIRES_AT)


def test_celery_redis_messages_are_compressed_as_kombu_does_and_carry_the_expiry() -> None:
    wire = RedisWire(NativeCelery("unit", set_as_current=False), "")
    message = json.loads(wire.envelope(_envelope("zlib")))
    assert message["headers"]["compression"] == "application/x-gzip"
    assert message["headers"][EXPIRES_KEY] == EXPIRES_AT.isoformat()
    assert message["headers"]["expires"] is None  # not Celery's own: see EXPIRES_KEY
    body = decompress(base64.b64decode(message["body"]), "application/x-gzip")  # what a Celery worker does
    assert json.loads(body)[:2] == [ARGS, KWARGS]

    class Request:
        lexigram_expires_at = EXPIRES_AT.isoformat()

    assert request_expires_at(Request()) == EXPIRES_AT
    assert request_expires_at(object()) is None


@pytest.mark.parametrize(
    ("value", "per_second"),
    [("10/s", 10.0), ("100/m", 100 / 60), ("1000/h", 1000 / 3600), ("5", 5.0), (2.5, 2.5), ("0", None),
     (None, None)],
)  # fmt: skip
def test_rate_limits_are_read_in_celerys_forms(value: object, per_second: float | None) -> None:
    assert parse_rate_limit(value, "t") == (pytest.approx(per_second) if per_second else None)


@pytest.mark.parametrize("value", ["ten/s", "10/d", "10/", -1, True, float("inf")])
def test_a_rate_limit_that_is_no_rate_is_refused_naming_it(value: object) -> None:
    with pytest.raises(ValueError, match=r"rate_limit="):
        parse_rate_limit(value, "@task on 't'")


def test_the_limiter_spaces_reservations_evenly_without_a_burst() -> None:
    limiter = RateLimiter(10.0)
    waits = [limiter.reserve() for _ in range(5)]
    assert waits[0] == 0.0
    for index, wait in enumerate(waits[1:], start=1):
        assert index * 0.1 - 0.01 <= wait <= index * 0.1  # reserved back to back, no sleeping


def test_a_task_refuses_an_expiry_that_is_not_a_duration() -> None:
    registry = TaskRegistry()
    for bad in (0, -5, "60", datetime.now(UTC), True):
        with pytest.raises(ValueError, match=r"expires=.* is not valid; use seconds > 0 or a timedelta"):
            task(expires=bad, registry=registry)(lambda: None)  # type: ignore[arg-type]
    declared = task(expires=timedelta(seconds=90), name="t.ok", registry=registry)(lambda: None)
    assert declared.expires == 90.0


def test_an_attempt_after_the_expiry_is_a_dead_letter_naming_it() -> None:
    now = utcnow()
    assert expired(JobEnvelope("j", "t", "q", attempts=1)) is None
    assert expired(JobEnvelope("j", "t", "q", attempts=1, expires_at=now + timedelta(seconds=60))) is None
    outcome = expired(JobEnvelope("j", "t", "q", attempts=3, expires_at=now - timedelta(seconds=2)))
    assert outcome is not None
    assert isinstance(outcome.error, JobExpiredError)
    assert outcome.failure.error_type.endswith("JobExpiredError")
    assert f"expired at {(now - timedelta(seconds=2)).isoformat()} before attempt 3 started" in str(
        outcome.error
    )
