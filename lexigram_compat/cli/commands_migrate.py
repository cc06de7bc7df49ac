"""``migrate celery``: move a Celery codebase to ``lexigram_compat.celery`` (``--to shims``,
the first step) or to the neutral API (``--to neutral``), and report what is left.

A dry run (the default) prints the unified diff; ``--write`` applies it. A file that does
not parse is reported and left untouched; an output that would not compile is never
written. The report (text, or JSON with ``--json``) goes to stderr after the diff, or to
``--report FILE``; with ``--json`` the JSON goes to stdout (and the diff is not printed).
Exit codes: 0 done (whatever was left is in the report), 2 bad usage or a missing extra.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from lexigram_compat.cli.exits import CliError
from lexigram_compat.cli.state import CliState, json_option

__all__ = ["migrate"]


@click.group()
def migrate() -> None:
    """Migrate application code to lexigram-compat."""


@migrate.command()
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@click.option(
    "--to",
    "mode",
    type=click.Choice(["shims", "neutral"]),
    default="shims",
    show_default=True,
    help="shims: imports move to lexigram_compat.celery, nothing else; neutral: @task, enqueue, @scheduled.",
)
@click.option("--write", is_flag=True, help="Apply the changes (default: print the diff only).")
@click.option(
    "--report",
    "report_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the report to FILE (JSON if FILE ends in .json, else text).",
)
@json_option
@click.pass_context
def celery(
    ctx: click.Context,
    *,
    paths: tuple[str, ...],
    mode: str,
    write: bool,
    report_file: Path | None,
    json_flag: bool,
) -> None:
    """Convert the Celery code under PATH... (files or directories)."""
    try:
        from lexigram_compat.migrate.runner import migrate as run_migration
    except ModuleNotFoundError as exc:
        if exc.name != "libcst":
            raise
        raise CliError("migrate celery needs libcst", hint="pip install 'lexigram-compat[migrate]'") from None
    state = ctx.ensure_object(CliState)
    out = state.output(json_flag)
    try:
        run = run_migration(paths, "neutral" if mode == "neutral" else "shims")
    except FileNotFoundError as exc:
        raise CliError(str(exc), hint="give existing files or directories") from None
    report = run.report
    if write:
        run.write()
    if report_file is not None:
        text = json.dumps(report.as_json(), indent=2) if report_file.suffix == ".json" else report.as_text()
        report_file.write_text(text, encoding="utf-8")
    if out.json_mode:
        out.json({**report.as_json(), "written": write})
        return
    if not write:
        click.echo(run.diff(), nl=False)
    click.echo(report.as_text(), nl=False, err=True)
