"""The Celery-style task modules of ``tests/celery_shim`` (written against
``lexigram_compat.celery``), declared in every conformance app, so each engine's
native worker runs them unchanged."""

from __future__ import annotations

from lexigram_compat import TaskRegistry
from lexigram_compat.celery import Celery
from tests.celery_shim.proj import (  # noqa: F401 - imported to declare their tasks
    tasks_autoretry,
    tasks_base,
    tasks_basic,
    tasks_bound,
    tasks_calls,
    tasks_limits,
    tasks_options,
    tasks_stacked,
)
from tests.celery_shim.proj.celery_app import app as shim_app

__all__ = ["shim_app", "shim_registry"]

assert isinstance(shim_app, Celery)


def shim_registry() -> TaskRegistry:
    """The registry the Celery-style tasks are declared in."""
    return shim_app.registry
