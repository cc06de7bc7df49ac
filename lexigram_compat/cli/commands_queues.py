"""``queues``: depth, in-flight, scheduled, retrying and dead counts per queue."""

from __future__ import annotations

import functools
from typing import Any

import click

from lexigram_compat.app import TasksApp
from lexigram_compat.backends import Backend
from lexigram_compat.cli.output import Column
from lexigram_compat.cli.state import CliState, json_option, require, run_with_app
from lexigram_compat.queue import JobStatus

__all__ = ["queues"]

# (column key, status counted): None counts every waiting job (pending, scheduled, retrying).
COUNTS: tuple[tuple[str, JobStatus | None], ...] = (
    ("waiting", None),
    ("running", JobStatus.RUNNING),
    ("scheduled", JobStatus.SCHEDULED),
    ("retrying", JobStatus.RETRYING),
)

COLUMNS = (
    Column("backend", "backend"),
    Column("engine", "engine"),
    Column("queue", "queue"),
    *(Column(key, key, justify="right") for key, _ in COUNTS),
    Column("dead", "dead", justify="right"),
)


async def _backend_stats(app: TasksApp, backend: Backend) -> dict[str, Any]:
    engine = backend.engine
    rows = []
    for physical in backend.queues():
        row: dict[str, Any] = {"queue": physical}
        for key, status in COUNTS:
            row[key] = await require("count", functools.partial(engine.count, physical, status))
        rows.append(row)
    dead = await require("dead letter count", app.dead_letter_queue_of(backend).count)
    return {
        "backend": backend.name,
        "engine": backend.key,
        "primary": backend is app.backend_set.primary,
        "dead": dead,
        "queues": rows,
    }


@click.command()
@click.argument("app_spec", metavar="APP")
@json_option
@click.pass_obj
def queues(state: CliState, app_spec: str, json_flag: bool) -> None:
    """Show job counts per backend and queue.

    waiting = pending + scheduled + retrying; dead counts the backend's dead letters.
    """
    out = state.output(json_flag)

    async def collect(app: TasksApp) -> list[dict[str, Any]]:
        return [await _backend_stats(app, backend) for backend in app.backend_set]

    stats = run_with_app(app_spec, collect)
    if out.json_mode:
        out.json({"backends": stats})
        return
    rows: list[dict[str, Any]] = []
    for backend in stats:
        for index, queue in enumerate(backend["queues"]):
            first = index == 0
            rows.append(
                {
                    "backend": backend["backend"] if first else "",
                    "engine": backend["engine"] if first else "",
                    "dead": backend["dead"] if first else "",
                    **queue,
                }
            )
    out.table(None, COLUMNS, rows)
