"""The markdown a run writes: machine header, median table, ratios, every repeat.

``RESULTS.md`` keeps anything outside its ``results`` markers (the Notes), so
a rerun replaces the figures and nothing else.
"""

from __future__ import annotations

import os
import platform
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.harness import METRICS, Metric, Scenario, SubjectResult

__all__ = ["END", "START", "Machine", "render", "update_results"]

START = "<!-- results:start -->"
END = "<!-- results:end -->"

ROOT = Path(__file__).resolve().parents[1]

TEMPLATE = f"""# Benchmark results

Written by `python -m benchmarks.run` between the `results` markers; the rest
of this file (the Notes) is kept across runs. How to read the figures:
[README.md](README.md).

{START}
{END}

## Notes

- Figures are for one machine at one moment; compare rows of the same run,
  not runs of different days.
"""


def _first_line_with(path: str, key: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                if line.startswith(key):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip()


@dataclass(frozen=True)
class Machine:
    """Where and on what code a run happened."""

    cpus: int
    cpu_model: str
    memory: str
    system: str
    python: str
    code: str
    load: str

    @classmethod
    def current(cls) -> Machine:
        mem_kb = _first_line_with("/proc/meminfo", "MemTotal")
        memory = f"{int(mem_kb.split()[0]) / 1024**2:.1f} GiB RAM" if mem_kb else "RAM unknown"
        commit = _git("rev-parse", "--short", "HEAD")
        dirty = _git("status", "--porcelain", "--untracked-files=no")
        code = "git unknown" if commit is None else f"git {commit}"
        if dirty:
            code += " + uncommitted changes"
        cpu_model = _first_line_with("/proc/cpuinfo", "model name") or platform.processor()
        return cls(
            cpus=len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 0,
            cpu_model=cpu_model or "unknown CPU",
            memory=memory,
            system=platform.platform(),
            python=f"{platform.python_implementation()} {platform.python_version()}",
            code=code,
            load=" / ".join(f"{v:.2f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a",
        )


def _value(metric: Metric, value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:,.0f}" if metric.higher_is_better else f"{value:.3f}"


def _ratio(value: float | None, base: float | None) -> str:
    if value is None or not base:
        return "n/a"
    return f"{value / base:.3g}x"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    align = ["---"] + ["--:"] * (len(header) - 1)
    return ["| " + " | ".join(cells) + " |" for cells in (header, align, *rows)]


def render(
    results: list[SubjectResult],
    scenario: Scenario,
    command: str,
    *,
    baseline: str | None = None,
    machine: Machine | None = None,
    when: datetime | None = None,
) -> str:
    """The markdown for one run (what goes between the markers)."""
    machine = machine or Machine.current()
    when = when or datetime.now(UTC)
    base = next((r for r in results if r.name == baseline), None)
    if baseline is not None and base is None:
        raise ValueError(f"baseline {baseline!r} is not one of the run's subjects")
    lines = [
        f"## Run of {when:%Y-%m-%d %H:%M} UTC",
        "",
        f"- Machine: {machine.cpus} CPUs (nproc), {machine.cpu_model}, {machine.memory}, {machine.system}",
        f"- Load average (1/5/15 min) at the start of the run: {machine.load} (other work on "
        "the machine slows the rows unevenly; compare the repeats below)",
        f"- Python: {machine.python}, default asyncio event loop",
        f"- Code: {machine.code}",
        f"- Command: `{command}`",
        f"- Workload: {scenario.jobs:,} no-op jobs per throughput phase, enqueue_many in batches of "
        f"{scenario.batch}, {scenario.latency_jobs:,} latency probes (each waited for); median of "
        f"{scenario.repeat} repeat(s)" + (" after an untimed warm-up" if scenario.warmup else ""),
        "",
    ]
    header = ["subject", *(m.header for m in METRICS)]
    if base is not None:
        header += [f"{m.key} vs base" for m in METRICS]
    rows = []
    for result in results:
        median = result.median
        row = [result.title, *(_value(m, median[m.key]) for m in METRICS)]
        if base is not None:
            row += [_ratio(median[m.key], base.median[m.key]) for m in METRICS]
        rows.append(row)
    lines += _table(header, rows)
    if base is not None:
        lines += [
            "",
            f"`vs base` columns: the figure divided by the same figure of **{base.title}** in this "
            "run. For jobs/s below 1x is slower than the baseline; for latency above 1x is slower.",
        ]
    repeat_rows = [
        [result.title, str(index + 1), *(_value(m, values.get(m.key)) for m in METRICS)]
        for result in results
        for index, values in enumerate(result.repeats)
    ]
    lines += [
        "",
        "<details><summary>Every repeat</summary>",
        "",
        *_table(["subject", "repeat", *(m.header for m in METRICS)], repeat_rows),
        "",
        "</details>",
    ]
    return "\n".join(lines)


def update_results(path: Path, block: str) -> None:
    """Put ``block`` between the markers of ``path`` (created from a template if missing)."""
    text = path.read_text(encoding="utf-8") if path.exists() else TEMPLATE
    start, end = text.find(START), text.find(END)
    if start == -1 or end < start:
        # A file without markers keeps all it had, after a fresh results block.
        head = TEMPLATE.partition("## Notes")[0]
        text = head + text
        start, end = text.find(START), text.find(END)
    path.write_text(text[: start + len(START)] + "\n" + block + "\n" + text[end:], encoding="utf-8")
