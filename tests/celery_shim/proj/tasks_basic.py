"""Plain tasks: ``@app.task``, ``@shared_task``, an explicit name."""

from lexigram_compat.celery import shared_task

from .celery_app import app


@app.task
def add(x, y):
    return x + y


@shared_task
def mul(x: int, y: int) -> int:
    return x * y


@app.task(name="shim.explicit_name")
def describe(label: str, *, tags: list[str] | None = None) -> dict:
    return {"label": label, "tags": tags or []}
