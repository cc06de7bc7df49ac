"""ignore_result=True: the task runs, no result is kept."""

from celery import shared_task

from tests.celery_corpus.sink import record

M = __name__.rsplit(".", 1)[-1]


@shared_task(ignore_result=True)
def touch(tag, key):
    record(tag, "run", key=key)
    return f"touched {key}"


def scenario():
    return {"a": touch.delay(f"{M}/a", "k1")}


EXPECT = {"a": ("PENDING", None)}
ATTEMPTS = {"a": 1}
