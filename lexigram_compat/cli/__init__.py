"""The ``lexigram-compat`` command line.

Commands::

    lexigram-compat worker APP [--queues a,b] [--concurrency N] [--processes N]
                               [--until-idle] [--no-scheduler]
    lexigram-compat scheduler APP
    lexigram-compat enqueue APP TASK [--args JSON] [--kwargs JSON] [--delay S]
                                     [--queue Q] [--priority P] [--job-id ID] [--by-name]
    lexigram-compat dlq list|show|replay|purge APP ...
    lexigram-compat queues APP [--watch [--interval S]]
    lexigram-compat job show|cancel|retry APP JOB_ID
    lexigram-compat workers APP
    lexigram-compat dashboard APP [--host H] [--port P] [--token T] [--allow-actions] [--worker]
    lexigram-compat migrate celery PATH... [--to shims|neutral] [--write] [--report FILE] [--json]

``--log-format json`` (or ``tasks.logging.format: json``) writes one JSON object
per log line, in every engine's worker process too.

``APP`` is always ``module:attribute`` naming a ``TasksApp`` (or a
zero-argument callable returning one); the current directory is on
``sys.path``. Global options: ``--log-level``, ``--debug`` (tracebacks on
errors), ``--json`` (also accepted after the name of each command that prints
results; ``scheduler`` prints none).

Results go to stdout (rich tables, or JSON with ``--json``); logs, warnings
and errors go to stderr. An error is one ``error: ...`` line with the value
at fault and a hint, without a traceback unless ``--debug``. Nothing printed
contains a URL password.

Exit codes are documented once, in :mod:`lexigram_compat.cli.exits` (and in
``lexigram-compat --help``): 0 ok, 1 failed, 2 usage/config, 3 broker down, 130 interrupted.
"""

from __future__ import annotations

from typing import Any

import click

from lexigram_compat.cli.commands_dashboard import dashboard
from lexigram_compat.cli.commands_db import db
from lexigram_compat.cli.commands_dlq import dlq
from lexigram_compat.cli.commands_enqueue import enqueue
from lexigram_compat.cli.commands_job import job
from lexigram_compat.cli.commands_migrate import migrate
from lexigram_compat.cli.commands_queues import queues
from lexigram_compat.cli.commands_worker import scheduler, worker
from lexigram_compat.cli.commands_workers import workers
from lexigram_compat.cli.exits import EXIT_CODES_HELP, CliError, report
from lexigram_compat.cli.logs import LOG_FORMATS, LOG_LEVELS, configure_logging, hold_logs, release_logs
from lexigram_compat.cli.state import CliState

__all__ = ["CliError", "cli", "main"]


class LexigramGroup(click.Group):
    """Turns every error a command raises into one stderr line and an exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            result = super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            release_logs()
            raise
        except (Exception, KeyboardInterrupt) as exc:
            state = ctx.find_object(CliState)
            debug = state.debug if state else False
            # Without --debug the error line is all: what the start-up logged
            # before failing (a broker-down warning) says nothing it does not.
            release_logs(show=debug)
            code = report(exc, debug=debug)
            raise click.exceptions.Exit(code) from None
        release_logs()
        return result


@click.group(cls=LexigramGroup, epilog=EXIT_CODES_HELP, context_settings={"max_content_width": 100})
@click.option(
    "--log-level",
    type=click.Choice(LOG_LEVELS, case_sensitive=False),
    default="info",
    show_default=True,
    envvar="LEXIGRAM_COMPAT_LOG_LEVEL",
    help="Log records at this level and above go to stderr.",
)
@click.option(
    "--log-format",
    type=click.Choice(LOG_FORMATS, case_sensitive=False),
    envvar="LEXIGRAM_LOG_FORMAT",
    help="Log lines as text or JSON objects (default: tasks.logging.format, else text).",
)
@click.option("--debug", is_flag=True, help="Show tracebacks with errors.")
@click.option("--json", "json_mode", is_flag=True, help="Print JSON instead of tables (stdout).")
@click.version_option(package_name="lexigram-compat")
@click.pass_context
def cli(ctx: click.Context, log_level: str, log_format: str | None, debug: bool, json_mode: bool) -> None:
    """Run workers and the scheduler, enqueue jobs, and inspect queues and dead
    letters of a lexigram-compat app.

    APP is module:attribute naming a TasksApp, e.g. myproj.jobs:app.
    """
    chosen = log_format.lower() if log_format else None
    ctx.obj = CliState(debug=debug, json=json_mode, log_level=log_level.lower(), log_format=chosen)
    configure_logging(log_level, chosen or "text", debug=debug)
    hold_logs()  # until the command has started: see lexigram_compat.cli.logs


cli.add_command(worker)
cli.add_command(scheduler)
cli.add_command(enqueue)
cli.add_command(dlq)
cli.add_command(queues)
cli.add_command(db)
cli.add_command(job)
cli.add_command(workers)
cli.add_command(dashboard)
cli.add_command(migrate)


def main(argv: list[str] | None = None) -> None:
    """The ``lexigram-compat`` entry point (exits the process with the command's code)."""
    cli.main(args=argv, prog_name="lexigram-compat")
