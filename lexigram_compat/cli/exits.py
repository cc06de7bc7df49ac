"""Exit codes and the one-line error report every command shares.

======  =====================================================================
code    meaning
======  =====================================================================
0       success
1       the operation failed (an ``Err`` from enqueue or replay, a task name
        the app does not register without ``--by-name``, a job or dead letter
        not found, an unexpected error)
2       usage or configuration error (bad APP, bad JSON, bad option,
        ``ConfigurationError``, an engine whose own worker runs the jobs)
3       the broker or database is unreachable or refuses the connection
        (``BrokerUnavailableError``, or a driver's connection error: see
        :mod:`lexigram_compat.connection_errors`), on every engine
130     interrupted (Ctrl-C; a worker exits 130 after its graceful shutdown)
======  =====================================================================
"""

from __future__ import annotations

import sys
import traceback

import click

from lexigram_compat.config import redact_text
from lexigram_compat.connection_errors import is_unavailable, unreachable_message
from lexigram_compat.errors import BrokerUnavailableError, ConfigurationError, TaskQueueError

__all__ = [
    "EXIT_BROKER_UNAVAILABLE",
    "EXIT_CODES_HELP",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "CliError",
    "exit_code_for",
    "one_line",
    "report",
]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_BROKER_UNAVAILABLE = 3
EXIT_INTERRUPTED = 130

EXIT_CODES_HELP = """\b
Exit codes:
  0    success
  1    the operation failed (Err from enqueue/replay, unregistered task, job or dead letter not found)
  2    usage or configuration error (bad APP, bad JSON, ConfigurationError)
  3    the broker or database is unreachable (BrokerUnavailableError)
  130  interrupted"""


class CliError(Exception):
    """An error the command line reports as one line, with an exit code."""

    def __init__(self, message: str, *, code: int = EXIT_USAGE, hint: str | None = None) -> None:
        self.message = message
        self.code = code
        self.hint = hint
        super().__init__(message)

    def __str__(self) -> str:
        return f"{self.message} (hint: {self.hint})" if self.hint else self.message


def exit_code_for(exc: BaseException) -> int:
    """The documented exit code for an exception that ended a command."""
    if isinstance(exc, CliError):
        return exc.code
    if isinstance(exc, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    if isinstance(exc, BrokerUnavailableError):
        return EXIT_BROKER_UNAVAILABLE
    if isinstance(exc, ConfigurationError):
        return EXIT_USAGE
    if not isinstance(exc, TaskQueueError) and is_unavailable(exc):
        return EXIT_BROKER_UNAVAILABLE  # a driver's own error that escaped untranslated
    return EXIT_FAILED


def one_line(text: str) -> str:
    """``text`` on one line, with URL passwords redacted."""
    return redact_text(" ".join(part.strip() for part in text.splitlines() if part.strip()))


def _describe(exc: BaseException) -> str:
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted"
    if isinstance(exc, CliError | TaskQueueError):
        return str(exc)
    if isinstance(exc, Exception) and is_unavailable(exc):
        return unreachable_message("the command", exc)
    return f"unexpected {type(exc).__name__}: {exc} (run with --debug for the traceback)"


def report(exc: BaseException, *, debug: bool) -> int:
    """Print ``exc`` as one ``error:`` line on stderr (after its traceback with
    ``--debug``) and return its exit code."""
    if debug and not isinstance(exc, KeyboardInterrupt):
        text = "".join(traceback.format_exception(exc))
        click.echo(redact_text(text.rstrip()), err=True)
    click.echo(f"error: {one_line(_describe(exc))}", err=True)
    sys.stderr.flush()
    return exit_code_for(exc)
