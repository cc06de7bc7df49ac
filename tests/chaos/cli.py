"""``scripts/chaos``: the fault-injection scenario of issue 14 on private servers.

    scripts/chaos [--pairs P,...] [--jobs N] [--rate R] [--kills K] [--broker-crashes C]

Runs the pairs one after another (each on its own private servers) and prints
one table; exits 1 when a guarantee failed on any pair (each failure is
spelled out under the table), 2 on a usage error.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from .pairs import PAIRS
from .report import Report, table
from .scenario import Options, run_pair

__all__ = ["main"]


def _pairs(text: str) -> list[str]:
    chosen = [p.strip() for p in text.split(",") if p.strip()]
    unknown = [p for p in chosen if p not in PAIRS]
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(f"unknown pair(s) {unknown}; choose from {', '.join(PAIRS)}")
    return chosen


def parser() -> argparse.ArgumentParser:
    cli = argparse.ArgumentParser(prog="scripts/chaos", description=__doc__.split("\n\n")[0])
    cli.add_argument(
        "--pairs", type=_pairs, default=list(PAIRS), help=f"comma-separated, of {', '.join(PAIRS)}"
    )
    cli.add_argument("--jobs", type=int, default=3000, help="jobs to enqueue per pair (default 3000)")
    cli.add_argument("--rate", type=float, default=50.0, help="jobs enqueued per second (default 50)")
    cli.add_argument("--kills", type=int, default=3, help="SIGKILLs of the worker mid-job (default 3)")
    cli.add_argument("--sigterms", type=int, default=1, help="SIGTERMs of the worker (default 1)")
    cli.add_argument(
        "--broker-crashes",
        type=int,
        default=1,
        help="crashes of each private server while enqueuing (default 1)",
    )
    cli.add_argument(
        "--outage", type=float, default=3.0, help="seconds a crashed server stays down (default 3)"
    )
    cli.add_argument("--job-seconds", type=float, default=0.1, help="each job's run time (default 0.1)")
    cli.add_argument(
        "--settle-timeout", type=float, default=None, help="seconds to wait for the jobs after the chaos"
    )
    cli.add_argument("--no-bad-input", action="store_true", help="do not write bad input onto the queues")
    cli.add_argument("--workdir", type=Path, default=None, help="where ledgers and worker logs go (kept)")
    return cli


async def _run(args: argparse.Namespace) -> list[Report]:
    options = Options(
        jobs=args.jobs,
        rate=args.rate,
        kills=args.kills,
        sigterms=args.sigterms,
        broker_crashes=args.broker_crashes,
        outage=args.outage,
        job_seconds=args.job_seconds,
        settle_timeout=args.settle_timeout or max(60.0, args.jobs / 100),
        bad_input=not args.no_bad_input,
        workdir=args.workdir,
        log=lambda text: print(text, file=sys.stderr, flush=True),
    )
    reports = []
    for key in args.pairs:
        try:
            reports.append(await run_pair(key, options))
        except Exception as exc:  # one pair's broken run does not stop the others
            reports.append(Report(key, error=f"{type(exc).__name__}: {str(exc)[-1500:]}"))
        print(table(reports[-1:]), file=sys.stderr, flush=True)
    return reports


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.jobs < 1 or args.rate <= 0 or min(args.kills, args.sigterms, args.broker_crashes) < 0:
        parser().error("--jobs and --rate must be positive, --kills/--sigterms/--broker-crashes not negative")
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
    reports = asyncio.run(_run(args))
    print(table(reports))
    return 1 if any(report.failures() for report in reports) else 0


if __name__ == "__main__":
    sys.exit(main())
