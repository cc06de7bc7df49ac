"""@shared_task (no app import), called with apply_async(kwargs=)."""

from celery import shared_task

from tests.celery_corpus.sink import record

M = __name__.rsplit(".", 1)[-1]


@shared_task
def multiply(tag, x, y=1):
    record(tag, "run", x=x, y=y)
    return x * y


def scenario():
    return {"a": multiply.apply_async(kwargs={"tag": f"{M}/a", "x": 4, "y": 5})}


EXPECT = {"a": ("SUCCESS", 20)}
ATTEMPTS = {"a": 1}
