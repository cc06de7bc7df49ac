"""The worker entry point of the shim runs: the materialised ``proj`` (imports
swapped, or converted by the codemod) with every corpus module imported, as the
lexigram app its engine's native worker runs (``lexigram-compat worker ...:app``,
``dramatiq ...``, ``celery -A ...:celery_app worker``)."""

from __future__ import annotations

import importlib
import os
from typing import Any

from lexigram_compat.celery import Celery

corpus_app = importlib.import_module("proj.celery").app
if not isinstance(corpus_app, Celery):
    raise RuntimeError(f"proj.celery.app is {corpus_app!r}: the project was not materialised for the shim")
for _name in os.environ["CORPUS_MODULES"].split(","):
    importlib.import_module(f"proj.{_name}")

app = corpus_app.tasks_app
celery_app: Any = app.native
