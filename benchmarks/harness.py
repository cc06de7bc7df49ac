"""What is measured and how: ``Scenario`` (the workload), ``Subject`` (one
queue implementation under test) and the loop that times a subject's phases.

Every phase runs on a fresh subject (``open`` ... ``close``), so jobs left by
one phase never count in the next, and setup (connections, worker processes
that the subject starts in ``open``) is never timed. Subjects are run
interleaved, repeat by repeat, so a machine that slows down over the run
slows every subject alike.
"""

from __future__ import annotations

import asyncio
import difflib
import gc
import importlib
import pkgutil
import statistics
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any, ClassVar

__all__ = [
    "METRICS",
    "Metric",
    "Scenario",
    "Subject",
    "SubjectResult",
    "Unsupported",
    "Values",
    "all_subjects",
    "load_subject",
    "percentile",
    "run_benchmark",
]


class Unsupported(Exception):
    """Raised by a subject for an operation its engine does not have (the cell reads n/a)."""


@dataclass(frozen=True)
class Scenario:
    """The workload, the same for every subject of a run.

    Attributes:
        jobs: Jobs per throughput phase (enqueue, enqueue_many, drain).
        latency_jobs: Jobs in the latency probe, each waited for before the next.
        batch: Jobs per ``enqueue_many`` call.
        repeat: Runs of every phase; the table shows the median.
        warmup: First run every phase once on a small workload, untimed
            (imports, pydantic adapters, connection pools).
        phase_timeout: Seconds one phase may take before the run fails.
    """

    jobs: int = 20_000
    latency_jobs: int = 500
    batch: int = 100
    repeat: int = 3
    warmup: bool = True
    phase_timeout: float = 600.0

    def __post_init__(self) -> None:
        for name in ("jobs", "latency_jobs", "batch", "repeat"):
            if getattr(self, name) < 1:
                raise ValueError(f"Scenario.{name} must be >= 1 (got {getattr(self, name)})")

    def warmup_round(self) -> Scenario:
        """The warm-up workload: the same shape, at most 1000 jobs."""
        return Scenario(
            jobs=min(self.jobs, 1000),
            latency_jobs=min(self.latency_jobs, 50),
            batch=self.batch,
            repeat=1,
            warmup=False,
            phase_timeout=self.phase_timeout,
        )


class Subject(ABC):
    """One queue implementation under test, e.g. the facade on an engine, or
    the raw engine API it wraps. A fresh instance serves each phase.

    Every job is a no-op: the numbers are the queue's own cost. Subjects read
    their settings (DSNs, broker URLs) from the environment, so the CLI needs
    none of them.
    """

    title: ClassVar[str]
    """The row label in the table, e.g. ``"memory (facade)"``."""

    async def open(self) -> None:  # noqa: B027 - optional hook
        """Connect, start what the subject needs; not timed."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release everything ``open`` took, including worker processes; also
        called when ``open`` failed part way."""

    @abstractmethod
    async def enqueue_one(self) -> None:
        """Enqueue one no-op job (timed N times in a row)."""

    async def enqueue_many(self, count: int) -> None:
        """Enqueue ``count`` no-op jobs in one call (one round trip where the engine can)."""
        raise Unsupported("no batch enqueue")

    async def fill(self, count: int) -> None:
        """Put ``count`` no-op jobs on the queue before ``drain`` (not timed)."""
        chunk = 1000
        try:
            for start in range(0, count, chunk):
                await self.enqueue_many(min(chunk, count - start))
        except Unsupported:
            for _ in range(count):
                await self.enqueue_one()

    @abstractmethod
    async def drain(self, count: int) -> float | None:
        """Run the ``count`` jobs of ``fill`` with one worker process; return when all ran.

        Returns:
            ``None`` to be timed by the harness around this call, or the
            seconds the subject measured itself (e.g. from the worker's first
            job start, to leave out a worker process's boot).

        Raises:
            RuntimeError: Not exactly ``count`` jobs ran.
        """

    @abstractmethod
    def worker(self) -> AbstractAsyncContextManager[None]:
        """A worker consuming in the background while ``probe`` is called."""

    @abstractmethod
    async def probe(self) -> float:
        """Enqueue one job that records when it starts; wait for it.

        Returns:
            Seconds from just before the enqueue call to the job function's
            first line (``time.perf_counter`` in one process, ``time.time``
            across processes).
        """


def all_subjects() -> dict[str, type[Subject]]:
    """Every subject, by name, from the ``SUBJECTS`` mapping of each module in
    ``benchmarks/subjects/`` (modules import their drivers only when a subject
    runs, so listing them needs no psycopg, dramatiq or celery)."""
    import benchmarks.subjects as package

    found: dict[str, type[Subject]] = {}
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        declared: Mapping[str, type[Subject]] = getattr(module, "SUBJECTS", {})
        for name, cls in declared.items():
            if name in found:
                raise RuntimeError(f"benchmark subject {name!r} declared twice (again in {module.__name__})")
            if not (isinstance(cls, type) and issubclass(cls, Subject)):
                raise TypeError(f"{module.__name__}.SUBJECTS[{name!r}] is not a Subject subclass")
            found[name] = cls
    return found


