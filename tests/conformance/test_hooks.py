"""Lifecycle hooks fire at the same points, in the same order, on every engine: the
producer's ``before_enqueue``/``enqueued``, and in the engine's own worker process
``worker_started``, then per attempt ``attempt_started``, the outcome's hooks and
``attempt_finished``, and ``worker_stopped`` when the worker stops (the probe the
conformance app registers, :mod:`tests.conformance.hook_probe`, records them)."""

from __future__ import annotations

import os
from typing import Any

from . import jobs
from .harness import EngineHarness, ok
from .hook_probe import PROBE_HEADER
from .recorder import Entry

ENQUEUE = [("before_enqueue", 1, None), ("enqueued", 1, None)]


def _points(entries: list[Entry]) -> list[tuple[str, int, Any]]:
    """The hook points in the order each attempt saw them. Attempts of one job may overlap:
    a retry due at once is published when it is recorded, before the failed attempt's
    ``failed``/``retried``/``attempt_finished`` hooks run, so another worker thread can start
    the next attempt first (documented for ``base=`` handlers too). A stable sort by attempt
    keeps each attempt's own order, which is what the hooks promise."""
    points = [(e.data["point"], e.data["attempt"], e.data["detail"]) for e in entries]
    return sorted(points, key=lambda point: point[1])


async def test_hook_sequence_of_a_success_a_retry_and_a_dead_letter(engine: EngineHarness) -> None:
    queue = engine.app.queue
    done = ok(await queue.enqueue(jobs.add(2, 3), headers={PROBE_HEADER: "done"}))
    retried = ok(await queue.enqueue(jobs.flaky("hooks", 2), headers={PROBE_HEADER: "retried"}))
    dead = ok(await queue.enqueue(jobs.always_fails("hooks"), headers={PROBE_HEADER: "dead"}))

    await engine.drain()

    recorder = engine.recorder
    failed_attempt = [("failed", 1, "RuntimeError"), ("retried", 1, ["RuntimeError", True])]
    assert _points(recorder.entries("hook", key="done")) == [
        *ENQUEUE,
        ("attempt_started", 1, None),
        ("succeeded", 1, 5),
        ("attempt_finished", 1, "completed"),
    ]
    assert _points(recorder.entries("hook", key="retried")) == [
        *ENQUEUE,
        ("attempt_started", 1, None),
        *failed_attempt,
        ("attempt_finished", 1, "retry"),
        ("attempt_started", 2, None),
        ("succeeded", 2, 2),
        ("attempt_finished", 2, "completed"),
    ]
    assert _points(recorder.entries("hook", key="dead")) == [
        *ENQUEUE,
        *[
            point
            for attempt in (1, 2)
            for point in [
                ("attempt_started", attempt, None),
                ("failed", attempt, "RuntimeError"),
                ("retried", attempt, ["RuntimeError", True]),
                ("attempt_finished", attempt, "retry"),
            ]
        ],
        ("attempt_started", 3, None),
        ("failed", 3, "RuntimeError"),
        ("dead_lettered", 3, "RuntimeError"),
        ("attempt_finished", 3, "dead"),
    ]
    for key, job_id in (("done", done), ("retried", retried), ("dead", dead)):
        entries = recorder.entries("hook", key=key)
        assert {e.data["job_id"] for e in entries} == {job_id}
        assert {e.pid for e in entries[:2]} == {os.getpid()}, "enqueue hooks run in the producer"

    # Each worker process that ran an attempt said it started before its first
    # attempt and stopped after its last (drain stops the worker gracefully).
    workers = recorder.entries("hook", key="worker")
    assert all(e.data["same_app"] for e in workers)
    attempts = [
        e for e in recorder.entries("hook") if e.data["key"] != "worker" and "enqueue" not in e.data["point"]
    ]
    for pid in {e.pid for e in attempts if e.data["point"] == "attempt_started"}:
        mine = [e for e in attempts if e.pid == pid]
        starts = [e.at for e in workers if e.pid == pid and e.data["point"] == "worker_started"]
        stops = [e.at for e in workers if e.pid == pid and e.data["point"] == "worker_stopped"]
        assert starts, f"process {pid} ran attempts without worker_started"
        assert min(starts) <= mine[0].at, f"process {pid}: worker_started after its first attempt"
        assert stops, f"process {pid} ran attempts and stopped without worker_stopped"
        assert max(stops) >= mine[-1].at, f"process {pid}: worker_stopped before its last attempt"
