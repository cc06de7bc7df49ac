"""``job show|cancel|retry APP JOB_ID``: one job, looked up on every backend."""

from __future__ import annotations

from typing import Any

import click

from lexigram_compat.app import TasksApp
from lexigram_compat.backends import Backend
from lexigram_compat.cli.commands_enqueue import warn_if_process_local
from lexigram_compat.cli.output import dead_letter_dict, scrub
from lexigram_compat.cli.state import CliState, json_option, run_with_app, unwrap
from lexigram_compat.errors import JobNotFoundError
from lexigram_compat.operations import JobView, cancel_job, find_job, retry_job

__all__ = ["job", "job_dict"]


def job_dict(view: JobView, *, with_args: bool = False) -> dict[str, Any]:
    """A JSON-friendly job: record fields, history, last error (arguments only when asked)."""
    data: dict[str, Any] = {"job_id": view.job_id, "backend": view.backend, "engine": view.engine}
    info, letter = view.info, view.dead_letter
    data["status"] = view.status
    data["task_name"] = info.task_name if info else letter.task_name if letter else None
    data["queue"] = info.queue if info else letter.queue if letter else None
    data["attempts"] = info.attempts if info else letter.attempts if letter else None
    data["max_attempts"] = info.max_attempts if info else None
    data["priority"] = info.priority if info else letter.priority if letter else None
    data["last_error"] = view.last_error
    data["history"] = [{"event": event, "at": at} for event, at in view.history()]
    data["dead_letter"] = dead_letter_dict(letter, full=True) if letter is not None else None
    if letter is not None and not with_args:
        data["dead_letter"].pop("args")
        data["dead_letter"].pop("kwargs")
    if info is not None and info.result is not None and with_args:
        data["result"] = info.result
    return scrub(data)  # type: ignore[no-any-return]


async def _view(app: TasksApp, job_id: str) -> tuple[Backend, JobView]:
    found = await find_job(app, job_id)
    if found is None:
        raise JobNotFoundError(
            f"no job with id {job_id!r} on any backend",
            hint="completed jobs expire after tasks.retention.completed_seconds; check the id",
        )
    return found


@click.group()
def job() -> None:
    """Show, cancel or retry one job by id."""


@job.command()
@click.argument("app_spec", metavar="APP")
@click.argument("job_id")
@click.option("--args", "with_args", is_flag=True, help="Also print the job's arguments and result.")
@json_option
@click.pass_obj
def show(state: CliState, app_spec: str, job_id: str, with_args: bool, json_flag: bool) -> None:
    """Show a job: status, attempts, history and last error.

    Arguments are left out unless --args (they may hold personal data).
    """
    out = state.output(json_flag)
    _, view = run_with_app(app_spec, lambda app: _view(app, job_id))
    data = job_dict(view, with_args=with_args)
    if out.json_mode:
        out.json(data)
        return
    history, letter = data.pop("history"), data.pop("dead_letter")
    out.fields(f"job {view.job_id}", data)
    out.block("history:", "\n".join(f"{h['at']}  {h['event']}" for h in history) or "(none recorded)")
    if letter is not None and letter.get("traceback"):
        out.block("traceback:", letter["traceback"])


@job.command()
@click.argument("app_spec", metavar="APP")
@click.argument("job_id")
@json_option
@click.pass_obj
def cancel(state: CliState, app_spec: str, job_id: str, json_flag: bool) -> None:
    """Cancel a job that has not started (exit 1 when it already has)."""
    out = state.output(json_flag)
    view = unwrap(run_with_app(app_spec, lambda app: cancel_job(app, job_id)))
    if out.json_mode:
        out.json({"job_id": job_id, "cancelled": True, "status": view.status})
    else:
        out.line(f"cancelled job {job_id} (now {view.status})")


@job.command()
@click.argument("app_spec", metavar="APP")
@click.argument("job_id")
@json_option
@click.pass_obj
def retry(state: CliState, app_spec: str, job_id: str, json_flag: bool) -> None:
    """Run a dead-lettered job again, as a new job with its attempts reset."""
    out = state.output(json_flag)

    async def run(app: TasksApp) -> tuple[Backend, str]:
        backend, _ = await _view(app, job_id)
        return backend, unwrap(await retry_job(app, job_id))

    backend, new_id = run_with_app(app_spec, run)
    warn_if_process_local(out, backend, f"job {new_id} is")
    if out.json_mode:
        out.json({"job_id": job_id, "new_job_id": new_id, "backend": backend.name})
    else:
        out.line(f"retried {job_id} as new job {new_id}")
