"""Logging for the command line: one concise, redacted line per record on stderr.

Job events already read ``succeeded sample.add job=<id> queue=tasks attempt=1``;
a record that carries ``extra={"job": {...}}`` without naming the job in its
text gets ``[job=... task=... queue=... attempt=...]`` appended.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, TextIO

from lexigram_compat.config import redact_text
from lexigram_compat.json_logs import JsonFormatter

__all__ = ["LOG_FORMAT", "LOG_FORMATS", "LOG_LEVELS", "CliLogHandler", "configure_logging"]

LOG_FORMAT = "%(asctime)s %(levelname)-7s [%(process)d] %(name)s: %(message)s"
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
LOG_FORMATS = ("text", "json")
_JOB_KEYS = ("job_id", "task", "queue", "attempt")


class JobFieldsFormatter(logging.Formatter):
    """Appends job fields a record carries but its message omits; redacts URLs."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        job: Any = getattr(record, "job", None)
        if isinstance(job, dict) and "job=" not in record.getMessage():
            shown = " ".join(f"{'job' if k == 'job_id' else k}={job[k]}" for k in _JOB_KEYS if k in job)
            first, newline, rest = text.partition("\n")
            text = f"{first} [{shown}]{newline}{rest}"
        return redact_text(text)


class CliLogHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever ``sys.stderr`` is at the time of each record."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass


def configure_logging(level: str, log_format: str = "text") -> None:
    """Send log records at ``level`` and above to stderr (replacing an earlier CLI
    handler), as readable lines or, with ``log_format="json"``, JSON objects."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, CliLogHandler)]:
        root.removeHandler(handler)
    handler = CliLogHandler()
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(JobFieldsFormatter(LOG_FORMAT, datefmt="%Y-%m-%d %H:%M:%S"))
    root.addHandler(handler)
    root.setLevel(level.upper())
