"""``python -m benchmarks.run``: measure subjects side by side and write the table.

>>> python -m benchmarks.run --subjects memory,memory-floor --baseline memory-floor
"""

from __future__ import annotations

import argparse
import asyncio
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

from benchmarks import versions
from benchmarks.harness import Scenario, all_subjects, load_subject, run_benchmark
from benchmarks.results import Machine, render, update_results

__all__ = ["main"]

DEFAULT_OUT = Path(__file__).resolve().parent / "RESULTS.md"


def _names(value: str) -> list[str]:
    names = [n.strip() for n in value.split(",") if n.strip()]
    if not names:
        raise argparse.ArgumentTypeError("give at least one subject name")
    return names


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run",
        description="Measure enqueue/drain throughput and enqueue-to-start latency of queue "
        "subjects in one run, and write a markdown table.",
    )
    parser.add_argument(
        "--subjects",
        type=_names,
        default=["memory", "memory-floor"],
        help=f"comma-separated subject names (known: {', '.join(all_subjects())}); NAME@REF measures "
        "NAME as git commit REF had it, in the same run; default: %(default)s",
    )
    parser.add_argument("--jobs", type=int, default=20_000, help="jobs per throughput phase")
    parser.add_argument("--latency-jobs", type=int, default=500, help="latency probes, run one at a time")
    parser.add_argument("--batch", type=int, default=100, help="jobs per enqueue_many call")
    parser.add_argument("--repeat", type=int, default=3, help="repeats; the table shows the median")
    parser.add_argument("--no-warmup", action="store_true", help="skip the untimed warm-up round")
    parser.add_argument(
        "--baseline", help="a subject of this run to divide every row by (the 'vs base' columns)"
    )
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help="markdown file to update (default: %(default)s)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; return the process exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    parser = _parser()
    options = parser.parse_args(args)
    names: list[str] = options.subjects
    if options.baseline is not None and options.baseline not in names:
        parser.error(f"--baseline {options.baseline!r} must be one of --subjects ({', '.join(names)})")
    try:
        for name in names:
            load_subject(versions.split(name)[0])
        scenario = Scenario(
            jobs=options.jobs,
            latency_jobs=options.latency_jobs,
            batch=options.batch,
            repeat=options.repeat,
            warmup=not options.no_warmup,
        )
    except (KeyError, ValueError) as exc:
        parser.error(str(exc.args[0]) if exc.args else str(exc))

    def progress(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    machine = Machine.current()  # before the run: its load average is the machine's, not ours
    results = asyncio.run(run_benchmark(names, scenario, progress))
    command = shlex.join(["python", "-m", "benchmarks.run", *args])
    block = render(results, scenario, command, baseline=options.baseline, machine=machine)
    update_results(options.out, block)
    print(block)
    print(f"\nwritten to {options.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
