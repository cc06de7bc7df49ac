"""soft_time_limit=1, time_limit=5: the task catches SoftTimeLimitExceeded and cleans up."""

import time

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded

from tests.celery_corpus.sink import record

M = __name__.rsplit(".", 1)[-1]


@shared_task(soft_time_limit=1, time_limit=5)
def long_import(tag):
    record(tag, "run")
    try:
        time.sleep(3)
    except SoftTimeLimitExceeded:
        record(tag, "soft-limit")
        return "partial"
    return "complete"


def scenario():
    return {"a": long_import.delay(f"{M}/a")}


EXPECT = {"a": ("SUCCESS", "partial")}
ATTEMPTS = {"a": 1}
