"""``dlq list|show|replay|purge``: the dead-letter runbook from the command line.

Commands that take a JOB_ID look it up on every backend (the chosen one
first); ``list`` and ``--all`` work on one backend: ``--backend NAME``, by
default the primary one.
"""

from __future__ import annotations

import functools
import sys
from datetime import timedelta
from typing import Any

import click

from lexigram_compat.app import TasksApp
from lexigram_compat.backends import Backend
from lexigram_compat.cli.commands_enqueue import warn_if_process_local
from lexigram_compat.cli.exits import CliError
from lexigram_compat.cli.loading import load_app
from lexigram_compat.cli.output import Column, dead_letter_dict
from lexigram_compat.cli.state import CliState, json_option, require, run_with_app, unwrap
from lexigram_compat.errors import JobNotFoundError
from lexigram_compat.queue import DeadLetter

__all__ = ["dlq"]

LIST_COLUMNS = (
    Column("job_id", "job id", fold=True),
    Column("task_name", "task"),
    Column("queue", "queue"),
    Column("attempts", "attempts", justify="right"),
    Column("error", "error"),
    Column("failed_at", "failed at"),
)

backend_option = click.option(
    "--backend", "backend_name", metavar="NAME", help="Backend to use (default: the primary one)."
)


def _backend(app: TasksApp, name: str | None) -> Backend:
    if name is None:
        return app.backend_set.primary
    backend = app.backend_set.get(name)
    if backend is None:
        names = ", ".join(b.name for b in app.backend_set)
        raise CliError(f"--backend {name!r}: this app has no such backend", hint=f"its backends: {names}")
    return backend


async def _find(app: TasksApp, first: Backend, job_id: str) -> tuple[Backend, DeadLetter]:
    for backend in app.backends_first(first):
        dlq = app.dead_letter_queue_of(backend)
        letter = await require("dead letter lookup", functools.partial(dlq.get, job_id))
        if letter is not None:
            return backend, letter
    raise JobNotFoundError(
        f"no dead letter with job id {job_id!r}", hint="list them with: lexigram-compat dlq list APP"
    )


def _target(job_id: str | None, every: bool, command: str) -> None:
    if (job_id is not None) != every:
        return
    both = "both a JOB_ID and --all" if every else "neither a JOB_ID nor --all"
    raise CliError(f"dlq {command}: got {both}", hint=f"give one: dlq {command} APP JOB_ID, or --all")


@click.group()
def dlq() -> None:
    """Inspect, replay and purge dead letters."""


