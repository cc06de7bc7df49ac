"""``python -m benchmarks.brokers``: each engine pair through its own worker program,
the facade beside the raw engine, as ratios in one table.

For every pair (dramatiq-redis, dramatiq-rabbitmq, celery-redis, celery-rabbitmq,
postgres) and worker shape (the raw engines' anchor, 1 process x 8, and the shape
the engine's docs recommend for throughput) three rows run one after another:

- ``facade``: ``TasksApp`` with ``async def`` no-op tasks, drained by the engine's
  own worker CLI in a subprocess (``dramatiq``, ``celery worker``,
  ``lexigram-compat worker``);
- ``raw+g``: the plain engine with a no-op ``def`` and the facade's guarantees
  (publisher confirms on RabbitMQ, ``acks_late`` + ``reject_on_worker_lost`` on
  Celery; Dramatiq's Redis broker acks after the run by default);
- ``raw``: the plain engine at its defaults;
- for ``postgres`` both raw rows are the peer, pgqueuer 1.6 (asyncpg) run by its
  own ``pgq run`` in a subprocess (``benchmarks/subjects/pgqueuer_cli.py``);
- ``raw+async`` (Dramatiq): ``raw+g`` with an ``async def`` no-op on Dramatiq's
  ``AsyncIO`` middleware, which hops to an event loop per job as the facade does.

Per row: the enqueue rate (one awaited call per job, ``--jobs`` calls, anchor
shape only), the producer's CPU per enqueue, the drain rate (jobs left when the
worker said it was ready, over the time until none is left), the worker
program's CPU per job over that drain (all its processes, from ``/proc``), and
the p50 enqueue->start latency with the idle worker. Facade rows also measure
``enqueue_many`` (batches of ``--batch``) and 8 concurrent producers. Every row
uses its own queue names and key prefixes (``lxbench-<random>``), removed after.

CPU per job is the figure to read on a busy machine: wall-clock rates move with
other programs on the same cores, CPU time hardly does. The load average is
recorded before every row.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import shlex
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.harness import Unsupported, load_subject, percentile
from benchmarks.results import Machine, update_results
from benchmarks.worker_subject import ANCHOR, Shape, WorkerSubject

__all__ = ["PAIRS", "Row", "main", "measure_row"]

DEFAULT_OUT = Path(__file__).resolve().parent / "RESULTS-issue15-brokers.md"
CPUS = len(os.sched_getaffinity(0))
PRODUCERS = 8


@dataclass(frozen=True)
class Pair:
    """One engine on one broker: its subjects and its recommended throughput shape."""

    facade: str
    guaranteed: str | None
    default: str | None
    recommended: Shape
    why: str
    asynchronous: str | None = None
    """The raw engine with the guarantees and ``async def`` jobs, where it runs them."""


PAIRS: dict[str, Pair] = {
    "dramatiq-redis": Pair(
        "dramatiq-redis", "dramatiq-redis-raw", "dramatiq-redis-raw",
        Shape(CPUS, 8), "dramatiq's defaults: a process per CPU, 8 threads each",
        "dramatiq-redis-raw-async",
    ),
    "dramatiq-rabbitmq": Pair(
        "dramatiq-rabbitmq", "dramatiq-rabbitmq-raw", "dramatiq-rabbitmq-raw-noconfirm",
        Shape(CPUS, 8), "dramatiq's defaults: a process per CPU, 8 threads each",
        "dramatiq-rabbitmq-raw-async",
    ),
    "celery-redis": Pair(
        "celery-redis", "celery-redis-raw-acks-late", "celery-redis-raw",
        Shape(CPUS, 1, "prefork"), "celery's defaults: prefork, a child per CPU",
    ),
    "celery-rabbitmq": Pair(
        "celery-rabbitmq", "celery-rabbitmq-raw-confirm", "celery-rabbitmq-raw",
        Shape(CPUS, 1, "prefork"), "celery's defaults: prefork, a child per CPU",
    ),
    "postgres": Pair(
        "postgres-cli", "pgqueuer-cli", "pgqueuer-cli",
        Shape(1, 100), "docs/performance.md: one process, concurrency 100 (pgqueuer: `pgq run`, "
        "its default batch of 10, --max-concurrent-tasks 100)",
    ),
}  # fmt: skip


@dataclass
class Row:
    """The figures of one subject at one shape (``None``: not measured or n/a)."""

    pair: str
    role: str
    subject: str
    shape: Shape
    load: str
    enqueue: float | None = None
    enqueue_cpu_us: float | None = None
    enqueue_many: float | None = None
    producers: float | None = None
    drain: float | None = None
    drain_cpu_us: float | None = None
    p50_ms: float | None = None
    notes: list[str] = field(default_factory=list)


def _load() -> str:
    return " / ".join(f"{v:.2f}" for v in os.getloadavg())


async def _timed(count: int, call: Callable[[], object]) -> tuple[float, float]:
    """(jobs/s, producer CPU µs per job) of ``count`` awaited ``call()``s."""
    gc.collect()
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(count):
        await call()  # type: ignore[misc]
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return count / wall, cpu / count * 1e6


async def _producers(subject: WorkerSubject, count: int) -> float:
    """Jobs/s of ``PRODUCERS`` coroutines enqueueing ``count`` jobs between them."""
    share = count // PRODUCERS

    async def produce() -> None:
        for _ in range(share):
            await subject.enqueue_one()

    gc.collect()
    started = time.perf_counter()
    await asyncio.gather(*(produce() for _ in range(PRODUCERS)))
    return share * PRODUCERS / (time.perf_counter() - started)


async def _drain(subject: WorkerSubject, row: Row, latency_jobs: int) -> None:
    """Start the worker, time the drain of what is queued, then probe the idle worker."""
    await subject.start_worker()
    started, cpu, queued = time.perf_counter(), subject.worker_cpu_seconds(), await subject.left()
    while left := await subject.left():  # noqa: ASYNC110 - another process's progress
        await asyncio.sleep(0.005 if left < 500 else 0.05)
    elapsed, cpu = time.perf_counter() - started, subject.worker_cpu_seconds() - cpu
    if queued < 100:
        row.notes.append(f"only {queued} jobs left when the worker was ready: drain not measured")
    else:
        row.drain, row.drain_cpu_us = queued / elapsed, cpu / queued * 1e6
    for _ in range(10):  # the first probes pay for connections and imports
        await subject.probe()
    samples = [await subject.probe() for _ in range(latency_jobs)]
    row.p50_ms = percentile(samples, 50) * 1000
    await subject.stop_worker()


async def measure_row(  # noqa: PLR0917 - one row's coordinates and workload
    pair: str, role: str, name: str, shape: Shape, jobs: int, batch: int, latency_jobs: int
) -> Row:
    """One subject at one shape; enqueue phases only at the anchor shape."""
    row = Row(pair, role, name, shape, _load())
    subject = load_subject(name)(shape)  # type: ignore[call-arg]
    assert isinstance(subject, WorkerSubject)
    try:
        await subject.open()
        for _ in range(20):
            await subject.enqueue_one()  # connections, channels, caches
        if shape == ANCHOR:
            row.enqueue, row.enqueue_cpu_us = await _timed(jobs, subject.enqueue_one)
        else:
            await subject.fill(jobs)
        await _drain(subject, row, latency_jobs)
        if shape == ANCHOR and role == "facade":
            row.producers = await _producers(subject, jobs)
            try:
                row.enqueue_many = jobs / (await _many(subject, jobs, batch))
            except Unsupported as exc:
                row.notes.append(f"enqueue_many: {exc}")
    finally:
        await subject.close()
    return row


async def _many(subject: WorkerSubject, jobs: int, batch: int) -> float:
    gc.collect()
    started = time.perf_counter()
    for done in range(0, jobs, batch):
        await subject.enqueue_many(min(batch, jobs - done))
    return time.perf_counter() - started


def _fmt(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _ratio(a: float | None, b: float | None) -> str:
    return "-" if a is None or b is None or b == 0 else f"{a / b:.2f}x"


def _diff(a: float | None, b: float | None) -> str:
    return "-" if a is None or b is None else f"{a - b:+.2f}"


def render(rows: list[Row], command: str, machine: Machine, jobs: int) -> str:
    """The markdown block: ratios first, then every row's own figures."""
    by = {(r.pair, r.shape, r.role): r for r in rows}
    lines = [
        f"Run: `{command}` — {jobs:,} no-op jobs per phase; {machine.cpus} CPUs ({machine.cpu_model}), "
        f"{machine.python}, {machine.code}; load average at the start {machine.load}, "
        f"at the end {_load()}.",
        "",
        "Facade / raw (`raw+g`: the raw engine with the facade's guarantees; `raw`: its defaults). "
        "Rates and CPU per job: above 1x the facade does more / costs more; p50: facade - raw in ms.",
        "",
        "| pair | shape | enqueue / raw+g | enqueue / raw | drain / raw+g | drain / raw | "
        "worker CPU/job / raw+g | worker CPU/job / raw | drain / raw+async | worker CPU/job / raw+async | "
        "p50 - raw+g ms | enqueue_many / single | 8 producers / single |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for pair in dict.fromkeys(r.pair for r in rows):
        for shape in dict.fromkeys(r.shape for r in rows if r.pair == pair):
            f = by.get((pair, shape, "facade"))
            g = by.get((pair, shape, "raw+g"))
            d = by.get((pair, shape, "raw"))
            if d is None and pair in PAIRS and PAIRS[pair].default == PAIRS[pair].guaranteed:
                d = g  # the engine's defaults already give the facade's guarantees
            if f is None:
                continue
            a = by.get((pair, shape, "raw+async")) or Row(pair, "", "", shape, "")
            gv = g or Row(pair, "", "", shape, "")
            dv = d or Row(pair, "", "", shape, "")
            lines.append(
                f"| {pair} | {shape.label} | {_ratio(f.enqueue, gv.enqueue)} "
                f"| {_ratio(f.enqueue, dv.enqueue)} "
                f"| {_ratio(f.drain, gv.drain)} | {_ratio(f.drain, dv.drain)} "
                f"| {_ratio(f.drain_cpu_us, gv.drain_cpu_us)} | {_ratio(f.drain_cpu_us, dv.drain_cpu_us)} "
                f"| {_ratio(f.drain, a.drain)} | {_ratio(f.drain_cpu_us, a.drain_cpu_us)} "
                f"| {_diff(f.p50_ms, gv.p50_ms)} | {_ratio(f.enqueue_many, f.enqueue)} "
                f"| {_ratio(f.producers, f.enqueue)} |"
            )
    lines += [
        "",
        "Every row's own figures (rates in jobs/s; CPU in µs per job; load average before the row):",
        "",
        "| pair | row | subject | shape | load | enqueue | producer CPU/enqueue | enqueue_many "
        "| 8 producers | drain | worker CPU/job | p50 ms | notes |",
        "|---|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r.pair} | {r.role} | `{r.subject}` | {r.shape.label} | {r.load} | {_fmt(r.enqueue)} "
            f"| {_fmt(r.enqueue_cpu_us)} | {_fmt(r.enqueue_many)} | {_fmt(r.producers)} | {_fmt(r.drain)} "
            f"| {_fmt(r.drain_cpu_us)} | {_fmt(r.p50_ms, 2)} | {'; '.join(r.notes)} |"
        )
    lines += ["", "Shapes recommended for throughput:", ""]
    measured = {r.pair for r in rows}
    lines += [f"- {name}: {p.recommended.label} ({p.why})" for name, p in PAIRS.items() if name in measured]
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.brokers", description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", default=",".join(PAIRS), help="comma-separated, of: " + ", ".join(PAIRS))
    parser.add_argument("--shapes", default="anchor,recommended", help="anchor, recommended or both")
    parser.add_argument(
        "--roles", default="facade,raw+g,raw,raw+async", help="rows per pair: facade, raw+g, raw, raw+async"
    )
    parser.add_argument("--jobs", type=int, default=20_000, help="jobs per phase (default %(default)s)")
    parser.add_argument("--batch", type=int, default=100, help="jobs per enqueue_many call")
    parser.add_argument("--latency-jobs", type=int, default=200, help="latency probes per row")
    parser.add_argument("--repeat", type=int, default=1, help="runs of every row; the median is kept")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="file to update (%(default)s)")
    return parser


