"""retry_backoff=2 (a factor in seconds), no jitter: countdown 2 s after the first failure."""

from celery import shared_task

from tests.celery_corpus.sink import record

M = __name__.rsplit(".", 1)[-1]


@shared_task(autoretry_for=(RuntimeError,), retry_backoff=2, retry_jitter=False, max_retries=1)
def factor_two(tag):
    record(tag, "run")
    raise RuntimeError("nope")


def scenario():
    return {"a": factor_two.delay(f"{M}/a")}


EXPECT = {"a": ("FAILURE", ["RuntimeError", "nope"])}
ATTEMPTS = {"a": 2}
DELAYS = {"a": [(2.0, 2.0)]}
