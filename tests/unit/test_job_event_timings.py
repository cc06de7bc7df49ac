"""The per-(task, queue) histograms job events fill when metrics are on."""

from __future__ import annotations

from datetime import timedelta

from lexigram_compat.envelope import JobEnvelope, utcnow
from lexigram_compat.observability import JobEvents, Timings

BOUNDS = (0.01, 0.1, 1)


def _envelope(task: str = "t.a", queue: str = "q", **more: object) -> JobEnvelope:
    return JobEnvelope(job_id="j", task_name=task, queue=queue, attempts=1, **more)  # type: ignore[arg-type]


def _events() -> JobEvents:
    events = JobEvents()
    events.timings = Timings(BOUNDS)
    return events


def test_a_value_on_a_bound_counts_in_that_bucket_and_the_sum_adds_up() -> None:
    timings = Timings(BOUNDS)
    for seconds in (0.01, 0.05, 1.0, 7.5):
        timings.observe("duration", "t.a", "q", seconds)
    series = dict(timings.series())
    assert series[("duration", "t.a", "q")] == [1, 1, 1, 1, 0.01 + 0.05 + 1.0 + 7.5]
    assert series[("wait", "t.a", "q")] == [0, 0, 0, 0, 0]


def test_started_observes_the_wait_since_the_job_was_due_and_outcomes_their_duration() -> None:
    events = _events()
    due_in_past = _envelope(enqueued_at=utcnow() - timedelta(seconds=0.5))
    events.started(due_in_past)
    events.succeeded(due_in_past, 0.05)
    series = dict(events.timings.series())  # type: ignore[union-attr]
    wait = series[("wait", "t.a", "q")]
    assert wait[:4] == [0, 0, 1, 0], wait  # 0.5 s: above 0.1, at most 1
    assert 0.5 <= wait[-1] < 0.5 + 5.0, wait
    assert series[("duration", "t.a", "q")] == [0, 1, 0, 0, 0.05]


def test_a_job_delayed_into_the_future_waits_from_its_run_at_and_never_below_zero() -> None:
    events = _events()
    events.started(_envelope(run_at=utcnow() + timedelta(seconds=60)))
    wait = dict(events.timings.series())[("wait", "t.a", "q")]  # type: ignore[union-attr]
    assert wait == [1, 0, 0, 0, 0.0]


def test_failed_attempts_observe_the_duration_they_carry_and_none_when_it_is_unknown() -> None:
    events = _events()
    envelope = _envelope(task="t.b", queue="other")
    events.started(envelope)
    events.retried(envelope, 1.0, "RuntimeError: boom", duration=0.2)
    events.dead_lettered(envelope, "WorkerLostError: lost", duration=None)
    duration = dict(events.timings.series())[("duration", "t.b", "other")]  # type: ignore[union-attr]
    assert duration == [0, 0, 1, 0, 0.2]
    assert events.total("failed") == 2
    assert events.total("started") == 1
