"""before_task_publish / after_task_publish in the publishing process: custom headers seen.
The publish events go under their own tag: the worker may run the task before the
publisher's after_task_publish handler returns."""

from celery import shared_task
from celery.signals import after_task_publish, before_task_publish

from tests.celery_corpus.sink import record

M = __name__.rsplit(".", 1)[-1]
NAME = f"proj.{M}.published"


@shared_task
def published(tag):
    record(tag, "run")
    return "ok"


@before_task_publish.connect
def stamp(sender=None, headers=None, body=None, routing_key=None, **extra):
    if sender == NAME:
        record(
            f"{body[0][0]}-publish",
            "before",
            trace=headers.get("trace"),
            queue=routing_key,
            has_id=bool(headers.get("id")),
        )


@after_task_publish.connect
def sent(sender=None, headers=None, body=None, **extra):
    if sender == NAME:
        record(f"{body[0][0]}-publish", "after")


def scenario():
    return {"a": published.apply_async((f"{M}/a",), headers={"trace": "t-1"})}


EXPECT = {"a": ("SUCCESS", "ok")}
ATTEMPTS = {"a": 1}
