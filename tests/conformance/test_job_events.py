"""Job events and their log lines come from every engine's worker (the settle step):
``started``, ``succeeded``, ``retried`` and ``dead_lettered``, each naming the task,
the job id, the queue and the attempt, read from the worker process's own output."""

from __future__ import annotations

import logging
import re

import pytest

from . import jobs
from .harness import EngineHarness, ok
from .subprocess_harness import SubprocessHarness


async def test_job_events_and_their_log_lines_come_from_the_worker(
    engine: EngineHarness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="lexigram_compat.jobs")
    queue = engine.app.queue
    done = ok(await queue.enqueue(jobs.noop("events")))
    flaky = ok(await queue.enqueue(jobs.flaky("events", 2)))
    dead = ok(await queue.enqueue(jobs.always_fails("events")))

    await engine.drain()

    # A subprocess harness reads the worker's output; the memory engine's worker
    # is this process.
    text = engine.log_text() if isinstance(engine, SubprocessHarness) else caplog.text
    expected = [
        ("started", "conformance.noop", done, 1),
        ("succeeded", "conformance.noop", done, 1),
        ("started", "conformance.flaky", flaky, 1),
        ("retried", "conformance.flaky", flaky, 1),
        ("started", "conformance.flaky", flaky, 2),
        ("succeeded", "conformance.flaky", flaky, 2),
        ("started", "conformance.always_fails", dead, 3),
        ("dead_lettered", "conformance.always_fails", dead, 3),
    ]
    for event, task_name, job_id, attempt in expected:
        line = rf"\b{event} {re.escape(task_name)} job={re.escape(job_id)} queue=\S+ attempt={attempt}\b"
        assert re.search(line, text), f"no {event!r} line for attempt {attempt} of {job_id}:\n{text[-4000:]}"
    assert not re.search(rf"\bsucceeded \S+ job={re.escape(dead)}\b", text), "a dead job never succeeds"
    assert len(re.findall(rf"\bdead_lettered \S+ job={re.escape(dead)}\b", text)) == 1