def _median(rows: list[Row]) -> Row:
    first = rows[0]
    out = Row(first.pair, first.role, first.subject, first.shape, first.load, notes=first.notes)
    for key in ("enqueue", "enqueue_cpu_us", "enqueue_many", "producers", "drain", "drain_cpu_us", "p50_ms"):
        values = [v for r in rows if (v := getattr(r, key)) is not None]
        setattr(out, key, statistics.median(values) if values else None)
    return out


async def _run(options: argparse.Namespace) -> list[Row]:
    pairs = [p.strip() for p in options.pairs.split(",") if p.strip()]
    unknown = [p for p in pairs if p not in PAIRS]
    if unknown:
        raise SystemExit(f"unknown pair(s) {', '.join(unknown)}; known: {', '.join(PAIRS)}")
    roles = [r.strip() for r in options.roles.split(",")]
    plan: list[tuple[str, str, str, Shape]] = []
    for name in pairs:
        pair = PAIRS[name]
        shapes = {"anchor": ANCHOR, "recommended": pair.recommended}
        for shape_name in options.shapes.split(","):
            shape = shapes[shape_name.strip()]
            seen: set[str] = set()
            rows = (
                ("facade", pair.facade),
                ("raw+g", pair.guaranteed),
                ("raw", pair.default),
                ("raw+async", pair.asynchronous),
            )
            for role, subject in rows:
                if subject is None or role not in roles or subject in seen:
                    continue
                seen.add(subject)
                plan.append((name, role, subject, shape))
    results: dict[int, list[Row]] = {}
    for repeat in range(options.repeat):  # interleaved: drift over the run hits every row alike
        for index, (name, role, subject, shape) in enumerate(plan):
            row = await measure_row(
                name, role, subject, shape, options.jobs, options.batch, options.latency_jobs
            )
            results.setdefault(index, []).append(row)
            print(
                f"[{repeat + 1}] {name} {role} {shape.label} load {row.load}: enqueue {_fmt(row.enqueue)}/s "
                f"({_fmt(row.enqueue_cpu_us)} us CPU), drain {_fmt(row.drain)}/s "
                f"({_fmt(row.drain_cpu_us)} us CPU/job), p50 {_fmt(row.p50_ms, 2)} ms, "
                f"many {_fmt(row.enqueue_many)}/s, "
                f"8 producers {_fmt(row.producers)}/s {'; '.join(row.notes)}",
                file=sys.stderr,
                flush=True,
            )
    return [_median(results[i]) for i in range(len(plan))]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the pairs and write the table; return the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    options = _parser().parse_args(args)
    machine = Machine.current()
    rows = asyncio.run(_run(options))
    block = render(rows, shlex.join(["python", "-m", "benchmarks.brokers", *args]), machine, options.jobs)
    update_results(options.out, block)
    print(block)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
