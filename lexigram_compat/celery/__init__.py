"""Celery's API over lexigram-compat: swap ``from celery import ...`` for
``from lexigram_compat.celery import ...`` and existing task code runs on every engine.

See ``docs/engines/celery.md`` ("The Celery shim") for the option mapping: each
Celery option is translated to the neutral policy or refused with a message naming
it and the alternative.
"""

from __future__ import annotations

from lexigram_compat.celery import signals, states
from lexigram_compat.celery.app import Celery, current_app, shared_task
from lexigram_compat.celery.result import AsyncResult, EagerResult
from lexigram_compat.celery.task import Request, Signature, Task

signature = Signature

__all__ = [
    "AsyncResult",
    "Celery",
    "EagerResult",
    "Request",
    "Signature",
    "Task",
    "current_app",
    "shared_task",
    "signals",
    "signature",
    "states",
]
