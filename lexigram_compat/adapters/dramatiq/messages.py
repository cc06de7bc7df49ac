"""Job envelopes as Dramatiq messages, and back.

A job is a plain Dramatiq message: ``actor_name`` is the task name,
``args``/``kwargs`` the JSON arguments, ``message_id`` the facade's job id, so
``actor.send(...)`` from plain Dramatiq code runs too. What Dramatiq has no
field for (attempts, max attempts, priority, run-at, unique key, timeout, expiry)
rides in ``options["lexigram"]``, and so do the arguments of a job enqueued with
``compression=`` (packed; the message's own ``args``/``kwargs`` are then empty);
the failure of a dead-lettered job in ``options["lexigram_failure"]``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from dramatiq import Message, get_encoder, set_encoder
from dramatiq.common import dq_name, q_name, xq_name
from dramatiq.encoder import Encoder, JSONEncoder, MessageData

from lexigram_compat.envelope import EnvelopeError, JobEnvelope, parse_utc, utcnow
from lexigram_compat.errors import TaskNotFoundError
from lexigram_compat.foreign_payloads import describe_undecodable
from lexigram_compat.letters import dead_letter_of
from lexigram_compat.outcomes import FailureInfo, failure_of, undecodable
from lexigram_compat.queue import DeadLetter

__all__ = [
    "FAILURE_OPTION",
    "META_OPTION",
    "CheckedBody",
    "CheckedDecoder",
    "check_body",
    "delay_until",
    "dq_name",
    "envelope_of",
    "failure_option",
    "install_checked_decoder",
    "letter_of",
    "message_of",
    "message_problem",
    "q_name",
    "retry_message",
    "with_failure",
    "xq_name",
]

META_OPTION = "lexigram"
FAILURE_OPTION = "lexigram_failure"
# Bookkeeping a broker or a retry adds; a replayed or retried job starts without it.
_TRANSIENT = ("eta", "redis_message_id", "retries", "traceback", "requeue_timestamp", FAILURE_OPTION)


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "queue_name": (str,),
    "actor_name": (str,),
    "args": (list,),
    "kwargs": (dict,),
    "options": (dict,),
    "message_id": (str,),
    "message_timestamp": (int, float),
}
_REQUIRED = ("queue_name", "actor_name", "args", "kwargs", "options")
_JSON_NAMES = {dict: "an object", list: "an array", str: "a string", int: "a number", float: "a number"}


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return _JSON_NAMES.get(type(value), type(value).__name__)


def message_problem(raw: bytes) -> str | None:
    """Why ``raw`` is not a Dramatiq message, or None when it is one.

    Stricter than ``Message.decode``, which accepts any field types: a message whose
    ``options`` is a string or whose ``kwargs`` is a list decodes, then breaks the
    consumer (``options["redis_message_id"]``, ``kwargs.items()``) after the job ran
    or instead of dead-lettering it.
    """
    checked = check_body(raw)
    return checked if isinstance(checked, str) else None


class CheckedBody(bytes):
    """A delivered body parsed and checked once (:func:`check_body`): its fields ride
    with it, so Dramatiq's ``Message.decode`` takes them instead of parsing the JSON
    again (:class:`CheckedDecoder`)."""

    fields: dict[str, Any] | None


def check_body(raw: bytes) -> CheckedBody | str:
    """``raw`` with its parsed fields (:class:`CheckedBody`), or why it is not a
    Dramatiq message (see :func:`message_problem`). One JSON parse."""
    try:
        fields = json.loads(raw)
    except ValueError as exc:
        return f"not JSON ({type(exc).__name__}: {exc})"
    if not isinstance(fields, dict):
        return f"a JSON value that is {_json_kind(fields)}, not a Dramatiq message object"
    missing = [name for name in _REQUIRED if name not in fields]
    if missing:
        return f"a JSON object without the Dramatiq message field(s) {', '.join(map(repr, missing))}"
    extra = sorted(set(fields) - set(_FIELD_TYPES))
    if extra:
        return f"a JSON object with field(s) a Dramatiq message has not: {', '.join(map(repr, extra))}"
    for name, types in _FIELD_TYPES.items():
        if name in fields and (isinstance(fields[name], bool) or not isinstance(fields[name], types)):
            wanted = _json_kind(types[0]())
            return f"a Dramatiq message whose {name!r} is {_json_kind(fields[name])}, not {wanted}"
    body = CheckedBody(raw)
    body.fields = fields
    return body


class CheckedDecoder(Encoder):
    """Dramatiq's message encoder, except that a :class:`CheckedBody` decodes to the
    fields already parsed (taken once: a second decode parses again). Installed as
    Dramatiq's encoder by :func:`install_checked_decoder`; any other bytes go to the
    encoder it wraps, and so does every body when that is not Dramatiq's plain
    ``JSONEncoder`` (an app's own encoder keeps its way of decoding)."""

    def __init__(self, inner: Encoder) -> None:
        self.inner = inner
        self._plain = type(inner) is JSONEncoder

    def encode(self, data: MessageData) -> bytes:
        return self.inner.encode(data)

    def decode(self, data: bytes) -> MessageData:
        if self._plain and type(data) is CheckedBody and data.fields is not None:
            fields, data.fields = data.fields, None
            return fields
        return self.inner.decode(data)


def install_checked_decoder() -> None:
    """Wrap Dramatiq's global encoder in a :class:`CheckedDecoder` (once)."""
    current = get_encoder()
    if not isinstance(current, CheckedDecoder):
        set_encoder(CheckedDecoder(current))


def message_of(
    envelope: JobEnvelope, *, queue: str | None = None, options: dict[str, Any] | None = None
) -> Message[Any]:
    """The Dramatiq message carrying ``envelope`` (message id = job id), on
    ``queue`` (default the envelope's) with broker ``options`` added."""
    meta: dict[str, Any] = {
        "attempts": envelope.attempts,
        "max_attempts": envelope.max_attempts,
        "priority": envelope.priority,
        "enqueued_at": envelope.enqueued_at.isoformat(),
    }
    if envelope.run_at is not None:
        meta["run_at"] = envelope.run_at.isoformat()
    if envelope.unique_key is not None:
        meta["unique_key"] = envelope.unique_key
    if envelope.timeout is not None:
        meta["timeout"] = envelope.timeout
    if envelope.trace is not None:
        meta["trace"] = envelope.trace
    if envelope.headers is not None:
        meta["headers"] = envelope.headers
    args, kwargs = envelope.args, envelope.kwargs
    if envelope.expires_at is not None or envelope.compression is not None:
        wire = envelope.to_dict()  # the envelope's own expiry and packed arguments
        args, kwargs = wire["args"], wire["kwargs"]
        meta.update((key, wire[key]) for key in ("expires_at", "compression", "packed") if key in wire)
    return Message(
        queue_name=queue or envelope.queue,
        actor_name=envelope.task_name,
        args=tuple(args),
        kwargs=dict(kwargs),
        options={META_OPTION: meta, **(options or {})},
        message_id=envelope.job_id,
        message_timestamp=_ms(envelope.enqueued_at),
    )


def delay_until(run_at: datetime | None) -> int | None:
    """Milliseconds until ``run_at`` (None when due now)."""
    if run_at is None:
        return None
    delay = _ms(run_at) - _ms(utcnow())
    return delay if delay > 0 else None


def envelope_of(message: Message[Any], *, default_max_attempts: int = 1) -> JobEnvelope:
    """The envelope a delivered message carries (``attempts`` as enqueued, before
    this delivery). A message from plain Dramatiq code has no meta: it gets
    ``default_max_attempts``. Raises :class:`EnvelopeError` for a bad meta."""
    meta = message.options.get(META_OPTION) or {}
    if not isinstance(meta, dict):
        raise EnvelopeError(f"option {META_OPTION!r} must be an object, got {type(meta).__name__}")
    data = {
        "v": 1,
        "id": message.message_id,
        "task": message.actor_name,
        "queue": q_name(message.queue_name),
        "args": list(message.args),
        "kwargs": dict(message.kwargs),
        "attempts": meta.get("attempts", 0),
        "max_attempts": meta.get("max_attempts", default_max_attempts),
        "priority": meta.get("priority", 5),
        "run_at": meta.get("run_at"),
        "enqueued_at": meta.get("enqueued_at")
        or datetime.fromtimestamp(message.message_timestamp / 1000, UTC).isoformat(),
        "unique_key": meta.get("unique_key"),
        "timeout": meta.get("timeout"),
        "trace": meta.get("trace"),
        "headers": meta.get("headers"),
        "expires_at": meta.get("expires_at"),
        "compression": meta.get("compression"),
        "packed": meta.get("packed"),
    }
    return JobEnvelope.from_dict(data)


def _without_transient(options: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in options.items() if k not in _TRANSIENT}


def retry_message(message: Message[Any], attempts: int, run_at: datetime | None) -> Message[Any]:
    """The same job (same message id) for its next delivery, ``attempts`` counted."""
    meta = dict(message.options.get(META_OPTION) or {})
    meta["attempts"] = attempts
    if run_at is not None:
        meta["run_at"] = run_at.isoformat()
    options = _without_transient(dict(message.options))
    options[META_OPTION] = meta
    return Message(
        queue_name=q_name(message.queue_name),
        actor_name=message.actor_name,
        args=tuple(message.args),
        kwargs=dict(message.kwargs),
        options=options,
        message_id=message.message_id,
        message_timestamp=message.message_timestamp,
    )


def failure_option(failure: FailureInfo, attempts: int, failed_at: datetime) -> dict[str, Any]:
    """What a dead-lettered message carries about why it died."""
    return {
        "error_type": failure.error_type,
        "message": failure.message,
        "traceback": failure.traceback,
        "attempts": attempts,
        "failed_at": failed_at.isoformat(),
    }


def with_failure(message: Message[Any], failure: FailureInfo, failed_at: datetime) -> bytes:
    """``message``'s bytes with ``failure`` stored in it, for a dead letter Dramatiq's
    nack keeps (read back by :func:`letter_of`)."""
    meta = message.options.get(META_OPTION)
    attempts = meta.get("attempts", 0) + 1 if isinstance(meta, dict) else 1
    options = {FAILURE_OPTION: failure_option(failure, attempts, failed_at)}
    return bytes(message.copy(options=options).encode())


def letter_of(
    raw: bytes, job_id: str, queue: str, failed_at: datetime, *, broker_time: bool = False
) -> DeadLetter:
    """The dead letter of the bytes kept in a ``.XQ`` queue.

    ``failed_at`` is the broker's time of death when it keeps one
    (``broker_time``: Redis scores letters by it, and expires them by it);
    otherwise the time a message this library dead-lettered carries wins.
    A message this library dead-lettered carries its failure. A message Dramatiq
    dead-lettered itself (its actor is unknown to the worker) or bytes that are no
    message at all get the reason derived here, as the worker would have reported it.
    """
    try:
        problem = message_problem(raw)
        if problem is not None:
            raise EnvelopeError(problem)
        message = Message.decode(raw)
        envelope = envelope_of(message)
    except Exception as exc:
        failure = undecodable(describe_undecodable(raw, exc, "Dramatiq")).failure
        return dead_letter_of(None, failure, job_id=job_id, queue=queue, failed_at=failed_at, raw=raw)
    stored = message.options.get(FAILURE_OPTION)
    if not isinstance(stored, dict):
        missing = TaskNotFoundError(f"no task named {envelope.task_name!r} is registered in this worker")
        failure = failure_of(missing, with_traceback=False)
        return dead_letter_of(envelope, failure, attempts=envelope.attempts + 1, failed_at=failed_at)
    failure = FailureInfo(
        str(stored.get("error_type", "")), str(stored.get("message", "")), stored.get("traceback")
    )
    when = failed_at if broker_time else parse_utc(stored.get("failed_at")) or failed_at
    attempts = int(stored.get("attempts", envelope.attempts))
    return dead_letter_of(envelope, failure, attempts=attempts, failed_at=when)
