"""apply_async(countdown=1): the job starts no earlier than a second after the call."""

from celery import shared_task

from tests.celery_corpus.sink import record

M = __name__.rsplit(".", 1)[-1]


@shared_task
def later(tag):
    record(tag, "run")
    return "late"


def scenario():
    record(f"{M}/a", "sent")
    return {"a": later.apply_async((f"{M}/a",), countdown=1)}


EXPECT = {"a": ("SUCCESS", "late")}
ATTEMPTS = {"a": 1}
DELAYS = {"a": [(1.0, 1.0)]}
