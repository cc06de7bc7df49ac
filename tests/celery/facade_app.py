"""The facade side of the interop tests: a TasksApp on the Celery engine whose
worker is ``celery -A tests.celery.facade_app:celery_app worker`` (configured
from ``FACADE_SECTION``)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable

from lexigram_compat import TasksApp

from .interop_tasks import registry

app = TasksApp.from_dict({"tasks": json.loads(os.environ["FACADE_SECTION"])}, environ={}, registry=registry)
celery_app = app.native

if "FACADE_HOOKS" in os.environ:
    # Lifecycle hooks, recorded with the process that fired them (test_prefork.py).
    def _hook(point: str) -> Callable[..., None]:
        def record(*args: object) -> None:
            job = getattr(args[0], "job_id", None)
            entry = {"point": point, "pid": os.getpid(), "job": job}
            with open(os.environ["FACADE_HOOKS"], "a", encoding="utf-8") as out:
                out.write(json.dumps(entry) + "\n")

        return record

    for _point in ("worker_started", "attempt_started", "succeeded", "worker_stopped"):
        app.hooks.on(_point, _hook(_point))
