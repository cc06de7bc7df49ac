"""Trace context across the queue, with the OpenTelemetry SDK, through each
engine's real native worker in a subprocess: the span that enqueued a job is the
parent of the worker's span for every attempt of it (a retried job's too); a job
enqueued outside any span starts a trace of its own. The test process records
its spans with the SDK's in-memory exporter; the worker writes its spans to a
file (``tests/operations/span_file.py``)."""

from __future__ import annotations

import asyncio
import functools
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from lexigram_compat.envelope import JobEnvelope
from lexigram_compat.outcomes import DeadLettered, failure_of
from lexigram_compat.tracing import attempt_span, current_trace
from tests.operations import ops_app
from tests.operations.conftest import Ops, Proc
from tests.operations.ops_app import MEMORY, SEED_ENV, TRACED_SEED_ENV, add, fail
from tests.operations.span_file import SPANS_ENV, span_record

ENGINES = ["postgres", "dramatiq-redis", "celery-redis", "dramatiq-rabbitmq", "celery-rabbitmq"]
DEADLINE = 60.0


@functools.cache
def recorder() -> InMemorySpanExporter:
    """The test process's spans (one SDK provider per process: OpenTelemetry's
    global provider is set once)."""
    exporter = InMemorySpanExporter()
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return exporter


def worker_spans(
    path: Path, proc: Proc, want: Callable[[list[dict[str, Any]]], bool]
) -> list[dict[str, Any]]:
    """The spans the worker wrote, once ``want`` holds of them."""
    deadline = time.monotonic() + DEADLINE
    spans: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        if proc.process.poll() is not None:
            pytest.fail(f"worker exited ({proc.process.returncode}); output:\n{proc.log[-4000:]}")
        if path.exists():
            spans = [json.loads(line) for line in path.read_text().splitlines() if line]
            if want(spans):
                return spans
        time.sleep(0.1)
    pytest.fail(f"the worker's spans never matched; got {spans}\n{proc.log[-3000:]}")


def attempts(spans: list[dict[str, Any]], job_id: str) -> list[dict[str, Any]]:
    found = [s for s in spans if s["attributes"].get("messaging.message.id") == job_id]
    return sorted(found, key=lambda s: s["attributes"]["lexigram.attempt"])


def check_attempt(span: dict[str, Any], task: str, attempt: int, engine: str) -> None:
    assert span["name"] == f"run {task}"
    assert span["kind"] == "CONSUMER"
    assert span["attributes"]["lexigram.task"] == task
    assert span["attributes"]["lexigram.attempt"] == attempt
    assert span["attributes"]["lexigram.engine"] == engine


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def enqueue_jobs(section: dict[str, Any]) -> tuple[trace.SpanContext, str, str, str]:
    """Inside a span: one job that succeeds, one dead-lettered on its second
    attempt; then one outside any span. The span's context and the job ids."""
    app = ops_app.build(section)
    async with app:
        with trace.get_tracer("tests").start_as_current_span("checkout") as checkout:
            traced = (await app.queue.enqueue(add(2, 3))).unwrap()
            failing = (await app.queue.enqueue(fail("traced"))).unwrap()
        untraced = (await app.queue.enqueue(add(0, 0))).unwrap()
    return checkout.get_span_context(), traced, failing, untraced


