"""retry_backoff=True with the default full jitter, capped by retry_backoff_max=2:
each countdown is a whole number of seconds in 0..min(2, 2**retries)."""

from tests.celery_corpus.sink import record

from .celery import app

M = __name__.rsplit(".", 1)[-1]


@app.task(autoretry_for=(ConnectionError,), retry_backoff=True, retry_backoff_max=2, max_retries=3)
def jittered(tag):
    record(tag, "run")
    raise ConnectionError("always")


def scenario():
    return {"a": jittered.delay(f"{M}/a")}


EXPECT = {"a": ("FAILURE", ["ConnectionError", "always"])}
ATTEMPTS = {"a": 4}
DELAYS = {"a": [(0.0, 1.0), (0.0, 2.0), (0.0, 2.0)]}
