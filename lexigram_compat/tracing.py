"""Trace context across the queue, with OpenTelemetry when it is installed (the
``otel`` extra).

At enqueue, :func:`current_trace` takes the W3C ``traceparent``/``tracestate``
of the span active in the caller (through OpenTelemetry's configured
propagator) and the job carries it (``JobEnvelope.trace``; on Celery also the
message headers, where Celery's own OpenTelemetry instrumentation looks). In
the worker, the settle step runs each attempt inside :func:`attempt_span`: a
``CONSUMER`` span whose parent is that context, so the attempt (and any span
the task opens) joins the producer's trace, on every engine.

Without OpenTelemetry both cost one cached check: the hot paths stay as they are.
Which SDK, exporter and sampler record the spans is the application's choice;
this module only uses the API.
"""

from __future__ import annotations

import contextlib
import importlib.util
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from lexigram_compat.config import redact_text
from lexigram_compat.outcomes import Completed, RetryLater

if TYPE_CHECKING:
    from lexigram_compat.envelope import JobEnvelope
    from lexigram_compat.outcomes import Outcome

__all__ = ["TRACE_HEADERS", "AttemptSpan", "attempt_span", "current_trace", "trace_of"]

TRACE_HEADERS = ("traceparent", "tracestate")
"""The W3C trace-context keys a job carries (and Celery message headers hold)."""
TRACER_NAME = "lexigram_compat"

_available: bool | None = None
_api: Any = None
"""``opentelemetry.trace``, once imported (kept: the attempt path looks it up per job)."""


def _otel() -> bool:
    global _available, _api  # noqa: PLW0603 - one import check per process, on the hot path
    if _available is None:
        _available = importlib.util.find_spec("opentelemetry") is not None
        if _available:
            from opentelemetry import trace

            _api = trace
    return _available


def current_trace() -> dict[str, str] | None:
    """The trace context of the span active here, as W3C headers; None without
    OpenTelemetry or without a span to continue."""
    if not _otel():
        return None
    from opentelemetry import propagate

    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return trace_of(carrier)


def trace_of(carrier: Any) -> dict[str, str] | None:
    """The trace-context entries of a mapping or an object with those attributes
    (a Celery request), or None when it has no ``traceparent``."""
    found: dict[str, str] = {}
    for key in TRACE_HEADERS:
        value = carrier.get(key) if isinstance(carrier, dict) else getattr(carrier, key, None)
        if isinstance(value, str) and value:
            found[key] = value
    return found if "traceparent" in found else None


class AttemptSpan:
    """The span of one attempt (a no-op without OpenTelemetry): :meth:`end_with`
    records the attempt's outcome on it."""

    def __init__(self, span: Any = None) -> None:
        self.span = span

    def end_with(self, outcome: Outcome) -> None:
        """Mark the span with ``outcome``: a failed attempt gets an error status and
        an ``exception`` event (its message redacted like a log line's; no traceback)."""
        if self.span is None:
            return
        if isinstance(outcome, Completed):
            self.span.set_attribute("lexigram.outcome", "succeeded")
            return
        from opentelemetry.trace import Status, StatusCode

        failure = outcome.failure
        message = redact_text(failure.message)
        self.span.set_attribute(
            "lexigram.outcome", "retried" if isinstance(outcome, RetryLater) else "dead_lettered"
        )
        self.span.set_attribute("error.type", failure.error_type)
        self.span.add_event("exception", {"exception.type": failure.error_type, "exception.message": message})
        self.span.set_status(Status(StatusCode.ERROR, f"{failure.error_type}: {message}"))


_NO_SPAN = AttemptSpan()
_tracer: tuple[Any, Any] = (None, None)
"""(provider, its tracer): the last tracer made, reused while the provider is the same."""


def _tracer_of(provider: Any) -> Any:
    global _tracer  # noqa: PLW0603 - a per-process cache on a job's hot path
    if _tracer[0] is not provider:
        _tracer = (provider, provider.get_tracer(TRACER_NAME))
    return _tracer[1]


def attempt_span(
    envelope: JobEnvelope, engine_of: Callable[[str], str]
) -> contextlib.AbstractContextManager[AttemptSpan]:
    """Run the block as the current span of attempt ``envelope.attempts``, the
    child of the context the job carries (a root span when it carries none).

    Nothing is done (well under a microsecond) without OpenTelemetry, or when no
    tracer provider is configured and the job carries no context to continue.
    ``engine_of(queue)`` names the engine (an attribute of the span).
    """
    if not (_available or _otel()):
        return _NOTHING
    provider = _api.get_tracer_provider()
    if envelope.trace is None and isinstance(provider, _UNCONFIGURED):
        return _NOTHING
    return _span(envelope, engine_of(envelope.queue), provider)


_NOTHING = contextlib.nullcontext(_NO_SPAN)
_UNCONFIGURED: tuple[type, ...] = ()
if _otel():
    _UNCONFIGURED = (_api.ProxyTracerProvider, _api.NoOpTracerProvider)


@contextlib.contextmanager
def _span(envelope: JobEnvelope, engine: str, provider: Any) -> Iterator[AttemptSpan]:
    from opentelemetry import propagate, trace

    parent = propagate.extract(envelope.trace) if envelope.trace else None
    attributes: dict[str, str | int] = {
        "messaging.system": "lexigram",
        "messaging.operation.type": "process",
        "messaging.destination.name": envelope.queue,
        "messaging.message.id": envelope.job_id,
        "lexigram.task": envelope.task_name,
        "lexigram.attempt": envelope.attempts,
        "lexigram.engine": engine,
    }
    with _tracer_of(provider).start_as_current_span(
        f"run {envelope.task_name}",
        context=parent,
        kind=trace.SpanKind.CONSUMER,
        attributes=attributes,
        record_exception=False,  # an error inside is the outcome's: see end_with
    ) as span:
        yield AttemptSpan(span)
