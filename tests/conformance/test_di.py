"""Dependencies are resolved from the container where the worker runs (SPEC §1.6)."""

from __future__ import annotations

from lexigram_compat import DependencyResolutionError, JobStatus

from . import jobs
from .harness import EngineHarness, ok, qualified


async def test_container_and_named_bindings_are_injected(engine: EngineHarness) -> None:
    job_id = ok(await engine.app.queue.enqueue(jobs.greet("Ada")))

    await engine.drain()

    assert (await engine.info(job_id)).status is JobStatus.COMPLETED
    [entry] = engine.recorder.entries("greet")
    assert entry.data == {"name": "Ada", "greeting": "hello", "formal": "good evening"}


async def test_job_arguments_win_over_the_container(engine: EngineHarness) -> None:
    call = jobs.greet("Ada", greeting=jobs.Greeting("hi"), formal=jobs.Greeting("dear"))
    ok(await engine.app.queue.enqueue(call))
    ok(await engine.app.queue.enqueue(jobs.greet("Grace", formal=jobs.Greeting("madam"))))

    await engine.drain()

    seen = {e.data["name"]: (e.data["greeting"], e.data["formal"]) for e in engine.recorder.entries("greet")}
    assert seen == {"Ada": ("hi", "dear"), "Grace": ("hello", "madam")}


async def test_an_unresolvable_dependency_fails_the_attempt_naming_parameter_and_type(
    engine: EngineHarness,
) -> None:
    job_id = ok(await engine.app.queue.enqueue(jobs.needs_missing("k")))

    await engine.drain()

    info = await engine.info(job_id)
    assert (info.status, info.attempts, info.max_attempts) == (JobStatus.FAILED, 1, 1)
    letter = await engine.app.dead_letters.get(job_id)
    assert letter is not None
    assert letter.error_type == qualified(DependencyResolutionError)
    assert "'missing'" in letter.error_message
    assert "Unregistered" in letter.error_message
    assert info.last_error is not None
    assert "'missing'" in info.last_error
    assert engine.recorder.entries("needs_missing") == []


async def test_the_apps_own_queue_is_injected_into_a_running_task(engine: EngineHarness) -> None:
    parent = ok(await engine.app.queue.enqueue(jobs.fan_out("parent")))

    await engine.drain()

    assert (await engine.info(parent)).status is JobStatus.COMPLETED
    assert [e.data["tag"] for e in engine.recorder.entries("noop")] == ["parent-child"]
    assert await engine.app.queue.count(status=JobStatus.COMPLETED) == 2
