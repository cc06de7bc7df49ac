"""PostgreSQL claim cost against backlog depth and retained finished jobs.

    .venv/bin/python -m benchmarks.pg_scaling --pending 1000,20000,200000 --finished 0,1000000

For every (pending, finished) pair, on a fresh database of its own (created
on ``LEXIGRAM_BENCH_POSTGRES_DSN``'s server and dropped after): ``finished``
completed jobs are written straight by SQL (as retention keeps them),
``pending`` no-op jobs are enqueued through the facade (``enqueue_many``),
the table is ``VACUUM ANALYZE``d (what autovacuum does on a real queue), then

- the claim statement (16 jobs, 8 started) runs under ``EXPLAIN (ANALYZE,
  BUFFERS)`` in a rolled-back transaction, and so does main's claim (the
  ``queue = ANY`` form this replaced), for comparison;
- a worker in this process (with ``--compare-main``, once more with main's
  claim on a second, identical database) (``--concurrency`` slots, prefetch as many) drains
  ``--drain`` jobs (all of them when fewer are pending): its claim round trips
  are timed one by one, and the drain rate is jobs over the time from its
  first claim to the last success.

Writes a markdown report (``--out``) with the load average: these are figures
of one machine at one moment, not assertions.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.results import Machine
from benchmarks.subjects.memory import noop, registry
from benchmarks.subjects.postgres import ScratchDatabase
from lexigram_compat import TaskConfig, TasksApp
from lexigram_compat.adapters.postgres import PostgresEngine, apply_migrations
from lexigram_compat.adapters.postgres.source import PostgresJobSource
from lexigram_compat.adapters.postgres.sql import Queries

__all__ = ["main"]

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = "lexigram"
FILL_CHUNK = 1000

MAIN_CLAIM = """
WITH picked AS MATERIALIZED (
    SELECT id, row_number() OVER () AS n FROM (
        SELECT id FROM "lexigram".jobs
        WHERE state IN ('pending', 'retrying') AND queue = ANY(%(queues)s::text[]) AND run_at <= now()
        ORDER BY priority DESC, run_at, seq
        LIMIT %(limit)s
        FOR UPDATE SKIP LOCKED
    ) AS ready
)
UPDATE "lexigram".jobs AS j
SET state = CASE WHEN picked.n <= %(run)s THEN 'running' ELSE 'reserved' END,
    attempts = j.attempts + (picked.n <= %(run)s)::int,
    token = (random() * 9.2e18)::bigint,
    started_at = CASE WHEN picked.n <= %(run)s THEN now() END, heartbeat_at = now(),
    worker = %(worker)s
