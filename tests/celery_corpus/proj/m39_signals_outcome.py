"""task_success and task_failure handlers (filtered by the sender's name)."""

from celery import shared_task
from celery.signals import task_failure, task_success

from tests.celery_corpus.sink import record

M = __name__.rsplit(".", 1)[-1]
NAME = f"proj.{M}.judged"


@shared_task
def judged(tag, ok):
    record(tag, "run")
    if not ok:
        raise ArithmeticError("judged wrong")
    return "fine"


@task_success.connect
def on_success(sender=None, result=None, **extra):
    if getattr(sender, "name", None) == NAME:
        record(f"{M}/ok", "success", result=result)


@task_failure.connect
def on_failure(sender=None, task_id=None, exception=None, args=None, **extra):
    if getattr(sender, "name", None) == NAME:
        record(args[0], "failure", exception=type(exception).__name__, message=str(exception))


def scenario():
    return {"ok": judged.delay(f"{M}/ok", True), "bad": judged.delay(f"{M}/bad", False)}


EXPECT = {"ok": ("SUCCESS", "fine"), "bad": ("FAILURE", ["ArithmeticError", "judged wrong"])}
ATTEMPTS = {"ok": 1, "bad": 1}
