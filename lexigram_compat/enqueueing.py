"""Turning a TaskCall plus options into a job envelope: the enqueue policy.

Validation, routing to a backend, capability checks, argument encoding, the
idempotency key, the job id and the payload limit all happen here, once, for
every engine. Expected failures are raised as ``TaskQueueError`` subclasses
and turned into ``Err`` by the queue.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from lexigram_compat.calls import NO_OPTIONS, CallOptions, TaskCall
from lexigram_compat.compression import validate_compression
from lexigram_compat.envelope import JobEnvelope, WireStencil, utcnow
from lexigram_compat.errors import (
    PayloadTooLargeError,
    SerializationError,
    TaskNotFoundError,
    TaskValidationError,
    UnsupportedOptionError,
)
from lexigram_compat.retry import RetryPolicy
from lexigram_compat.tasks import Priority, Task, validate_expires, validate_priority, validate_queue_name
from lexigram_compat.tracing import current_trace

if TYPE_CHECKING:
    from lexigram_compat.backends import Backend, BackendSet
    from lexigram_compat.engine_contract import Engine
    from lexigram_compat.registry import TaskRegistry

__all__ = ["JobBuilder", "PreparedJob"]

MAX_JOB_ID_LENGTH = 255
# The variant's hex digit (binary 10xx) for a random one: its two low bits kept.
_VARIANT = {digit: "89ab"[int(digit, 16) & 3] for digit in "0123456789abcdef"}


def _format_id(h: str) -> str:
    """``str(uuid.uuid4())`` of 32 random hex digits ``h``, without building a ``UUID``
    object: version 4 and variant 10 written over their digits (122 random bits)."""
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:]}"


def _new_job_id() -> str:
    """A random job id, as ``str(uuid.uuid4())``."""
    return _format_id(os.urandom(16).hex())


def _new_job_ids(count: int) -> Iterator[str]:
    """``count`` ids as :func:`_new_job_id` makes them, from one read of the system's
    random source."""
    h = os.urandom(16 * count).hex()
    for i in range(0, 32 * count, 32):
        yield _format_id(h[i : i + 32])


@dataclass(frozen=True)
class PreparedJob:
    """An envelope and the backend that will store it."""

    backend: Backend
    envelope: JobEnvelope

    @property
    def engine(self) -> Engine:
        return self.backend.engine


def _options(call: TaskCall, explicit: CallOptions) -> CallOptions:
    own = call.call_options
    if (explicit is NO_OPTIONS or explicit == NO_OPTIONS) and (own is NO_OPTIONS or own == NO_OPTIONS):
        return NO_OPTIONS  # the common case: nothing set, nothing to check
    merged = call.call_options.merged(explicit)
    if merged.delay is not None and merged.eta is not None:
        raise TaskValidationError(
            f"{call.name}: both delay={merged.delay!r} and eta={merged.eta!r} were given",
            hint="give either delay (seconds from now) or eta (a datetime), not both",
        )
    if merged.delay is not None and (
        isinstance(merged.delay, bool)
        or not isinstance(merged.delay, int | float)
        or merged.delay < 0
        or not math.isfinite(merged.delay)
    ):
        raise TaskValidationError(
            f"{call.name}: delay={merged.delay!r} is not a number of seconds >= 0",
            hint="pass delay as seconds, e.g. delay=30",
        )
    if merged.eta is not None and not isinstance(merged.eta, datetime):
        raise TaskValidationError(
            f"{call.name}: eta={merged.eta!r} is not a datetime",
            hint="pass a timezone-aware datetime (a naive one is read as UTC)",
        )
    if merged.job_id is not None and (
        not isinstance(merged.job_id, str) or not 0 < len(merged.job_id) <= MAX_JOB_ID_LENGTH
    ):
        raise TaskValidationError(
            f"{call.name}: job_id={merged.job_id!r} must be a non-empty string of at most "
            f"{MAX_JOB_ID_LENGTH} characters",
        )
    if merged.headers is not None and not (
        isinstance(merged.headers, Mapping) and all(isinstance(k, str) for k in merged.headers)
    ):
        raise TaskValidationError(
            f"{call.name}: headers={merged.headers!r} must be a mapping with str keys",
            hint="pass JSON-friendly values, e.g. headers={'request_id': 'abc'}",
        )
    if merged.idempotency_key is not None and not isinstance(merged.idempotency_key, str):
        raise TaskValidationError(f"{call.name}: idempotency_key={merged.idempotency_key!r} must be a str")
    try:
        if merged.priority is not None:
            validate_priority(merged.priority, call.name)
        if merged.queue is not None:
            validate_queue_name(merged.queue, call.name)
        validate_compression(merged.compression, call.name)
        if merged.expires is not None and not isinstance(merged.expires, datetime):
            validate_expires(merged.expires, call.name)
    except ValueError as exc:
        raise TaskValidationError(str(exc)) from None
    return merged


def _run_at(name: str, options: CallOptions) -> datetime | None:
    if options.delay:
        try:
            return utcnow() + timedelta(seconds=float(options.delay))
        except OverflowError:
            raise TaskValidationError(
                f"{name}: delay={options.delay!r} seconds is past the largest datetime",
                hint="pass a smaller delay (seconds from now), or an eta",
            ) from None
    if options.eta is not None:
        eta = options.eta
        return eta if eta.tzinfo else eta.replace(tzinfo=UTC)
    return None


def _expires_at(name: str, options: CallOptions, task_expires: float | None) -> datetime | None:
    """The job's expiry: the call's (seconds or ``timedelta`` from now, or a time), else
    the task's (seconds from now), else none."""
    expires = options.expires if options.expires is not None else task_expires
    if expires is None:
        return None
    if isinstance(expires, datetime):
        return expires if expires.tzinfo else expires.replace(tzinfo=UTC)
    seconds = validate_expires(expires, name)  # checked already: seconds as a float
    assert seconds is not None
    try:
        return utcnow() + timedelta(seconds=seconds)
    except OverflowError:
        raise TaskValidationError(
            f"{name}: expires={expires!r} seconds is past the largest datetime",
            hint="pass a smaller number of seconds, or a datetime",
        ) from None


