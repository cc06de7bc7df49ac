"""retry_backoff with retry_kwargs={"max_retries": 1}: backoff wins over the countdown key."""

from celery import shared_task

from tests.celery_corpus.sink import record

M = __name__.rsplit(".", 1)[-1]


@shared_task(
    autoretry_for=(ConnectionError,), retry_backoff=True, retry_jitter=False, retry_kwargs={"max_retries": 1}
)
def once_more(tag):
    record(tag, "run")
    raise ConnectionError("down")


def scenario():
    return {"a": once_more.delay(f"{M}/a")}


EXPECT = {"a": ("FAILURE", ["ConnectionError", "down"])}
ATTEMPTS = {"a": 2}
DELAYS = {"a": [(1.0, 1.0)]}
