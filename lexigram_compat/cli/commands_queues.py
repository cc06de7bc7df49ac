"""``queues``: depth, in-flight, scheduled, retrying and dead counts per queue;
``--watch`` keeps the table on screen, redrawn in place."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import click
from rich import box
from rich.live import Live
from rich.table import Table

from lexigram_compat.app import TasksApp
from lexigram_compat.cli.exits import CliError
from lexigram_compat.cli.output import Column, Output
from lexigram_compat.cli.state import CliState, json_option, run_with_app
from lexigram_compat.operations import COUNTED, queue_stats

__all__ = ["queues"]

COLUMNS = (
    Column("backend", "backend"),
    Column("engine", "engine"),
    Column("queue", "queue"),
    *(Column(key, key, justify="right") for key, _ in COUNTED),
    Column("dead", "dead", justify="right"),
)


def _rows(stats: list[dict[str, Any]]) -> list[dict[str, Any]]:
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
    return rows


def _table(stats: list[dict[str, Any]], title: str | None) -> Table:
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD)
    for col in COLUMNS:
        table.add_column(col.header, justify="right" if col.justify == "right" else "left", no_wrap=True)
    for row in _rows(stats):
        table.add_row(*(str(row.get(col.key, "")) for col in COLUMNS))
    return table


async def _watch(app: TasksApp, interval: float, count: int | None) -> None:
    """Redraw the table every ``interval`` seconds (``count`` times, or until Ctrl-C)."""
    drawn = 0
    with Live(console=Output(False).console, auto_refresh=False, transient=False) as live:
        while count is None or drawn < count:
            stats = await queue_stats(app)
            title = f"queues at {time.strftime('%H:%M:%S')} (every {interval:g}s; Ctrl-C to stop)"
            live.update(_table(stats, title), refresh=True)
            drawn += 1
            if count is None or drawn < count:
                await asyncio.sleep(interval)


@click.command()
@click.argument("app_spec", metavar="APP")
@click.option("--watch", is_flag=True, help="Keep the table on screen, refreshed in place (Ctrl-C stops).")
@click.option(
    "--interval",
    type=click.FloatRange(min=0.1),
    default=2.0,
    show_default=True,
    metavar="SECONDS",
    help="With --watch: seconds between refreshes.",
)
@click.option(
    "--count", "times", type=click.IntRange(min=1), metavar="N", help="With --watch: stop after N refreshes."
)
@json_option
@click.pass_obj
def queues(
    state: CliState, *, app_spec: str, watch: bool, interval: float, times: int | None, json_flag: bool
) -> None:
    """Show job counts per backend and queue.

    waiting = pending + scheduled + retrying; dead counts the backend's dead letters.
    """
    out = state.output(json_flag)
    if watch:
        if out.json_mode:
            raise CliError("queues: --watch draws a live table and cannot print JSON", hint="drop --json")
        # Ctrl-C is how a watch ends: not an error.
        with contextlib.suppress(KeyboardInterrupt):
            run_with_app(app_spec, lambda app: _watch(app, interval, times))
        return
    if times is not None:
        raise CliError("queues: --count applies to --watch", hint="add --watch")
    stats = run_with_app(app_spec, queue_stats)
    if out.json_mode:
        out.json({"backends": stats})
        return
    out.table(None, COLUMNS, _rows(stats))
