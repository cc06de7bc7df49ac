"""A plain Celery app, as an existing deployment has it: no lexigram_compat import.

Configured from the environment by the interop tests (broker URL, queue, kombu
transport options, and a result backend when ``PLAIN_RESULT_BACKEND`` is set);
each task appends what it received to ``PLAIN_RECORD``.
"""

from __future__ import annotations

import json
import os
from typing import Any

from celery import Celery, Task

app = Celery("plain", broker=os.environ["PLAIN_BROKER_URL"])
app.conf.update(
    task_default_queue=os.environ["PLAIN_QUEUE"],
    broker_transport_options=json.loads(os.environ.get("PLAIN_TRANSPORT", "{}")),
    task_acks_late=True,
    worker_hijack_root_logger=False,
    worker_enable_remote_control=False,
)
if "PLAIN_RESULT_BACKEND" in os.environ:
    app.conf.update(
        result_backend=os.environ["PLAIN_RESULT_BACKEND"],
        result_backend_transport_options=json.loads(os.environ.get("PLAIN_RESULT_OPTIONS", "{}")),
    )


def _record(entry: dict[str, Any]) -> None:
    with open(os.environ["PLAIN_RECORD"], "a", encoding="utf-8") as out:
        out.write(json.dumps(entry) + "\n")


@app.task(name="interop.add", bind=True)  # type: ignore[untyped-decorator]
def add(self: Task, a: int, b: int) -> int:
    _record({"task": self.name, "id": self.request.id, "args": [a, b], "kwargs": {}})
    return a + b


@app.task(name="interop.multiply")  # type: ignore[untyped-decorator]
def multiply(a: int, b: int) -> int:
    """Declared here only so plain code can call ``multiply.delay``: the facade's worker runs it."""
    raise RuntimeError("plain workers do not run interop.multiply in these tests")