def test_the_enqueuing_span_is_the_parent_of_every_attempt(
    engine: str, request: pytest.FixtureRequest, ops_factory: Callable[[dict[str, Any]], Ops], tmp_path: Path
) -> None:
    section = request.getfixturevalue(engine.replace("-", "_") + "_section")
    exporter = recorder()
    exporter.clear()
    context, traced, failing, untraced = asyncio.run(enqueue_jobs(section))
    (producer,) = [span_record(s) for s in exporter.get_finished_spans() if s.name == "checkout"]
    assert (producer["trace_id"], producer["span_id"]) == (
        format(context.trace_id, "032x"),
        format(context.span_id, "016x"),
    )

    path = tmp_path / "spans.jsonl"
    worker = ops_factory(section).worker(env={SPANS_ENV: str(path)})
    spans = worker_spans(
        path,
        worker,
        lambda got: len(attempts(got, failing)) == 2 and all(attempts(got, j) for j in (traced, untraced)),
    )
    assert worker.stop() == 0

    (ran,) = attempts(spans, traced)
    check_attempt(ran, "ops.add", 1, engine)
    assert (ran["trace_id"], ran["parent_span_id"]) == (producer["trace_id"], producer["span_id"])
    assert ran["status"] == "UNSET"
    assert ran["attributes"]["lexigram.outcome"] == "succeeded"

    first, second = attempts(spans, failing)
    for attempt, span in enumerate((first, second), start=1):
        check_attempt(span, "ops.fail", attempt, engine)
        assert (span["trace_id"], span["parent_span_id"]) == (producer["trace_id"], producer["span_id"])
        assert span["status"] == "ERROR"
        assert span["events"] == ["exception"]
    assert (first["attributes"]["lexigram.outcome"], second["attributes"]["lexigram.outcome"]) == (
        "retried",
        "dead_lettered",
    )

    (alone,) = attempts(spans, untraced)
    assert alone["parent_span_id"] is None
    assert alone["trace_id"] != producer["trace_id"]


def test_memory_worker_continues_the_trace_its_own_process_started(
    ops_factory: Callable[[dict[str, Any]], Ops], tmp_path: Path
) -> None:
    path = tmp_path / "spans.jsonl"
    env = {SPANS_ENV: str(path), SEED_ENV: str(tmp_path / "never"), TRACED_SEED_ENV: "1"}
    worker = ops_factory(MEMORY).worker(env=env)

    def seeded_and_ran(spans: list[dict[str, Any]]) -> bool:
        seed = [s for s in spans if s["name"] == "seed"]
        return bool(seed) and any(s["parent_span_id"] == seed[0]["span_id"] for s in spans)

    spans = worker_spans(path, worker, seeded_and_ran)
    assert worker.stop() == 0
    (seed,) = [s for s in spans if s["name"] == "seed"]
    (child,) = [s for s in spans if s["parent_span_id"] == seed["span_id"]]
    check_attempt(child, "ops.add", 1, "memory")
    assert child["trace_id"] == seed["trace_id"]
    others = [s for s in spans if s["name"] == "run ops.add" and s is not child]
    assert len(others) == 3  # the seed's other adds ran in traces of their own
    assert all(s["parent_span_id"] is None for s in others)


def test_current_trace_is_the_active_span_and_none_outside_one() -> None:
    recorder()
    assert current_trace() is None
    with trace.get_tracer("tests").start_as_current_span("outer") as outer:
        carried = current_trace()
    context = outer.get_span_context()
    assert carried is not None
    assert carried["traceparent"].startswith(f"00-{context.trace_id:032x}-{context.span_id:016x}-")


def test_a_failed_attempts_span_shows_no_secret() -> None:
    exporter = recorder()
    exporter.clear()
    secret = "s3cret-in-a-task-error"
    envelope = JobEnvelope("job-9", "ops.fail", "tasks", attempts=2, trace=None)
    error = RuntimeError(f"cannot reach postgresql://app:{secret}@db.internal/app")
    with attempt_span(envelope, lambda queue: "memory") as span:
        span.end_with(DeadLettered(failure_of(error), error))
    (finished,) = exporter.get_finished_spans()
    record = span_record(finished)
    assert record["parent_span_id"] is None
    assert (record["status"], record["events"]) == ("ERROR", ["exception"])
    assert record["attributes"]["lexigram.outcome"] == "dead_lettered"
    assert record["attributes"]["error.type"] == "RuntimeError"
    shown = (
        json.dumps(record)
        + str(finished.status.description)
        + json.dumps([dict(event.attributes or {}) for event in finished.events])
    )
    assert secret not in shown
    assert "postgresql://app:***@db.internal" in shown