class _Plan:
    """What every job of one task call shape shares: the options, the task, the
    backend and the envelope's columns other than its id, arguments and key.

    ``build`` makes one per call; ``build_many`` one per task among calls without
    options, so a batch decides these once. ``columns`` are computed at the first
    job's envelope (after its arguments were checked), so each error is raised at
    the same step as when every job was built alone.
    """

    __slots__ = ("_columns", "_stencil", "backend", "caps", "name", "options", "physical", "task")

    def __init__(
        self, name: str, options: CallOptions, task: Task[Any, Any] | None, backend: Backend, physical: str
    ) -> None:
        self.name = name
        self.options = options
        self.task = task
        self.backend = backend
        self.physical = physical
        self.caps = backend.engine.capabilities
        self._columns: dict[str, Any] | None = None
        self._stencil: WireStencil | bool = False  # False: not decided yet; True: none fits

    def where(self) -> str:  # only for an error: the happy path builds no message
        return f"{self.name} on the {self.backend.key} engine"

    def write(self, envelope: JobEnvelope) -> None:
        """Give ``envelope`` (one of this plan's, with no fire key) its wire bytes from
        the plan's stencil, made from the first such envelope when its fields fit."""
        stencil = self._stencil
        if stencil is False:
            stencil = self._stencil = WireStencil(envelope) if WireStencil.fits(envelope) else True
        if isinstance(stencil, WireStencil):
            envelope.write_with(stencil)

    def columns(self, default_policy: RetryPolicy) -> dict[str, Any]:
        """The envelope's shared fields (computed once)."""
        if self._columns is None:
            name, options, task = self.name, self.options, self.task
            policy = task.policy(default_policy) if task else default_policy
            priority = options.priority if options.priority is not None else (task.priority if task else None)
            self._columns = {
                "task_name": name,
                "queue": self.physical,
                "attempts": 0,
                "max_attempts": policy.max_attempts,
                "priority": int(priority if priority is not None else Priority.NORMAL),
                "run_at": _run_at(name, options),
                "enqueued_at": utcnow(),
                "timeout": task.timeout if task else None,
                "trace": current_trace(),
                "headers": _headers(name, options.headers),
                "expires_at": _expires_at(name, options, task.expires if task else None),
                "compression": options.compression or (task.compression if task else None),
            }
        return self._columns


