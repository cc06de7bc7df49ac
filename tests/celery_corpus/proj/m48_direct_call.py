"""Calling a task object directly (in-process, not enqueued) from inside another task."""

from celery import shared_task

from tests.celery_corpus.sink import record

M = __name__.rsplit(".", 1)[-1]


@shared_task
def normalise(tag, text):
    record(tag, "normalise")
    return text.strip().lower()


@shared_task
def ingest(tag, text):
    record(tag, "run")
    return {"clean": normalise(tag, text)}


def scenario():
    return {"a": ingest.delay(f"{M}/a", "  Hello ")}


EXPECT = {"a": ("SUCCESS", {"clean": "hello"})}
ATTEMPTS = {"a": 1}
