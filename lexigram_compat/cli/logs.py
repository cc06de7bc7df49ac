"""Logging for the command line: one concise, redacted line per record on stderr.

Job events already read ``succeeded sample.add job=<id> queue=tasks attempt=1``;
a record that carries ``extra={"job": {...}}`` without naming the job in its
text gets ``[job=... task=... queue=... attempt=...]`` appended.

Tracebacks are printed only with ``--debug``; without it a record's exception
is one ``(Type: message)`` suffix. The drivers' own loggers (pika narrates
every failed connection attempt at ERROR, with a traceback) are quiet unless
``--log-level debug``: their failures reach the user as our typed errors.

A command's records are held until it has started (:func:`release_logs`); if
it fails before, they are dropped without ``--debug``, so an error is exactly
one ``error:`` line on stderr (the broker-down warnings of the start-up say
nothing that line does not).
"""

from __future__ import annotations

import logging
import sys
from typing import Any, TextIO

from lexigram_compat.config import redact_text
from lexigram_compat.json_logs import JsonFormatter

__all__ = [
    "DRIVER_LOGGERS",
    "LOG_FORMAT",
    "LOG_FORMATS",
    "LOG_LEVELS",
    "CliLogHandler",
    "configure_logging",
    "hold_logs",
    "release_logs",
]

LOG_FORMAT = "%(asctime)s %(levelname)-7s [%(process)d] %(name)s: %(message)s"
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
LOG_FORMATS = ("text", "json")
_JOB_KEYS = ("job_id", "task", "queue", "attempt")
DRIVER_LOGGERS = ("pika", "kombu", "amqp", "redis", "psycopg")


class JobFieldsFormatter(logging.Formatter):
    """Appends job fields a record carries but its message omits; redacts URLs.

    Without ``debug`` a record's exception is a one-line suffix, not a traceback.
    """

    def __init__(self, fmt: str | None = None, datefmt: str | None = None, *, debug: bool = True) -> None:
        super().__init__(fmt, datefmt)
        self.debug = debug

    def format(self, record: logging.LogRecord) -> str:
        if self.debug or not (record.exc_info or record.stack_info):
            text = super().format(record)
        else:
            text = self._one_line(record)
        job: Any = getattr(record, "job", None)
        if isinstance(job, dict) and "job=" not in record.getMessage():
            shown = " ".join(f"{'job' if k == 'job_id' else k}={job[k]}" for k in _JOB_KEYS if k in job)
            first, newline, rest = text.partition("\n")
            text = f"{first} [{shown}]{newline}{rest}"
        return redact_text(text)

    def _one_line(self, record: logging.LogRecord) -> str:
        # A copy without exc_info/stack_info: the record may reach other handlers.
        plain = logging.makeLogRecord(
            {**record.__dict__, "exc_info": None, "exc_text": None, "stack_info": None}
        )
        text = super().format(plain)
        error = record.exc_info[1] if record.exc_info else None
        if error is not None:
            detail = " ".join(str(error).split())
            text += f" ({type(error).__name__}{': ' + detail if detail else ''}; --debug shows the traceback)"
        return text


class CliLogHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever ``sys.stderr`` is at the time of each record."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)
        self.held: list[logging.LogRecord] | None = None

    def emit(self, record: logging.LogRecord) -> None:
        if self.held is not None:
            self.held.append(record)
            return
        super().emit(record)

    def release_held(self, *, show: bool) -> None:
        """Stop holding records; print the held ones when ``show``."""
        held, self.held = self.held or [], None
        if show:
            for record in held:
                super().emit(record)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass


def configure_logging(level: str, log_format: str = "text", *, debug: bool = False) -> None:
    """Send log records at ``level`` and above to stderr (replacing an earlier CLI handler).

    Args:
        level: One of :data:`LOG_LEVELS`.
        log_format: One of :data:`LOG_FORMATS`: readable lines, or one JSON object per line.
        debug: Print tracebacks with records that carry an exception.
    """
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, CliLogHandler)]:
        root.removeHandler(handler)
    handler = CliLogHandler()
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(JobFieldsFormatter(LOG_FORMAT, datefmt="%Y-%m-%d %H:%M:%S", debug=debug))
    root.addHandler(handler)
    root.setLevel(level.upper())
    quiet = not debug and level.lower() != "debug"
    for name in DRIVER_LOGGERS:
        logging.getLogger(name).setLevel(logging.CRITICAL if quiet else logging.NOTSET)


def _handlers() -> list[CliLogHandler]:
    return [h for h in logging.getLogger().handlers if isinstance(h, CliLogHandler)]


def hold_logs() -> None:
    """Hold CLI log records until :func:`release_logs` (a command that has not started yet)."""
    for handler in _handlers():
        if handler.held is None:
            handler.held = []


def release_logs(*, show: bool = True) -> None:
    """Print (``show``) or drop the held records, and print new ones as they come."""
    for handler in _handlers():
        handler.release_held(show=show)
