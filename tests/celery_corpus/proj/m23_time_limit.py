"""time_limit=1 on a task that sleeps 3 s: the attempt fails at the limit, no retry."""

import time

from tests.celery_corpus.sink import record

from .celery import app

M = __name__.rsplit(".", 1)[-1]


@app.task(time_limit=1)
def slow_export(tag):
    record(tag, "run")
    time.sleep(3)
    record(tag, "slept")
    return "exported"


def scenario():
    return {"a": slow_export.delay(f"{M}/a")}


EXPECT = {"a": ("FAILURE", ["TimeLimitExceeded", "TimeLimitExceeded(1,)"])}
ATTEMPTS = {"a": 1}
