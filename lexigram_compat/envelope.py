"""The neutral job envelope every engine carries, and its JSON wire form.

Policy above the adapter line produces envelopes (arguments already JSON,
max attempts resolved, a job id chosen); an engine stores or transports them
and hands them back to a worker. Engines with a wire format of their own
(Celery protocol v2, Dramatiq messages) translate from this.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from json.encoder import encode_basestring as _quote
from typing import Any

from lexigram_compat.compression import CompressionError, pack, unpack
from lexigram_compat.serialization import dumps, dumps_text, loads

__all__ = ["ENVELOPE_VERSION", "EnvelopeError", "JobEnvelope", "utcnow"]

ENVELOPE_VERSION = 1


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def parse_utc(value: Any) -> datetime | None:
    """An ISO timestamp as an aware datetime (naive ones read as UTC); None for anything
    else: the tolerant reading of a time a broker message or stored record carries."""
    try:
        return _time(value, "") if isinstance(value, str) else None
    except EnvelopeError:
        return None


class EnvelopeError(ValueError):
    """Bytes that are not a job envelope."""


def _time(value: Any, key: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise EnvelopeError(f"field {key!r} must be an ISO timestamp, got {type(value).__name__}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise EnvelopeError(f"field {key!r}: {exc}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


_FIRE_FIELD = '"fire_key":'


def _plain(e: JobEnvelope) -> bool:
    """Whether every field but the arguments has its plain type (and the optional
    ones that change the wire form are unset): the fields :func:`_wire_of` writes."""
    key, fire, timeout, run_at = e.unique_key, e.fire_key, e.timeout, e.run_at
    return (
        e.trace is None
        and e.headers is None
        and e.expires_at is None
        and e.compression is None
        and type(e.job_id) is str
        and type(e.task_name) is str
        and type(e.queue) is str
        and type(e.attempts) is int
        and type(e.max_attempts) is int
        and type(e.priority) is int
        and (key is None or type(key) is str)
        and (fire is None or type(fire) is str)
        and (timeout is None or (type(timeout) is float and math.isfinite(timeout)))
        and (run_at is None or type(run_at) is datetime)
        and type(e.enqueued_at) is datetime
    )


def _arguments(e: JobEnvelope) -> tuple[str, str]:
    args = "[]" if type(e.args) is list and not e.args else dumps_text(e.args)
    kwargs = "{}" if type(e.kwargs) is dict and not e.kwargs else dumps_text(e.kwargs)
    return args, kwargs


def _shared_parts(e: JobEnvelope) -> tuple[str, str, str]:
    """The wire text between the id and the arguments, between the arguments and the
    idempotency key, and after the key: the same for every job of one task with the
    same options (see :class:`WireStencil`)."""
    fire, timeout, run_at = e.fire_key, e.timeout, e.run_at
    return (
        f',"task":{_quote(e.task_name)},"queue":{_quote(e.queue)},"args":',
        f',"attempts":{e.attempts},"max_attempts":{e.max_attempts},"priority":{e.priority},'
        f'"run_at":{"null" if run_at is None else _quote(run_at.isoformat())},'
        f'"enqueued_at":{_quote(e.enqueued_at.isoformat())},"unique_key":',
        f",{'' if fire is None else _FIRE_FIELD + _quote(fire) + ','}"
        f'"timeout":{"null" if timeout is None else float.__repr__(timeout)}}}',
    )


def _wire_of(envelope: JobEnvelope) -> bytes | None:
    """``dumps(envelope.to_dict())``, written field by field (no dict, no walk of
    it), when every field has its plain type; None otherwise."""
    if not _plain(envelope):
        return None
    return WireStencil(envelope).render(envelope)


class WireStencil:
    """The wire bytes of envelopes that differ from ``sample`` only by id, arguments
    and idempotency key (one task's jobs in a batch): the rest is written once."""

    __slots__ = ("_parts",)

    def __init__(self, sample: JobEnvelope) -> None:
        self._parts = _shared_parts(sample)

    def render(self, e: JobEnvelope) -> bytes:
        """``e.to_bytes()`` for such an envelope with plain-typed fields."""
        head, middle, tail = self._parts
        args, kwargs = _arguments(e)
        key = e.unique_key
        return (
            f'{{"v":{ENVELOPE_VERSION},"id":{_quote(e.job_id)}{head}{args},"kwargs":{kwargs}'
            f"{middle}{'null' if key is None else _quote(key)}{tail}"
        ).encode()

    @staticmethod
    def fits(e: JobEnvelope) -> bool:
        """Whether ``e`` can be written by a stencil (of an envelope like it)."""
        return _plain(e)


@dataclass(frozen=True)
class JobEnvelope:
    """One job as engines see it.

    Attributes:
        job_id: Unique id (UUID string unless the caller chose one).
        task_name: Registered task name.
        queue: Physical queue name.
        args: JSON-native positional arguments.
        kwargs: JSON-native keyword arguments.
        attempts: Attempts already started (0 when first enqueued).
        max_attempts: Total attempts this job may have.
        priority: Higher runs first.
        run_at: Not before this time (``None``: now).
        enqueued_at: When the job was first enqueued.
        unique_key: At most one live job per key (idempotency keys), for as long as
            the job's record is kept.
        fire_key: The schedule fire time this job is (``ledger.fire_key``): at most
            one job per fire key, ever (``ledger.FIRE_GUARD_SECONDS``), whatever the
            job's retention.
        timeout: Seconds per attempt (``None``: the worker's default).
        trace: The W3C trace context (``traceparent``, ``tracestate``) of the span
            that enqueued the job (:mod:`lexigram_compat.tracing`), or ``None``.
        headers: JSON-native headers given at enqueue (``headers=``), seen by the task
            through :class:`~lexigram_compat.job_context.JobContext`, or ``None``.
        expires_at: An attempt not started by this time is not run: the job ends as a
            dead letter with :class:`~lexigram_compat.errors.JobExpiredError` (``None``: never).
        compression: The codec the arguments travel compressed with on the wire
            (:mod:`lexigram_compat.compression`), or ``None``. ``args``/``kwargs`` are
            always the plain values here; :meth:`to_dict` packs them.
    """

    job_id: str
    task_name: str
    queue: str
    args: list[Any] = field(default_factory=list)
    kwargs: dict[str, Any] = field(default_factory=dict)
    attempts: int = 0
    max_attempts: int = 1
    priority: int = 5
    run_at: datetime | None = None
    enqueued_at: datetime = field(default_factory=utcnow)
    unique_key: str | None = None
    timeout: float | None = None
    fire_key: str | None = None
    trace: dict[str, str] | None = None
    headers: dict[str, Any] | None = None
    expires_at: datetime | None = None
    compression: str | None = None

    @classmethod
    def of(cls, fields: dict[str, Any]) -> JobEnvelope:
        """An envelope from a value for every field, by name (the builder's hot path:
        no keyword binding and no frozen ``__setattr__`` per field, which cost more
        than the rest of building a job). ``fields`` must hold exactly the fields."""
        envelope = object.__new__(cls)
        envelope.__dict__.update(fields)
        return envelope

    def write_with(self, stencil: WireStencil) -> None:
        """Keep ``stencil``'s rendering as this envelope's wire bytes (``to_bytes``):
        for an envelope that differs from the stencil's sample only by id, arguments
        and idempotency key."""
        self.__dict__["_wire"] = stencil.render(self)

    def to_dict(self) -> dict[str, Any]:
        """The JSON-native form (``fire_key``, ``trace``, ``headers``, ``expires_at`` and
        ``compression`` only when set; with ``compression``, ``args`` and ``kwargs`` are
        empty and ``packed`` carries them)."""
        data = {
            "v": ENVELOPE_VERSION,
            "id": self.job_id,
            "task": self.task_name,
            "queue": self.queue,
            "args": self.args,
            "kwargs": self.kwargs,
            "attempts": self.attempts,
            "max_attempts": self.max_attempts,
            "priority": self.priority,
            "run_at": self.run_at.isoformat() if self.run_at else None,
            "enqueued_at": self.enqueued_at.isoformat(),
            "unique_key": self.unique_key,
        }
        if self.fire_key is not None:
            data["fire_key"] = self.fire_key
        data["timeout"] = self.timeout
        if self.trace is not None:
            data["trace"] = self.trace
        if self.headers is not None:
            data["headers"] = self.headers
        if self.expires_at is not None:
            data["expires_at"] = self.expires_at.isoformat()
        if self.compression is not None:
            data["args"], data["kwargs"] = [], {}
            data["compression"] = self.compression
            data["packed"] = self._packed(self.compression)
        return data

    def _packed(self, codec: str) -> str:
        """The compressed arguments, packed once (frozen: the size check's ``to_bytes`` and
        an engine's ``to_dict`` share them, as ``to_bytes`` shares its bytes)."""
        packed: str | None = self.__dict__.get("_packed_args")
        if packed is None:
            packed = self.__dict__["_packed_args"] = pack(codec, self.args, self.kwargs)
        return packed

    def to_bytes(self) -> bytes:
        """Compact JSON bytes."""
        # Frozen, so the bytes never go stale: the size check and the engine
        # share one serialisation (kept in the instance dict, without the lock
        # functools.cached_property takes on every first access).
        wire: bytes | None = self.__dict__.get("_wire")
        if wire is None:
            wire = self.__dict__["_wire"] = _wire_of(self) or dumps(self.to_dict())
        return wire

    @classmethod
    def from_dict(cls, data: Any) -> JobEnvelope:
        """Read the JSON-native form; raise :class:`EnvelopeError` when it is not one."""
        if not isinstance(data, dict):
            raise EnvelopeError(f"a job envelope is a JSON object, got {type(data).__name__}")
        if data.get("v") != ENVELOPE_VERSION:
            raise EnvelopeError(f"unknown envelope version {data.get('v')!r}")
        try:
            job_id, task_name, queue = data["id"], data["task"], data["queue"]
        except KeyError as exc:
            raise EnvelopeError(f"missing field {exc.args[0]!r}") from None
        for key, value in (("id", job_id), ("task", task_name), ("queue", queue)):
            if not isinstance(value, str) or not value:
                raise EnvelopeError(f"field {key!r} must be a non-empty string")
        args, kwargs = data.get("args", []), data.get("kwargs", {})
        compression = data.get("compression")
        if compression is not None:
            try:
                args, kwargs = unpack(compression, data.get("packed"))
            except CompressionError as exc:
                raise EnvelopeError(f"field 'packed': {exc}") from None
        if not isinstance(args, list) or not isinstance(kwargs, dict):
            raise EnvelopeError("fields 'args' and 'kwargs' must be a list and an object")
        attempts, max_attempts = data.get("attempts", 0), data.get("max_attempts", 1)
        priority = data.get("priority", 5)
        for key, value in (("attempts", attempts), ("max_attempts", max_attempts), ("priority", priority)):
            if type(value) is not int and (isinstance(value, bool) or not isinstance(value, int)):
                raise EnvelopeError(f"field {key!r} must be an integer")
        if attempts < 0 or max_attempts < 1:
            raise EnvelopeError("fields 'attempts' and 'max_attempts' must be >= 0 and >= 1")
        timeout = data.get("timeout")
        if timeout is not None and (
            isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0
        ):
            raise EnvelopeError(f"field 'timeout' must be a number of seconds > 0, got {timeout!r}")
        unique_key = data.get("unique_key")
        if unique_key is not None and not isinstance(unique_key, str):
            raise EnvelopeError("field 'unique_key' must be a string or null")
        fire_key = data.get("fire_key")
        if fire_key is not None and not isinstance(fire_key, str):
            raise EnvelopeError("field 'fire_key' must be a string or null")
        trace = data.get("trace")
        if trace is not None and not (
            isinstance(trace, dict)
            and all(isinstance(k, str) and isinstance(v, str) for k, v in trace.items())
        ):
            raise EnvelopeError(f"field 'trace' must be an object of strings or null, got {trace!r}")
        headers = data.get("headers")
        if headers is not None and not isinstance(headers, dict):
            raise EnvelopeError(f"field 'headers' must be an object or null, got {type(headers).__name__}")
        return cls(
            job_id=job_id,
            task_name=task_name,
            queue=queue,
            args=args,
            kwargs=kwargs,
            attempts=attempts,
            max_attempts=max_attempts,
            priority=priority,
            run_at=_time(data.get("run_at"), "run_at"),
            enqueued_at=_time(data.get("enqueued_at"), "enqueued_at") or utcnow(),
            unique_key=unique_key,
            timeout=None if timeout is None else float(timeout),
            fire_key=fire_key,
            trace=trace or None,
            headers=headers or None,
            expires_at=_time(data.get("expires_at"), "expires_at"),
            compression=compression,
        )

    @classmethod
    def from_bytes(cls, raw: bytes | str) -> JobEnvelope:
        """Parse bytes from a queue; raise :class:`EnvelopeError` for anything else."""
        try:
            data = loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise EnvelopeError(f"not JSON: {exc}") from None
        except RecursionError:
            raise EnvelopeError("not JSON: nested too deeply") from None
        return cls.from_dict(data)

    def next_attempt(self) -> JobEnvelope:
        """The envelope as claimed for its next attempt."""
        return replace(self, attempts=self.attempts + 1)
