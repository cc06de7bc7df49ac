"""JSON log lines: one object per line, the same fields under every engine's worker.

A job event's line carries ``job_id``, ``task``, ``queue``, ``attempt``,
``engine`` and, for an attempt's end, ``outcome``, ``duration`` and (failed
attempts) ``error_type`` and ``error``. Job arguments are never logged. Every
string passes through :func:`~lexigram_compat.config.redact_text`, so a URL
password in a message or an error is printed as ``***``.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import UTC, datetime
from typing import Any

from lexigram_compat.config import redact_text

__all__ = ["LOG_FORMAT_ENV", "JsonFormatter", "json_wanted", "use_json_logs"]

LOG_FORMAT_ENV = "LEXIGRAM_LOG_FORMAT"
_JOB_FIELDS = ("job_id", "task", "queue", "attempt", "engine", "duration", "delay", "error_type", "error")
_OUTCOMES = {"succeeded", "retried", "dead_lettered"}


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object (no newline inside)."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "pid": record.process,
            "message": redact_text(record.getMessage()),
        }
        job: Any = getattr(record, "job", None)
        if isinstance(job, dict):
            event = job.get("event")
            if event is not None:
                data["event"] = event
                if event in _OUTCOMES:
                    data["outcome"] = event
            for key in _JOB_FIELDS:
                value = job.get(key)
                if value is not None:
                    data[key] = redact_text(value) if isinstance(value, str) else value
        if record.exc_info:
            data["exception"] = redact_text(self.formatException(record.exc_info))
        return json.dumps(data, default=str, ensure_ascii=False)


def json_wanted(configured: str = "text") -> bool:
    """True when ``$LEXIGRAM_LOG_FORMAT`` (or, without it, ``configured``) is ``json``."""
    return (os.environ.get(LOG_FORMAT_ENV) or configured).strip().lower() == "json"


def use_json_logs(level: int | str | None = None) -> None:
    """Format every root handler's records as JSON (adding a stderr handler when
    there is none), and let ``lexigram_compat`` job lines through at INFO."""
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.StreamHandler(sys.stderr))
    for handler in root.handlers:
        handler.setFormatter(JsonFormatter())
    if level is not None:
        root.setLevel(level)
    jobs = logging.getLogger("lexigram_compat")
    if jobs.getEffectiveLevel() > logging.INFO:
        jobs.setLevel(logging.INFO)
