"""The facade side of the interop tests: a TasksApp on the Celery engine whose
worker is ``celery -A tests.celery.facade_app:celery_app worker`` (configured
from ``FACADE_SECTION``)."""

from __future__ import annotations

import json
import os

from lexigram_compat import TasksApp

from .interop_tasks import registry

app = TasksApp.from_dict({"tasks": json.loads(os.environ["FACADE_SECTION"])}, environ={}, registry=registry)
celery_app = app.native