def load_subject(name: str) -> type[Subject]:
    """The subject class registered as ``name``."""
    subjects = all_subjects()
    cls = subjects.get(name)
    if cls is None:
        close = difflib.get_close_matches(name, subjects, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise KeyError(f"no benchmark subject {name!r}; {hint}known: {', '.join(subjects)}")
    return cls


@dataclass(frozen=True)
class Metric:
    """One column of the table."""

    key: str
    header: str
    higher_is_better: bool


METRICS = (
    Metric("enqueue", "enqueue jobs/s", True),
    Metric("enqueue_many", "enqueue_many jobs/s", True),
    Metric("drain", "drain jobs/s", True),
    Metric("p50", "latency p50 ms", False),
    Metric("p99", "latency p99 ms", False),
)

Values = dict[str, float | None]
"""Metric key -> value (jobs/s or ms); ``None`` when the subject has no such operation."""


@dataclass
class SubjectResult:
    """Every repeat's figures for one subject."""

    name: str
    title: str
    repeats: list[Values] = field(default_factory=list)

    @property
    def median(self) -> Values:
        """The median over repeats, metric by metric."""
        out: Values = {}
        for metric in METRICS:
            values = [v for r in self.repeats if (v := r.get(metric.key)) is not None]
            out[metric.key] = statistics.median(values) if values else None
        return out


def percentile(samples: list[float], pct: float) -> float:
    """The ``pct`` percentile (0-100) of ``samples``, linearly interpolated."""
    if not samples:
        raise ValueError("percentile() of no samples")
    ordered = sorted(samples)
    rank = (len(ordered) - 1) * pct / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


Progress = Callable[[str], None]


async def _enqueue_one(subject: Subject, scenario: Scenario) -> Values:
    started = time.perf_counter()
    for _ in range(scenario.jobs):
        await subject.enqueue_one()
    return {"enqueue": scenario.jobs / (time.perf_counter() - started)}


async def _enqueue_many(subject: Subject, scenario: Scenario) -> Values:
    full, rest = divmod(scenario.jobs, scenario.batch)
    started = time.perf_counter()
    for _ in range(full):
        await subject.enqueue_many(scenario.batch)
    if rest:
        await subject.enqueue_many(rest)
    return {"enqueue_many": scenario.jobs / (time.perf_counter() - started)}


async def _drain(subject: Subject, scenario: Scenario) -> Values:
    await subject.fill(scenario.jobs)
    gc.collect()
    started = time.perf_counter()
    measured = await subject.drain(scenario.jobs)
    seconds = measured if measured is not None else time.perf_counter() - started
    return {"drain": scenario.jobs / seconds}


async def _latency(subject: Subject, scenario: Scenario) -> Values:
    async with subject.worker():
        for _ in range(min(10, scenario.latency_jobs)):  # the worker's first claims are not typical
            await subject.probe()
        gc.collect()
        samples = [await subject.probe() for _ in range(scenario.latency_jobs)]
    return {"p50": percentile(samples, 50) * 1000, "p99": percentile(samples, 99) * 1000}


_PHASES: tuple[tuple[str, Callable[[Subject, Scenario], Awaitable[Values]], tuple[str, ...]], ...] = (
    ("enqueue", _enqueue_one, ("enqueue",)),
    ("enqueue_many", _enqueue_many, ("enqueue_many",)),
    ("drain", _drain, ("drain",)),
    ("latency", _latency, ("p50", "p99")),
)


async def _measure(cls: type[Subject], scenario: Scenario, progress: Progress) -> Values:
    values: Values = {}
    for phase, run, keys in _PHASES:
        subject = cls()
        try:
            async with asyncio.timeout(scenario.phase_timeout):
                await subject.open()
                gc.collect()
                values.update(await run(subject, scenario))
        except Unsupported as exc:
            progress(f"  {cls.title}: {phase}: n/a ({exc})")
            values.update(dict.fromkeys(keys))
        finally:
            await subject.close()
    return values


def _describe(values: Values) -> str:
    return ", ".join(
        f"{m.key}={v:,.0f}" if m.higher_is_better else f"{m.key}={v:.3f}ms"
        for m in METRICS
        if (v := values.get(m.key)) is not None
    )


async def run_benchmark(
    names: list[str], scenario: Scenario, progress: Progress | None = None
) -> list[SubjectResult]:
    """Measure every subject ``scenario.repeat`` times, interleaved; results in ``names`` order."""
    from benchmarks import versions

    say = progress or (lambda _line: None)
    measures: dict[str, Callable[[Scenario], Awaitable[tuple[str, Values]]]] = {}
    for name in dict.fromkeys(names):
        subject, ref = versions.split(name)
        if ref is None:
            cls = load_subject(subject)
            measures[name] = _local(cls, say)
        else:  # as commit `ref` had it, in a child process (benchmarks/versions.py)
            measures[name] = _at(versions.tree_of(ref), subject, ref, say)
    if scenario.warmup:
        for name, measure in measures.items():
            say(f"warm-up {name}")
            await measure(scenario.warmup_round())
    results: dict[str, SubjectResult] = {}
    for index in range(scenario.repeat):
        for name, measure in measures.items():
            title, values = await measure(scenario)
            results.setdefault(name, SubjectResult(name, title)).repeats.append(values)
            say(f"repeat {index + 1}/{scenario.repeat} {name}: {_describe(values)}")
    return [results[name] for name in measures]


def _local(cls: type[Subject], say: Progress) -> Callable[[Scenario], Awaitable[tuple[str, Values]]]:
    async def measure(scenario: Scenario) -> tuple[str, Values]:
        return cls.title, await _measure(cls, scenario, say)

    return measure


def _at(
    tree: Any, subject: str, ref: str, say: Progress
) -> Callable[[Scenario], Awaitable[tuple[str, Values]]]:
    from benchmarks import versions

    async def measure(scenario: Scenario) -> tuple[str, Values]:
        title, values = await versions.measure_at(tree, subject, scenario, say)
        return f"{title} @ {ref}", values

    return measure
