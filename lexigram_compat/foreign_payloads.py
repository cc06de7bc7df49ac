"""Saying what an undecodable payload was, for its dead letter.

A lexigram job envelope (``{"v": ..., "id": ..., "task": ...}``) pushed raw onto
a Dramatiq or Celery queue is no message of theirs: Dramatiq fails on it with
``Message.__init__() got an unexpected keyword argument 'v'``, and Celery would
read it as a protocol-1 task message and run it, whatever its version. Every
engine's dead letter names the cause the same way instead:
``unknown envelope version 99`` (or, for a current envelope, that it is one).
"""

from __future__ import annotations

import json
from typing import Any

from lexigram_compat.envelope import ENVELOPE_VERSION

__all__ = ["describe_undecodable", "envelope_problem"]


def envelope_problem(body: Any, wire: str) -> str | None:
    """Why ``body`` (decoded JSON) is a lexigram envelope, not a ``wire`` message; None if it is not one."""
    if not isinstance(body, dict) or "v" not in body or "task" not in body:
        return None
    version = body["v"]
    if version != ENVELOPE_VERSION:
        return f"unknown envelope version {version!r} (a lexigram job envelope, not a {wire} message)"
    return f"a lexigram job envelope (version {version!r}) sent raw, not a {wire} message"


def describe_undecodable(raw: bytes | None, exc: BaseException, wire: str) -> str:
    """The cause for the dead letter of ``raw`` that failed to decode with ``exc``."""
    if raw is not None:
        try:
            found = envelope_problem(json.loads(raw), wire)
        except ValueError:
            found = None
        if found is not None:
            return found
    cause = exc.__cause__ or exc
    return f"{type(cause).__name__}: {cause}"
