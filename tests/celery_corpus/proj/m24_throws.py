"""throws=(KeyError,): an expected error fails the job once, like any failure."""

from celery import shared_task

from tests.celery_corpus.sink import record

M = __name__.rsplit(".", 1)[-1]


@shared_task(throws=(KeyError,))
def lookup(tag, key):
    record(tag, "run", key=key)
    return {"known": 1}[key]


def scenario():
    return {"hit": lookup.delay(f"{M}/hit", "known"), "miss": lookup.delay(f"{M}/miss", "unknown")}


EXPECT = {"hit": ("SUCCESS", 1), "miss": ("FAILURE", ["KeyError", "'unknown'"])}
ATTEMPTS = {"hit": 1, "miss": 1}
