"""``enqueue``: put one job on a queue from the command line."""

from __future__ import annotations

import difflib
import json
from typing import Any, TypeVar

import click

from lexigram_compat.app import TasksApp
from lexigram_compat.backends import Backend
from lexigram_compat.calls import TaskCall
from lexigram_compat.cli.exits import EXIT_FAILED, CliError
from lexigram_compat.cli.loading import load_app
from lexigram_compat.cli.output import Output
from lexigram_compat.cli.state import CliState, json_option, run_with_app, unwrap
from lexigram_compat.queue import JobInfo
from lexigram_compat.tasks import MAX_PRIORITY

__all__ = ["enqueue", "parse_json", "warn_if_process_local"]

J = TypeVar("J", list[Any], dict[str, Any])


def parse_json(option: str, text: str | None, kind: type[J]) -> J:
    """Parse ``text`` as a JSON array or object for ``option``; a clear usage error if not."""
    if text is None:
        return kind()
    sample = '[1, "a"]' if kind is list else '{"x": 1}'
    example = f"{option} '{sample}'"
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        shown = text if len(text) <= 60 else text[:57] + "..."
        raise CliError(
            f"{option} {shown!r} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
            hint=f"quote it for the shell, e.g. {example}",
        ) from None
    if not isinstance(value, kind):
        wanted = "array" if kind is list else "object"
        raise CliError(
            f"{option} must be a JSON {wanted}, got {type(value).__name__}", hint=f"e.g. {example}"
        )
    return value


def warn_if_process_local(out: Output, backend: Backend, jobs: str) -> None:
    """One stderr line when ``jobs`` cannot outlive this command (memory engine)."""
    if not backend.engine.capabilities.multi_process:
        out.warn(
            f"{jobs} on the {backend.key} engine, which keeps jobs in this process only: "
            "gone when this command exits (use a multi-process engine such as postgres)"
        )


def _guess(app: TasksApp, name: str) -> str:
    close = difflib.get_close_matches(name, app.registry.names(), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _unregistered(app: TasksApp, app_spec: str, name: str, *, by_name: bool, out: Output) -> None:
    """A name APP does not know is a typo unless ``--by-name`` says it is meant for another codebase."""
    if not by_name:
        raise CliError(
            f"task {name!r} is not registered in APP {app_spec!r}{_guess(app, name)}",
            code=EXIT_FAILED,
            hint="fix the name, or pass --by-name to send it to a worker that knows it",
        )
    out.note(
        f"task {name!r} is not registered in this app{_guess(app, name)}; "
        "sending it by name without argument validation"
    )


@click.command()
@click.argument("app_spec", metavar="APP")
@click.argument("task_name", metavar="TASK")
@click.option("--args", "args_json", metavar="JSON", help="Positional arguments as a JSON array.")
@click.option("--kwargs", "kwargs_json", metavar="JSON", help="Keyword arguments as a JSON object.")
@click.option(
    "--delay", type=click.FloatRange(min=0), metavar="SECONDS", help="Seconds to wait before the job may run."
)
@click.option("--queue", help="Queue name (default: the task's own).")
@click.option("--priority", type=click.IntRange(0, MAX_PRIORITY), help="Higher runs first.")
@click.option("--job-id", help="Use this job id (enqueueing it twice creates one job).")
@click.option(
    "--by-name",
    is_flag=True,
    help="Send TASK even if APP does not register it (a task of another codebase), unvalidated.",
)
@json_option
@click.pass_obj
def enqueue(
    state: CliState,
    *,
    app_spec: str,
    task_name: str,
    args_json: str | None,
    kwargs_json: str | None,
    delay: float | None,
    queue: str | None,
    priority: int | None,
    job_id: str | None,
    by_name: bool,
    json_flag: bool,
) -> None:
    """Enqueue TASK of APP and print the job id.

    A task registered in APP is validated against its signature. Any other
    name fails (exit 1, with "did you mean") unless --by-name sends it as is
    (like Celery's send_task), for a worker that knows it.
    """
    args = parse_json("--args", args_json, list)
    kwargs = parse_json("--kwargs", kwargs_json, dict)
    out = state.output(json_flag)
    app = load_app(app_spec)
    task = app.registry.get(task_name)
    if task is None:
        _unregistered(app, app_spec, task_name, by_name=by_name, out=out)

    async def send(app: TasksApp) -> tuple[str, JobInfo | None]:
        handle = app.queue
        if task is not None:
            call = TaskCall(task_name, tuple(args), kwargs)
            result = await handle.enqueue(call, delay=delay, queue=queue, priority=priority, job_id=job_id)
        else:
            given = {"delay": delay, "queue": queue, "priority": priority, "job_id": job_id}
            options = {k: v for k, v in given.items() if v is not None}
            result = await handle.send_task(task_name, args, kwargs, **options)
        new_id = unwrap(result)
        return new_id, await handle.get_job(new_id)

    new_id, info = run_with_app(app, send)
    backend, physical = app.backend_set.route(queue or (task.queue if task else None), app.queue.backend)
    warn_if_process_local(out, backend, f"job {new_id} is")
    if not out.json_mode:
        out.line(new_id)
        return
    out.json(
        {
            "job_id": new_id,
            "task": task_name,
            "registered": task is not None,
            "backend": backend.name,
            "queue": info.queue if info else physical,
            "status": str(info.status) if info else None,
            "run_at": info.run_at if info else None,
        }
    )