class JobBuilder:
    """Builds envelopes for one app (its registry, config and backends)."""

    def __init__(
        self,
        registry: TaskRegistry,
        backends: BackendSet,
        default_policy: RetryPolicy,
        max_payload_bytes: int,
    ) -> None:
        self.registry = registry
        self.backends = backends
        self.default_policy = default_policy
        self.max_payload_bytes = max_payload_bytes

    def build(
        self,
        call: TaskCall,
        explicit: CallOptions,
        *,
        origin: Backend,
        require_registered: bool = True,
        connection: Any = None,
        fire_key: str | None = None,
    ) -> PreparedJob:
        """Validate ``call`` and produce the envelope; raise ``TaskQueueError`` on bad input."""
        plan = self._plan(call, explicit, origin, require_registered, connection)
        return self._job(plan, call, fire_key, None)

    def build_many(self, calls: Sequence[TaskCall], *, origin: Backend) -> list[PreparedJob]:
        """``build`` of each call without explicit options, in order; calls of one task
        without options of their own share one plan (one clock reading, one trace
        context, one retry policy lookup)."""
        plans: dict[str, _Plan] = {}
        jobs = []
        ids = _new_job_ids(len(calls))
        for call in calls:
            plan = None
            if type(call) is TaskCall and call.call_options is NO_OPTIONS:
                plan = plans.get(call.name)
                if plan is None:
                    plan = plans[call.name] = self._plan(call, NO_OPTIONS, origin, True, None)
            else:
                plan = self._plan(call, NO_OPTIONS, origin, True, None)
            jobs.append(self._job(plan, call, None, ids))
        return jobs

    def _plan(
        self,
        call: TaskCall,
        explicit: CallOptions,
        origin: Backend,
        require_registered: bool,
        connection: Any,
    ) -> _Plan:
        if not isinstance(call, TaskCall):
            raise TaskValidationError(
                f"enqueue() takes a TaskCall, got {type(call).__name__}",
                hint="call the task to build one: queue.enqueue(my_task(arg=...))",
            )
        options = _options(call, explicit)
        task = self.registry.get(call.name)
        if task is None and require_registered:
            raise TaskNotFoundError(
                f"no task named {call.name!r} is registered in this app",
                hint="import the module that declares it before enqueueing, or use "
                "queue.send_task(name, ...) for a task defined in another service",
            )
        queue_name = options.queue or (task.queue if task else None)
        backend, physical = self.backends.route(queue_name, origin)
        plan = _Plan(call.name, options, task, backend, physical)
        caps = plan.caps
        if (options.delay or options.eta is not None) and not caps.delay:
            raise UnsupportedOptionError(f"{plan.where()}: delay/eta is not supported")
        if options.priority is not None and not caps.priority:
            raise UnsupportedOptionError(f"{plan.where()}: priority is not supported")
        if connection is not None and not caps.transactional_enqueue:
            raise UnsupportedOptionError(
                f"{plan.where()}: connection= (transactional enqueue) is not supported",
                hint="use the postgres backend for jobs that commit with your data",
            )
        return plan

    def _job(
        self, plan: _Plan, call: TaskCall, fire_key: str | None, ids: Iterator[str] | None
    ) -> PreparedJob:
        task, options = plan.task, plan.options
        try:
            args, kwargs = (
                task.params.encode(call.name, call.args, call.kwargs)
                if task
                else _plain(call.name, call.args, call.kwargs)
            )
        except TypeError as exc:
            raise TaskValidationError(str(exc)) from None
        key = options.idempotency_key
        if key is None and task is not None and task.idempotency_key is not None:
            try:
                key = task.idempotency_key(*call.args, **call.kwargs)
            except Exception as exc:
                raise TaskValidationError(
                    f"{call.name}: the idempotency_key function raised {type(exc).__name__}: {exc}"
                ) from exc
            if key is not None and not isinstance(key, str):
                raise TaskValidationError(
                    f"{call.name}: the idempotency_key function returned {key!r}, not a str"
                )
        unique_key = None
        if key is not None:
            if not plan.caps.idempotency_keys:
                raise UnsupportedOptionError(f"{plan.where()}: idempotency keys are not supported")
            unique_key = f"idem:{call.name}:{key}"
        job_id = options.job_id or (next(ids) if ids is not None else _new_job_id())
        envelope = JobEnvelope.of(
            {
                **plan.columns(self.default_policy),
                "job_id": job_id,
                "args": args,
                "kwargs": kwargs,
                "unique_key": unique_key,
                "fire_key": fire_key,
            }
        )
        if ids is not None:  # a batch: the wire text the plan's jobs share is written once
            plan.write(envelope)
        size = len(envelope.to_bytes())
        if size > self.max_payload_bytes:
            raise PayloadTooLargeError(
                f"{call.name}: the job is {size} bytes, over tasks.max_payload_bytes="
                f"{self.max_payload_bytes}",
            )
        return PreparedJob(plan.backend, envelope)


def _headers(name: str, headers: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not headers:
        return None
    from lexigram_compat.serialization import dumps, loads

    try:
        plain: dict[str, Any] = loads(dumps(dict(headers)))
    except (TypeError, ValueError) as exc:
        raise SerializationError(
            f"{name}: headers cannot be serialised to JSON: {exc}",
            hint="give headers JSON-friendly values (str, numbers, lists, objects)",
        ) from None
    return plain


def _plain(name: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> tuple[list[Any], dict[str, Any]]:
    from lexigram_compat.serialization import dumps, loads

    try:
        return loads(dumps(list(args))), loads(dumps(dict(kwargs)))
    except (TypeError, ValueError) as exc:
        raise SerializationError(
            f"{name}: arguments cannot be serialised to JSON: {exc}",
            hint="send JSON-friendly values to tasks this app does not declare",
        ) from None