@dlq.command("list")
@click.argument("app_spec", metavar="APP")
@click.option("--limit", type=click.IntRange(min=0), default=50, show_default=True)
@click.option("--offset", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--task", "task_name", metavar="TASK", help="Only dead letters of this task.")
@backend_option
@json_option
@click.pass_obj
def list_(
    state: CliState,
    *,
    app_spec: str,
    limit: int,
    offset: int,
    task_name: str | None,
    backend_name: str | None,
    json_flag: bool,
) -> None:
    """List dead letters, newest first."""
    out = state.output(json_flag)
    app = load_app(app_spec)
    backend = _backend(app, backend_name)

    async def fetch(app: TasksApp) -> tuple[list[DeadLetter], int]:
        dlq = app.dead_letter_queue_of(backend)
        letters = await require("dead letter list", functools.partial(dlq.list, limit, offset, task_name))
        return letters, await require("dead letter count", dlq.count)

    letters, total = run_with_app(app, fetch)
    rows = [dead_letter_dict(letter) for letter in letters]
    if out.json_mode:
        out.json({"backend": backend.name, "total": total, "offset": offset, "dead_letters": rows})
        return
    for row in rows:
        error = f"{row['error_type']}: {row['error_message']}"
        row["error"] = error if len(error) <= 80 else error[:77] + "..."
    title = f"dead letters on {backend.name} ({backend.key}): {len(rows)} shown of {total}"
    out.table(title, LIST_COLUMNS, rows)


@dlq.command()
@click.argument("app_spec", metavar="APP")
@click.argument("job_id")
@backend_option
@json_option
@click.pass_obj
def show(state: CliState, app_spec: str, job_id: str, backend_name: str | None, json_flag: bool) -> None:
    """Show one dead letter with its traceback."""
    out = state.output(json_flag)
    app = load_app(app_spec)
    first = _backend(app, backend_name)
    backend, letter = run_with_app(app, lambda app: _find(app, first, job_id))
    data = {"backend": backend.name, **dead_letter_dict(letter, full=True)}
    if out.json_mode:
        out.json(data)
        return
    traceback, raw = data.pop("traceback"), data.pop("raw")
    out.fields(f"dead letter {letter.job_id}", data)
    if raw is not None:
        out.block("undecodable payload:", raw)
    out.block("traceback:", traceback or "(none recorded)")


@dlq.command()
@click.argument("app_spec", metavar="APP")
@click.argument("job_id", required=False)
@click.option("--all", "every", is_flag=True, help="Replay every dead letter (of --task).")
@click.option("--task", "task_name", metavar="TASK", help="With --all: only this task's dead letters.")
@backend_option
@json_option
@click.pass_obj
def replay(
    state: CliState,
    *,
    app_spec: str,
    job_id: str | None,
    every: bool,
    task_name: str | None,
    backend_name: str | None,
    json_flag: bool,
) -> None:
    """Run dead letters again as new jobs.

    Give a JOB_ID, or --all (optionally with --task). Each is enqueued as a
    new job with its attempts reset, then its dead-letter entry is removed.
    """
    _target(job_id, every, "replay")
    if task_name is not None and not every:
        raise CliError("dlq replay: --task filters --all", hint="use --all --task TASK")
    out = state.output(json_flag)
    app = load_app(app_spec)
    chosen = _backend(app, backend_name)

    async def run(app: TasksApp) -> tuple[Backend, list[dict[str, Any]]]:
        if job_id is not None:
            backend, letter = await _find(app, chosen, job_id)
            new_id = unwrap(await app.dead_letter_queue_of(backend).replay(letter.job_id))
            return backend, [{"job_id": letter.job_id, "new_job_id": new_id}]
        new_ids = unwrap(await app.dead_letter_queue_of(chosen).replay_all(task_name))
        return chosen, [{"job_id": None, "new_job_id": new_id} for new_id in new_ids]

    backend, replayed = run_with_app(app, run)
    if replayed:
        jobs = f"job {replayed[0]['new_job_id']} is" if len(replayed) == 1 else f"{len(replayed)} jobs are"
        warn_if_process_local(out, backend, jobs)
    if out.json_mode:
        out.json({"backend": backend.name, "replayed": replayed})
    elif job_id is not None:
        out.line(f"replayed {job_id} as new job {replayed[0]['new_job_id']}")
    else:
        out.line(f"replayed {len(replayed)} dead letter(s) on {backend.name}")


@dlq.command()
@click.argument("app_spec", metavar="APP")
@click.argument("job_id", required=False)
@click.option("--all", "every", is_flag=True, help="Purge every dead letter (see --older-than).")
@click.option(
    "--older-than",
    type=click.FloatRange(min=0),
    metavar="SECONDS",
    help="With --all: only those that failed more than SECONDS ago.",
)
@click.option("--yes", "-y", "assume_yes", is_flag=True, help="Do not ask for confirmation on a terminal.")
@backend_option
@json_option
@click.pass_obj
def purge(
    state: CliState,
    *,
    app_spec: str,
    job_id: str | None,
    every: bool,
    older_than: float | None,
    assume_yes: bool,
    backend_name: str | None,
    json_flag: bool,
) -> None:
    """Delete dead letters for good.

    Give a JOB_ID, or --all (optionally with --older-than). On a terminal it
    asks first (answer y), unless --yes; piped or scripted runs do not ask.
    """
    _target(job_id, every, "purge")
    if older_than is not None and not every:
        raise CliError("dlq purge: --older-than applies to --all", hint="use --all --older-than SECONDS")
    out = state.output(json_flag)
    app = load_app(app_spec)
    chosen = _backend(app, backend_name)
    if not assume_yes and sys.stdin.isatty():
        what = f"dead letter {job_id}" if job_id is not None else f"every dead letter on {chosen.name}"
        if older_than is not None:
            what += f" that failed more than {older_than:g}s ago"
        click.confirm(f"Delete {what} for good?", abort=True, err=True)

    async def run(app: TasksApp) -> tuple[Backend, int]:
        if job_id is not None:
            backend, letter = await _find(app, chosen, job_id)
            dlq = app.dead_letter_queue_of(backend)
            removed = await require("dead letter purge", functools.partial(dlq.purge, letter.job_id))
            return backend, int(removed)
        age = None if older_than is None else timedelta(seconds=older_than)
        dlq = app.dead_letter_queue_of(chosen)
        return chosen, await require("dead letter purge", functools.partial(dlq.purge_all, age))

    backend, purged = run_with_app(app, run)
    if out.json_mode:
        out.json({"backend": backend.name, "purged": purged})
    else:
        out.line(f"purged {purged} dead letter(s) on {backend.name}")
