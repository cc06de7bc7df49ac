"""The cost of Prometheus metrics on the enqueue and drain paths, in CPU time.

``python -m benchmarks.metrics_cost [--jobs N] [--repeat R]`` runs the memory
subject with metrics on and off, interleaved, and prints a markdown table of
the median CPU seconds per 1,000 jobs. CPU time of this process
(``time.process_time``), not wall time: on a shared 2-vCPU machine other
processes' load moves wall-clock rows by 25 % and more between repeats (see
RESULTS-metrics.md), while the CPU this process spends is what metrics add.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from benchmarks.subjects.memory import MemoryFacade, MemoryFacadeNoMetrics


async def _one(subject_type: type[MemoryFacade], jobs: int) -> tuple[float, float]:
    subject = subject_type()
    await subject.open()
    try:
        began = time.process_time()
        for _ in range(jobs):
            await subject.enqueue_one()
        enqueue = time.process_time() - began
        began = time.process_time()
        await subject.drain(jobs)
        return enqueue, time.process_time() - began
    finally:
        await subject.close()


async def measure(jobs: int, repeat: int) -> dict[str, tuple[float, float]]:
    """Median (enqueue, drain) CPU seconds per 1,000 jobs, per subject."""
    runs: dict[type[MemoryFacade], list[tuple[float, float]]] = {MemoryFacade: [], MemoryFacadeNoMetrics: []}
    await _one(MemoryFacade, 1000)  # warm-up: imports, adapters, the metric objects
    for _ in range(repeat):
        for subject_type, results in runs.items():
            results.append(await _one(subject_type, jobs))
    per = 1000 / jobs
    return {
        t.title: (statistics.median(e for e, _ in r) * per, statistics.median(d for _, d in r) * per)
        for t, r in runs.items()
    }


def event_cost(rounds: int = 21, calls: int = 20000) -> tuple[float, float]:
    """Extra CPU microseconds per job that metrics add to the job events alone:
    (enqueue: ``enqueued``; drain: ``started`` + ``succeeded``), median of
    interleaved rounds. A tight loop, so far less noisy than whole phases."""
    import logging

    from lexigram_compat import TasksApp
    from lexigram_compat.envelope import JobEnvelope

    logging.getLogger("lexigram_compat").setLevel(logging.WARNING)
    apps = {
        on: TasksApp.from_dict(
            {"tasks": {"backend": {"type": "memory"}, "observability": {"metrics": on}}}, environ={}
        )
        for on in (True, False)
    }
    envelope = JobEnvelope(job_id="job", task_name="benchmarks.noop", queue="tasks", attempts=1)
    samples: dict[tuple[bool, str], list[float]] = {}
    for _ in range(rounds):
        for on, app in apps.items():
            events, backend = app.events, app.backend_set.primary
            began = time.process_time()
            for _ in range(calls):
                events.enqueued(envelope, backend, "job")
            samples.setdefault((on, "enqueue"), []).append(time.process_time() - began)
            began = time.process_time()
            for _ in range(calls):
                events.started(envelope)
                events.succeeded(envelope, 0.0001)
            samples.setdefault((on, "drain"), []).append(time.process_time() - began)
    extra = {
        phase: (statistics.median(samples[(True, phase)]) - statistics.median(samples[(False, phase)]))
        / calls
        * 1e6
        for phase in ("enqueue", "drain")
    }
    return extra["enqueue"], extra["drain"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args()
    medians = asyncio.run(measure(args.jobs, args.repeat))
    (on_e, on_d), (off_e, off_d) = medians[MemoryFacade.title], medians[MemoryFacadeNoMetrics.title]
    print("| subject | enqueue CPU ms / 1,000 jobs | drain CPU ms / 1,000 jobs |")
    print("| --- | --: | --: |")
    for title, (enqueue, drain) in medians.items():
        print(f"| {title} | {enqueue * 1000:.1f} | {drain * 1000:.1f} |")
    print(f"| **metrics on vs off** | **{on_e / off_e - 1:+.1%}** | **{on_d / off_d - 1:+.1%}** |")
    print(f"\n{args.jobs:,} jobs per phase, median of {args.repeat} interleaved repeats.")
    enqueue_us, drain_us = event_cost()
    print(
        f"\nJob events alone, metrics on minus off: {enqueue_us:+.2f} µs per enqueue "
        f"({enqueue_us / (off_e * 1000):+.1%} of the facade's {off_e * 1000:.1f} µs), "
        f"{drain_us:+.2f} µs per drained job ({drain_us / (off_d * 1000):+.1%} of {off_d * 1000:.1f} µs)."
    )


if __name__ == "__main__":
    main()
