"""An app reached through a factory, not a module-level ``TasksApp`` (as the Celery shim's
``proj.celery:app.tasks_app`` is): ``lexigram-compat worker tests.cli.factory_app:make_app``
on the Dramatiq engine must still run its jobs (the worker program loads
``lexigram_compat.native_entry``). Configured from the environment by the test."""

from __future__ import annotations

import os
from pathlib import Path

from lexigram_compat import TaskRegistry, TasksApp, task

registry = TaskRegistry()


@task(name="factory.touch", registry=registry)
def touch(path: str) -> str:
    Path(path).write_text(f"ran in {os.getpid()}")
    return path


def make_app() -> TasksApp:
    namespace = os.environ["FACTORY_NAMESPACE"]
    section = {
        "engine": "dramatiq",
        "backend": {"type": "redis", "redis_url": os.environ["FACTORY_REDIS_URL"], "queue_name": namespace},
        "scheduler": {"enabled": False},
        "worker": {"worker_count": 1, "max_concurrent_tasks": 2},
        "extra": {"dramatiq": {"namespace": namespace}},
    }
    return TasksApp.from_dict({"tasks": section}, registry=registry)
