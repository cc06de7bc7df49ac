"""``workers APP``: the live workers of every backend, from their presence heartbeats."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import click

from lexigram_compat.app import TasksApp
from lexigram_compat.cli.output import Column
from lexigram_compat.cli.state import CliState, json_option, run_with_app
from lexigram_compat.operations import workers as live_workers

__all__ = ["workers"]

COLUMNS = (
    Column("backend", "backend"),
    Column("engine", "engine"),
    Column("host", "host"),
    Column("pid", "pid", justify="right"),
    Column("queues", "queues"),
    Column("slots", "busy/slots", justify="right"),
    Column("processed", "processed", justify="right"),
    Column("seen", "last heartbeat"),
)


@click.command()
@click.argument("app_spec", metavar="APP")
@json_option
@click.pass_obj
def workers(state: CliState, app_spec: str, json_flag: bool) -> None:
    """List live workers: host, pid, queues, busy/total slots, last heartbeat.

    Every worker (lexigram-compat worker, dramatiq, celery worker) writes a
    presence record every 2 s; one not refreshed for 6 s is not listed.
    Memory-engine workers exist only inside the app's own process.
    """
    out = state.output(json_flag)

    async def collect(app: TasksApp) -> tuple[list[dict[str, Any]], bool]:
        found = [w.as_dict() for w in await live_workers(app)]
        local = any(not b.engine.capabilities.multi_process for b in app.backend_set)
        return found, local

    found, local = run_with_app(app_spec, collect)
    if local and not found:
        out.note("memory-engine workers run inside the app's process: none can be seen from this command")
    if out.json_mode:
        out.json({"workers": found})
        return
    now = datetime.now(UTC)
    rows = []
    for w in found:
        age = (now - datetime.fromisoformat(w["last_heartbeat"])).total_seconds()
        rows.append(
            {
                **w,
                "queues": ",".join(w["queues"]),
                "slots": f"{w['busy']}/{w['slots']}",
                "seen": f"{max(age, 0):.1f}s ago",
            }
        )
    out.table(f"{len(rows)} live worker(s)", COLUMNS, rows)
