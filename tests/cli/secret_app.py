"""An app whose ``tasks:`` section comes from the environment, for the redaction tests.

``LEXIGRAM_SECRET_SECTION`` holds the section as JSON (a DSN or URL with a
password in it). ``secret_driver`` re-imports this module for every command, so
each one builds its app from the section in force at the time.
"""

from __future__ import annotations

import json
import os
from typing import Any

from lexigram_compat import TaskRegistry, TasksApp, task

SECTION_ENV = "LEXIGRAM_SECRET_SECTION"

registry = TaskRegistry()


@task(name="secret.add", registry=registry)
async def add(x: int, y: int) -> int:
    return x + y


app = TasksApp.from_dict({"tasks": json.loads(os.environ.get(SECTION_ENV, "{}"))}, registry=registry)
celery_app: Any = app.native  # what `celery worker` needs when the engine is celery
