"""What an engine's own worker program imports when the app cannot be named by a module alone.

``lexigram-compat worker APP`` execs ``celery -A ... worker`` or ``dramatiq ...``. Those
programs take a module (Dramatiq) or a ``module:attribute`` (Celery), and the app must exist
once it is imported. That holds for ``myproj.jobs:app`` with ``app = TasksApp(...)`` at module
level, not for an app reached through an attribute path or built on first use: the Celery
shim's ``proj.celery:app.tasks_app``, or a factory function. For those the CLI points the
program here and passes ``APP`` in :data:`~lexigram_compat.engine_contract.APP_SPEC_ENV`;
importing this module builds the app exactly as the CLI loads it (the same checks and errors)
and exposes its engine's native app (``celery_app``) for ``celery -A``.
"""

from __future__ import annotations

import os
from typing import Any

from lexigram_compat.cli.loading import load_app
from lexigram_compat.engine_contract import APP_SPEC_ENV
from lexigram_compat.errors import ConfigurationError

__all__ = ["app", "celery_app"]

_spec = os.environ.get(APP_SPEC_ENV)
if not _spec:
    raise ConfigurationError(
        f"{__name__} builds the app named by ${APP_SPEC_ENV}, which is not set",
        hint="start the engine's worker with `lexigram-compat worker APP`, which sets it",
    )
app = load_app(_spec)
celery_app: Any = app.native
"""The Celery app of an app on the Celery engine (``celery -A lexigram_compat.native_entry:celery_app``)."""