FROM picked
WHERE j.id = picked.id
RETURNING j.id, j.queue, j.token, j.attempts, j.payload, j.priority, j.run_at, j.seq, j.state
"""
"""The claim of main (3fe3850) before this change, kept to show its plan beside the new one."""

FILL_FINISHED = """
INSERT INTO "lexigram".jobs (id, queue, task_name, state, payload, attempts, finished_at, started_at)
SELECT 'finished-' || g, %s, 'benchmarks.noop', 'completed', '\\x7b7d', 1, now(), now()
FROM generate_series(1, %s) AS g
"""


def _ints(value: str) -> list[int]:
    return [int(part.replace("_", "")) for part in value.split(",") if part]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.pg_scaling", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--pending", type=_ints, default=[1000, 20000, 200000], help="backlog sizes")
    parser.add_argument("--finished", type=_ints, default=[0, 1_000_000], help="retained finished jobs")
    parser.add_argument("--drain", type=int, default=5000, help="jobs drained per scenario (at most pending)")
    parser.add_argument("--concurrency", type=int, default=8, help="worker slots (and prefetch)")
    parser.add_argument(
        "--compare-main", action="store_true", help="drain each scenario with main's claim too (a second row)"
    )
    parser.add_argument(
        "--main-up-to",
        type=int,
        default=None,
        help="with --compare-main, drain with main's claim only up to this backlog (its claim sorts the"
        " whole backlog: seconds each at a million)",
    )
    parser.add_argument("--no-warmup", action="store_true", help="skip the untimed warm-up scenario")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "RESULTS-pg-scaling.md")
    return parser


class _TimedClaims:
    """Times every claim round trip of one job source."""

    def __init__(self, source: PostgresJobSource) -> None:
        self.seconds: list[float] = []
        self.first: float | None = None
        original = source.claim_ahead

        async def timed(queues: Sequence[str], run: int, ahead: int) -> list[Any]:
            start = time.perf_counter()
            if self.first is None:
                self.first = start
            jobs = await original(queues, run, ahead)
            self.seconds.append(time.perf_counter() - start)
            return jobs

        source.claim_ahead = timed  # type: ignore[method-assign]


async def _explain(engine: PostgresEngine, query: str, params: dict[str, Any]) -> str:
    async with engine.worker_pool.connection("explain") as conn, conn.transaction(force_rollback=True):
        rows = await (await conn.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + query, params)).fetchall()
    return "\n".join(str(row[0]) for row in rows)


def _execution_ms(plan: str) -> float:
    line = next(line for line in plan.splitlines() if line.startswith("Execution Time"))
    return float(line.split(":")[1].split()[0])


async def _scenario(pending: int, finished: int, drain: int, concurrency: int, claim: str) -> dict[str, Any]:
    db = ScratchDatabase()
    await db.create()
    try:
        await apply_migrations(db.dsn, SCHEMA)
        section = {
            "backend": {"type": "postgres", "postgres_dsn": db.dsn},
            "scheduler": {"enabled": False},
            "worker": {"max_concurrent_tasks": concurrency},
        }
        app = TasksApp(TaskConfig.from_dict({"tasks": section}), registry=registry)
        await app.start()
        try:
            engine = app.queue.backend.engine
            assert isinstance(engine, PostgresEngine)
            queue = app.queue.backend.queue_name
            if claim == "main":
                engine.queries._texts["claim"] = MAIN_CLAIM  # the worker drains with main's claim
            async with engine.pool.connection("fill") as conn:
                await conn.execute(FILL_FINISHED, [queue, finished])
            for start in range(0, pending, FILL_CHUNK):
                count = min(FILL_CHUNK, pending - start)
                (await app.queue.enqueue_many([noop() for _ in range(count)])).unwrap()
            async with engine.pool.connection("vacuum") as conn:
                await conn.execute('VACUUM ANALYZE "lexigram".jobs')
            params = {"queues": [queue], "limit": 16, "run": 8, "worker": "explain"}
            new_plan = await _explain(engine, Queries(SCHEMA)["claim"], params)
            main_plan = await _explain(engine, MAIN_CLAIM, params)
            source = engine.job_source()
            assert isinstance(source, PostgresJobSource)
            claims = _TimedClaims(source)
            target = min(drain, pending)
            before = app.events.total("succeeded")
            worker = asyncio.create_task(app.run_worker(concurrency=concurrency, scheduler=False))
            while app.events.total("succeeded") - before < target:
                if worker.done():
                    worker.result()
                    raise RuntimeError("the worker stopped before the drain ended")
                await asyncio.sleep(0.002)
            ended = time.perf_counter()
            app.stop_worker()
            await worker
            assert claims.first is not None
            full = claims.seconds
            return {
                "claim": claim,
                "pending": pending,
                "finished": finished,
                "drained": target,
                "rate": target / (ended - claims.first),
                "claim_p50": 1000 * statistics.median(full),
                "claim_p90": 1000 * statistics.quantiles(full, n=10)[-1] if len(full) >= 10 else float("nan"),
                "claims": len(full),
                "new_ms": _execution_ms(new_plan),
                "main_ms": _execution_ms(main_plan),
                "new_plan": new_plan,
                "main_plan": main_plan,
            }
        finally:
            await app.close()
    finally:
        await db.drop()


def _render(rows: list[dict[str, Any]], args: argparse.Namespace, load_start: str, machine: Machine) -> str:
    when = datetime.now(UTC)
    load_end = " / ".join(f"{v:.2f}" for v in os.getloadavg())
    lines = [
        "# PostgreSQL claim scaling",
        "",
        "Written by `python -m benchmarks.pg_scaling` (see its docstring for the method).",
        "",
        f"## Run of {when:%Y-%m-%d %H:%M} UTC",
        "",
        f"- Machine: {machine.cpus} CPUs, {machine.cpu_model}, {machine.memory}; {machine.python};"
        f" {machine.code}",
        f"- Load average (1/5/15 min) at start {load_start}, at end {load_end}. **Provisional**: the machine"
        " was shared with other runs; compare rows of this run only.",
        f"- Command: `python -m benchmarks.pg_scaling --pending {','.join(map(str, args.pending))}"
        f" --finished {','.join(map(str, args.finished))} --drain {args.drain}"
        f" --concurrency {args.concurrency}{' --compare-main' if args.compare_main else ''}"
        f"{f' --main-up-to {args.main_up_to}' if args.main_up_to is not None else ''}`",
        "",
        "| pending | finished kept | worker's claim | claim p50 ms | claim p90 ms | drain jobs/s"
        " | claim EXPLAIN ms | main's claim EXPLAIN ms |",
        "| --: | --: | --- | --: | --: | --: | --: | --: |",
    ]
    for row in rows:
        lines.append(
            f"| {row['pending']:,} | {row['finished']:,} | {row['claim']} | {row['claim_p50']:.2f}"
            f" | {row['claim_p90']:.2f} | {row['rate']:,.0f} | {row['new_ms']:.2f} | {row['main_ms']:.2f} |"
        )
    lines += [
        "",
        "claim p50/p90: the worker's claim round trips while it drained (`drained` jobs, claims of up to"
        f" {2 * args.concurrency}); EXPLAIN ms: `Execution Time` of one claim of 16 under"
        " `EXPLAIN (ANALYZE, BUFFERS)` before the drain, rolled back.",
        "",
        "## EXPLAIN output",
    ]
    for row in rows:
        if row["claim"] != "new":
            continue  # the same database state: the plans were shown with the first row
        for name in ("new_plan", "main_plan"):
            title = "claim" if name == "new_plan" else "main's claim (queue = ANY)"
            lines += [
                "",
                f"### {title}: {row['pending']:,} pending, {row['finished']:,} finished",
                "",
                "```",
                row[name],
                "```",
            ]
    return "\n".join(lines) + "\n"


async def _run(args: argparse.Namespace) -> int:
    logging.getLogger("lexigram_compat").setLevel(logging.WARNING)
    load_start = " / ".join(f"{v:.2f}" for v in os.getloadavg())
    machine = Machine.current()
    rows = []
    if not args.no_warmup:  # imports, prepared statements, the server's caches: not counted
        await _scenario(500, 0, 500, args.concurrency, "new")
    for finished in args.finished:
        for pending in args.pending:
            with_main = args.compare_main and (args.main_up_to is None or pending <= args.main_up_to)
            for claim in ("new", "main") if with_main else ("new",):
                row = await _scenario(pending, finished, args.drain, args.concurrency, claim)
                print(
                    f"{claim:4} pending {pending:>9,} finished {finished:>9,}:"
                    f" claim p50 {row['claim_p50']:.2f} ms, drain {row['rate']:,.0f}/s,"
                    f" EXPLAIN {row['new_ms']:.2f} ms (main's {row['main_ms']:.2f})",
                    flush=True,
                )
                rows.append(row)
    args.out.write_text(_render(rows, args, load_start, machine), encoding="utf-8")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return asyncio.run(_run(_parser().parse_args(argv)))


if __name__ == "__main__":
    raise SystemExit(main())
