"""Crash safety (SPEC §3): a worker SIGKILLed mid-job loses nothing.

Run by the ``crash_safe`` capability probe in ``test_capabilities.py`` on every engine
declaring it (``test_a_declared_capability_is_honoured[<engine>-crash_safe]``).
"""

from __future__ import annotations

from dataclasses import dataclass

from lexigram_compat import JobStatus

from . import jobs
from .harness import EngineHarness, ok

__all__ = ["KEY", "Crash", "assert_recovered", "kill_mid_job_and_recover"]

KEY = "crash"


@dataclass(frozen=True)
class Crash:
    """What a crash left behind, for the test to check."""

    job_id: str
    behind_id: str
    """A job queued behind the killed one, never started before the kill."""


async def kill_mid_job_and_recover(engine: EngineHarness) -> Crash:
    """Start a long job, SIGKILL its worker mid-job, then drain with a new worker
    (which must wait out the engine's lease / heartbeat / redelivery delay)."""
    queue = engine.app.queue
    # 60 s on its first run, which the kill interrupts; instant on the next.
    job_id = ok(await queue.enqueue(jobs.slow(KEY, [60.0, 0.0])))
    behind_id = ok(await queue.enqueue(jobs.noop("behind")))
    await engine.start_worker()

    async def started() -> bool:
        return engine.recorder.runs("slow.start", KEY) >= 1

    await engine.wait_until(started, "the long job has started")
    await engine.kill_worker()
    assert engine.recorder.runs("slow.end", KEY) == 0

    await engine.drain(timeout=60.0)
    return Crash(job_id, behind_id)


async def assert_recovered(engine: EngineHarness, crash: Crash) -> None:
    """The killed job ran again, on another process, with a higher attempt, and completed."""
    done = await engine.info(crash.job_id)
    assert done.status is JobStatus.COMPLETED, done
    assert done.attempts == 2, f"expected the second attempt to complete the job, got {done!r}"
    starts = engine.recorder.entries("slow.start", key=KEY)
    assert [e.data["run"] for e in starts] == [1, 2]
    assert starts[0].pid != starts[1].pid, "the job must run again in a new worker process"
    assert [e.data["run"] for e in engine.recorder.entries("slow.end", key=KEY)] == [2]
    assert (await engine.info(crash.behind_id)).status is JobStatus.COMPLETED
    assert [e.data["tag"] for e in engine.recorder.entries("noop")] == ["behind"]
    assert await engine.app.dead_letters.count() == 0
