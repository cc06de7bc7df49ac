"""The facade's tasks of the Celery interop tests (same names as the plain app's)."""

from __future__ import annotations

import json
import os
import signal
import time
from datetime import date

from lexigram_compat import Reject, TaskRegistry, scheduled, task

registry = TaskRegistry()


def _record(entry: dict[str, object]) -> None:
    with open(os.environ["FACADE_RECORD"], "a", encoding="utf-8") as out:
        out.write(json.dumps(entry) + "\n")


@task(name="interop.add", registry=registry)
def add(a: int, b: int) -> int:
    """The facade's declaration of the plain app's task (same name): enqueued here, run there."""
    return a + b


@task(name="interop.multiply", registry=registry)
async def multiply(a: int, b: int) -> int:
    _record({"task": "interop.multiply", "args": [a, b]})
    return a * b


@task(name="interop.days_until", registry=registry)
def days_until(start: date, end: date) -> int:
    """Typed arguments from plain JSON: ISO dates arrive as ``date``."""
    _record({"task": "interop.days_until", "types": [type(start).__name__, type(end).__name__]})
    return (end - start).days


@task(name="interop.rejects", registry=registry)
async def rejects(key: str) -> None:
    raise Reject(f"rejected: {key}")


@task(name="interop.held_once", registry=registry)
def held_once(marker: str) -> str:
    """Its first run waits for ``<marker>.go`` to exist (the test breaks the job's
    record meanwhile); later runs return at once."""
    first = not os.path.exists(marker)
    _record({"task": "interop.held_once", "first": first})
    if not first:
        return "stored"
    with open(marker, "w", encoding="utf-8"):
        pass
    while not os.path.exists(marker + ".go"):
        time.sleep(0.02)
    return "first"


@task(name="interop.kills_worker", registry=registry)
def kills_worker() -> None:
    """SIGKILLs the worker process running it, every time."""
    _record({"task": "interop.kills_worker"})
    os.kill(os.getpid(), signal.SIGKILL)


SCHEDULE = "interop.every_five_minutes"


@scheduled("*/5 * * * *", name=SCHEDULE, timezone="Europe/Berlin", registry=registry)
async def every_five_minutes() -> None:
    _record({"task": SCHEDULE})


@task(name="interop.always_fails", registry=registry)
def always_fails(key: str) -> None:
    """Fails every attempt: dead-lettered once its attempts are spent."""
    raise LookupError(f"no such key: {key}")
